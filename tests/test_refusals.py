"""Malformed worker command lines and helper-injection attempts: refused in one line, nothing executed, no app code.

Every input below goes through the runtime's refusal path in this process: ``classify()`` and ``dispatch()``, as
oxmp's runtime hook calls them first thing in a bundle, with the process's exit stubbed. Real bundles, onedir and
onefile, add what only a frozen process shows: the refusal happens there, before the app's code, with exit status 2
and one line on stderr. They run one input of each kind (a malformed worker command line, a worker pipe that is not
an open pipe, a helper command with code in it): every input of a kind takes the same path from ``classify()`` on.
"""

import os
import sys

import pytest

from _oxmp_runtime import boot, commands
from tests import bundles

FLAGS = ["-B", "-S", "-I"]  # what multiprocessing passes to a bundle's helpers (PyInstaller's interpreter flags)


def assert_refused(result):
    assert result.returncode == 2, result
    assert not result.timed_out and not result.bombed, result
    assert "MAIN-BLOCK" not in result.stdout and "MODULE-LEVEL" not in result.stderr, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("oxmp: refusing to start: "), result
    assert "Traceback" not in result.stderr


class Exited(Exception):
    """Raised instead of ``os._exit(status)``."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


def exit_stub(status):
    raise Exited(status)


def refuse_in_process(args, monkeypatch, capsys):
    """What oxmp's runtime hook does with the command line ``bundle ARGS``, in this process: the command it reads,
    and the exit status and stderr of its refusal (``os._exit`` stubbed). Nothing of a command it accepted is run."""
    command = commands.classify([sys.executable] + list(args))
    assert command.kind == "refused", command
    capsys.readouterr()
    monkeypatch.setattr(os, "_exit", exit_stub)
    with pytest.raises(Exited) as exited:
        boot.dispatch(command)
    captured = capsys.readouterr()
    return command, exited.value.status, captured.err


def assert_refused_in_process(args, monkeypatch, capsys):
    command, status, stderr = refuse_in_process(args, monkeypatch, capsys)
    assert status == boot.REFUSED_EXIT == 2
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0] == "oxmp: refusing to start: " + command.reason, stderr
    return command


MALFORMED_WORKER_ARGUMENTS = [
    [],
    ["pipe_handle=abc"],
    ["pipe_handle=7", "tracker_fd=x"],
    ["pipe_handle=3", "evil=1"],
    ["pipe_handle=3", "pipe_handle=4"],
    ["pipe_handle"],
    ["tracker_fd=5"],
]


def worker_ids(args):
    return " ".join(args) or "no-args"


@pytest.mark.parametrize("args", MALFORMED_WORKER_ARGUMENTS, ids=worker_ids)
def test_malformed_worker_arguments_are_refused(monkeypatch, capsys, args):
    assert_refused_in_process(["--multiprocessing-fork"] + args, monkeypatch, capsys)


@pytest.mark.bundle
@pytest.mark.parametrize("args", [["pipe_handle=abc"]], ids=worker_ids)
def test_malformed_worker_arguments(matrix, run, args):
    # A worker that waited for a pickle on stdin would be stopped by the time limit instead (assert_refused).
    assert_refused(run(matrix, "--multiprocessing-fork", *args, timeout=10))


@pytest.mark.skipif(sys.platform == "win32", reason="file descriptors are POSIX")
@pytest.mark.parametrize("fd", ["0", "1"], ids=["stdin-not-a-pipe", "stdout-not-a-pipe"])
def test_worker_pipe_that_is_a_standard_stream(monkeypatch, capsys, fd):
    # In a bundle, stdin is /dev/null and stdout a file: reading a pickle from them would fail or hang.
    command = assert_refused_in_process(["--multiprocessing-fork", "pipe_handle=" + fd], monkeypatch, capsys)
    assert "is not a descriptor a parent hands over" in command.reason


@pytest.mark.bundle
@pytest.mark.skipif(sys.platform == "win32", reason="file descriptors are POSIX")
@pytest.mark.parametrize("fd", ["99"], ids=["closed"])
def test_worker_pipe_that_is_not_an_open_pipe(matrix, run, fd):
    # Accepted by classify(), refused by the descriptor check in the bundle (test_hardening.py: the other kinds).
    assert_refused(run(matrix, "--multiprocessing-fork", "pipe_handle=" + fd, timeout=10))


INJECTIONS = {
    "tracker-then-code": "from multiprocessing.resource_tracker import main;main(0); open('PWNED', 'w')",
    "code-in-argument": "from multiprocessing.resource_tracker import main;main(open('PWNED', 'w').fileno())",
    "forkserver-extra-statement": (
        "from multiprocessing.forkserver import main; main(3, 4, [], **{}); open('PWNED', 'w')"
    ),
    "forkserver-prefix-only": "import sys; from multiprocessing.forkserver import main; open('PWNED', 'w')",
    "other-function": "from multiprocessing.util import spawnv_passfds; spawnv_passfds('/bin/sh', ['sh'], [])",
    "dunder-in-dict": "from multiprocessing.forkserver import main; main(3, 4, [], **{'x': __import__('os')})",
    "wrong-types": "from multiprocessing.resource_tracker import main;main('PWNED')",
    "not-python": "from multiprocessing.resource_tracker import main;main(",
}


@pytest.mark.parametrize("code", sorted(INJECTIONS))
def test_helper_injection_is_refused_before_anything_runs(monkeypatch, capsys, tmp_path, code):
    monkeypatch.chdir(tmp_path)
    assert_refused_in_process(FLAGS + ["-c", INJECTIONS[code]], monkeypatch, capsys)
    assert not os.path.exists(os.path.join(str(tmp_path), "PWNED"))


@pytest.mark.bundle
@pytest.mark.parametrize("code", ["tracker-then-code"])
def test_helper_injection_is_refused_and_nothing_runs(matrix, run, bundle_root, code):
    cwd = bundles.scratch_dir(bundle_root)
    result = run(matrix, *FLAGS, "-c", INJECTIONS[code], cwd=cwd, timeout=10)
    assert_refused(result)
    assert not os.path.exists(os.path.join(cwd, "PWNED"))


@pytest.mark.bundle
def test_an_apps_own_dash_c_argument_is_the_apps(matrix, run):
    # `app -c config.ini` is an ordinary app command line: oxmp leaves it to the app (whose argparse rejects it).
    result = run(matrix, "-c", "config.ini", timeout=10)
    assert "oxmp" not in result.stderr
    assert "MODULE-LEVEL __main__" in result.stderr
