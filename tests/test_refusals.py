"""Malformed worker command lines and helper-injection attempts: refused in one line, nothing executed, no app code."""

import os
import sys

import pytest

from tests import bundles

pytestmark = pytest.mark.bundle

FLAGS = ["-B", "-S", "-I"]  # what multiprocessing passes to a bundle's helpers (PyInstaller's interpreter flags)

def assert_refused(result):
    assert result.returncode == 2, result
    assert not result.timed_out
    assert "MAIN-BLOCK" not in result.stdout and "MODULE-LEVEL" not in result.stderr, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("oxmp: refusing to start: "), result
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [
    [],
    ["pipe_handle=abc"],
    ["pipe_handle=7", "tracker_fd=x"],
    ["pipe_handle=3", "evil=1"],
    ["pipe_handle=3", "pipe_handle=4"],
    ["pipe_handle"],
    ["tracker_fd=5"],
], ids=lambda args: " ".join(args) or "no-args")
def test_malformed_worker_arguments(matrix, run, args):
    # A worker that waited for a pickle on stdin would be stopped by the time limit instead (assert_refused).
    assert_refused(run(matrix, "--multiprocessing-fork", *args, timeout=10))


@pytest.mark.skipif(sys.platform == "win32", reason="file descriptors are POSIX")
@pytest.mark.parametrize("fd", ["99", "0", "1"], ids=["closed", "stdin-not-a-pipe", "stdout-not-a-pipe"])
def test_worker_pipe_that_is_not_an_open_pipe(matrix, run, fd):
    # stdin is /dev/null and stdout a file here: reading a pickle from them would fail or hang.
    assert_refused(run(matrix, "--multiprocessing-fork", "pipe_handle=" + fd, timeout=10))


INJECTIONS = {
    "tracker-then-code": "from multiprocessing.resource_tracker import main;main(0); open('PWNED', 'w')",
    "code-in-argument": "from multiprocessing.resource_tracker import main;main(open('PWNED', 'w').fileno())",
    "forkserver-extra-statement":
        "from multiprocessing.forkserver import main; main(3, 4, [], **{}); open('PWNED', 'w')",
    "forkserver-prefix-only": "import sys; from multiprocessing.forkserver import main; open('PWNED', 'w')",
    "other-function": "from multiprocessing.util import spawnv_passfds; spawnv_passfds('/bin/sh', ['sh'], [])",
    "dunder-in-dict": "from multiprocessing.forkserver import main; main(3, 4, [], **{'x': __import__('os')})",
    "wrong-types": "from multiprocessing.resource_tracker import main;main('PWNED')",
    "not-python": "from multiprocessing.resource_tracker import main;main(",
}


@pytest.mark.parametrize("code", sorted(INJECTIONS))
def test_helper_injection_is_refused_and_nothing_runs(matrix, run, bundle_root, code):
    cwd = bundles.scratch_dir(bundle_root)
    result = run(matrix, *FLAGS, "-c", INJECTIONS[code], cwd=cwd, timeout=10)
    assert_refused(result)
    assert not os.path.exists(os.path.join(cwd, "PWNED"))


def test_an_apps_own_dash_c_argument_is_the_apps(matrix, run):
    # `app -c config.ini` is an ordinary app command line: oxmp leaves it to the app (whose argparse rejects it).
    result = run(matrix, "-c", "config.ini", timeout=10)
    assert "oxmp" not in result.stderr
    assert "MODULE-LEVEL __main__" in result.stderr
