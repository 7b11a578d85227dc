"""Unit tests of the runtime's decisions that are not the command-line table: the doctor's gate, keyword checks,
messages without a stderr, the marking of multiprocess's workers, descriptors."""

import io
import os
import socket
import sys

import pytest

from _oxmp_runtime import boot, commands, descriptors, libraries, messages

POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="file descriptors and owners are POSIX")
TOKEN = "0123456789abcdef" * 2


# --- The doctor's gate ----------------------------------------------------------------------------------------------

@pytest.fixture
def gate(tmp_path, monkeypatch):
    """A folder with a gate file holding TOKEN, and the variable naming both."""
    (tmp_path / boot.DOCTOR_GATE).write_text(TOKEN)
    monkeypatch.setenv(boot.DOCTOR_ENV, "%s:%s" % (TOKEN, tmp_path))
    return tmp_path


def test_the_doctors_gate_opens_for_its_token(gate):
    assert boot.doctor_requested()
    assert boot.doctor_folder() == str(gate)


@pytest.mark.parametrize("value", ["", "x", TOKEN, TOKEN + ":", TOKEN[:-1] + ":/tmp", "%s:relative/folder" % TOKEN,
                                   "f" * 32 + ":{folder}", "%s:{folder}/missing" % TOKEN])
def test_the_doctors_gate_stays_shut(gate, monkeypatch, value):
    monkeypatch.setenv(boot.DOCTOR_ENV, value.format(folder=gate))
    assert not boot.doctor_requested()


@POSIX_ONLY
def test_the_gate_is_no_link(gate, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "token"
    elsewhere.write_text(TOKEN)
    os.remove(str(gate / boot.DOCTOR_GATE))
    os.symlink(str(elsewhere), str(gate / boot.DOCTOR_GATE))
    assert not boot.doctor_requested()


@POSIX_ONLY
def test_the_gate_is_the_users_own(gate, monkeypatch):
    monkeypatch.setattr(os, "getuid", lambda: os.stat(str(gate)).st_uid + 1)
    assert not boot.doctor_requested()


# --- Keywords, messages, marks --------------------------------------------------------------------------------------

def test_keywords_are_checked_against_this_pythons_function():
    def main(listener_fd, alive_r, preload, main_path=None, sys_path=None, *, sys_argv=None):
        pass

    assert boot.unexpected_keywords(main, {"main_path": "/m/app.py", "sys_argv": []}) is None
    assert "takes no keyword authkey_r" in boot.unexpected_keywords(main, {"authkey_r": 5})
    assert boot.unexpected_keywords(lambda **anything: None, {"authkey_r": 5}) is None
    assert boot.unexpected_keywords(len, {"x": 1}) is None  # no code object: left to the call


def test_say_without_a_stderr(monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)
    messages.say("nowhere to go")  # a windowed app: nothing said, nothing raised
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    messages.say("nowhere either")


def test_say_writes_one_line(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    messages.say("refusing to start: x")
    assert stream.getvalue() == "oxmp: refusing to start: x\n"


def test_multiprocess_workers_are_marked_and_classified_for_it():
    def get_command_line(**kwds):
        return ["/app", commands.WORKER_FLAG] + ["%s=%r" % item for item in kwds.items()]

    marked = boot.mark_workers(get_command_line, "multiprocess")(tracker_fd=5, pipe_handle=7)
    assert marked == ["/app", "--multiprocessing-fork", "tracker_fd=5", "pipe_handle=7", "library=multiprocess"]
    command = commands.classify(marked, platform="linux")
    assert (command.kind, command.module, command.kwargs) == ("worker", "multiprocess.spawn",
                                                             {"tracker_fd": 5, "pipe_handle": 7})
    # The non-frozen form names its module already, and is left alone.
    code = ["/python", "-c", "from multiprocess.spawn import spawn_main; spawn_main()", "--multiprocessing-fork"]
    assert boot.mark_workers(lambda **kwds: code, "multiprocess")() == code


def test_every_library_has_a_spawn_module_and_a_launcher():
    import importlib

    for library in libraries.LIBRARIES:
        try:
            spawn = importlib.import_module(library.module("spawn"))
        except ImportError:
            continue  # not installed here
        assert callable(spawn.spawn_main) and hasattr(spawn, "_fixup_main_from_path")
        module, attribute = library.launcher
        assert callable(getattr(importlib.import_module(module), attribute))


# --- Descriptors ----------------------------------------------------------------------------------------------------

@POSIX_ONLY
def test_descriptor_kinds():
    read_end, write_end = os.pipe()
    listener = socket.socket(socket.AF_UNIX)
    try:
        assert descriptors.problem("a", read_end, commands.PIPE_READ) is None
        assert descriptors.problem("a", write_end, commands.PIPE_WRITE) is None
        assert "is not the read end of a pipe" in descriptors.problem("a", write_end, commands.PIPE_READ)
        assert "is not the write end of a pipe" in descriptors.problem("a", read_end, commands.PIPE_WRITE)
        assert "is not a listening Unix socket" in descriptors.problem("a", read_end, commands.LISTENER)
        assert "is not a pipe" in descriptors.problem("a", listener.fileno(), commands.PIPE_READ)
        assert "is not a listening Unix socket" in descriptors.problem("a", listener.fileno(), commands.LISTENER)
        assert "is not an open file descriptor" in descriptors.problem("a", 2 ** 20, commands.PIPE_READ)
        os.fstat(listener.fileno())  # still open: looked at, not taken
    finally:
        for fd in (read_end, write_end):
            os.close(fd)
        listener.close()


@POSIX_ONLY
@pytest.mark.parametrize("name, accepted", [
    ("listener-a1b2c3d4", True),  # CPython 3.8-3.12 and early 3.13 releases, billiard
    ("sock-a1b2c3d4", True),  # CPython 3.14+ and later 3.13 releases (gh-132124), multiprocess's copy of 3.13
    ("app.sock", False),  # someone else's listening socket: a service manager's, say
])
def test_the_forkservers_listener_is_known_by_its_name(tmp_path, name, accepted):
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(str(tmp_path / name))
        listener.listen()
        assert (descriptors.problem("a", listener.fileno(), commands.LISTENER) is None) == accepted
    finally:
        listener.close()


# --- A worker running the entry script ------------------------------------------------------------------------------

ENTRY_SCRIPT = """
def target():
    return "defined before freeze_support()"

import multiprocessing
multiprocessing.freeze_support()
raise SystemExit("a worker ran the script past freeze_support()")
"""


@pytest.fixture
def worker_main(monkeypatch):
    """A process's __main__ as a worker has it before spawn runs the entry script (no loader), restored after."""
    import types

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    monkeypatch.delitem(sys.modules, "__mp_main__", raising=False)


@pytest.mark.parametrize("calls", ["multiprocessing.freeze_support", "spawn.freeze_support"])
def test_a_worker_stops_the_entry_script_at_freeze_support(tmp_path, monkeypatch, worker_main, calls):
    import multiprocessing
    import multiprocessing.spawn
    import types

    from _oxmp_runtime import pyinstaller

    script = tmp_path / "app.py"
    script.write_text(ENTRY_SCRIPT.replace("multiprocessing.freeze_support()", calls.replace(
        "spawn.", "multiprocessing.spawn.") + "()").replace("import multiprocessing", "import multiprocessing.spawn"))
    spawn = types.SimpleNamespace(_fixup_main_from_path=multiprocessing.spawn._fixup_main_from_path)
    monkeypatch.setattr(multiprocessing, "freeze_support", boot.freeze_support)  # as prepare() sets them
    monkeypatch.setattr(multiprocessing.spawn, "freeze_support", boot.freeze_support)
    monkeypatch.setattr(multiprocessing.spawn, "old_main_modules", [])
    pyinstaller.run_entry_script_like_stock_workers(spawn, [str(script)])

    spawn._fixup_main_from_path(str(script))  # CPython's, through oxmp's wrapper: what prepare() calls
    main = sys.modules["__main__"]
    assert main is sys.modules["__mp_main__"] and main.__name__ == "__mp_main__"
    assert main.target() == "defined before freeze_support()"
    assert not pyinstaller.running_entry_script()


def test_another_script_runs_whole(tmp_path, monkeypatch, worker_main):
    import multiprocessing.spawn
    import types

    from _oxmp_runtime import pyinstaller

    script = tmp_path / "other.py"
    script.write_text(ENTRY_SCRIPT)
    spawn = types.SimpleNamespace(_fixup_main_from_path=multiprocessing.spawn._fixup_main_from_path)
    monkeypatch.setattr(multiprocessing.spawn, "old_main_modules", [])
    pyinstaller.run_entry_script_like_stock_workers(spawn, [str(tmp_path / "app.py")])
    with pytest.raises(SystemExit):  # not an entry script of the bundle: CPython's behaviour, untouched
        spawn._fixup_main_from_path(str(script))


def test_freeze_support_in_the_app_is_harmless(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["app", "--verbose"])
    assert boot.freeze_support() is None
