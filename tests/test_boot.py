"""Unit tests of the runtime's decisions that are not the command-line table: the doctor's gate, keyword checks,
messages without a stderr, the marking of multiprocess's workers, descriptors."""

import io
import os
import socket
import sys

import pytest

from _oxmp_runtime import boot, commands, descriptors, doctor, libraries, messages

POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="file descriptors and owners are POSIX")
TOKEN = "0123456789abcdef" * 2


# --- The doctor's gate ----------------------------------------------------------------------------------------------


@pytest.fixture
def gate(tmp_path, monkeypatch):
    """A folder with a gate file holding TOKEN, and the variable naming both."""
    (tmp_path / doctor.DOCTOR_GATE).write_text(TOKEN)
    monkeypatch.setenv(doctor.DOCTOR_ENV, "%s:%s" % (TOKEN, tmp_path))
    return tmp_path


def test_the_doctors_gate_opens_for_its_token(gate):
    assert doctor.requested()
    assert doctor.folder() == str(gate)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x",
        TOKEN,
        TOKEN + ":",
        TOKEN[:-1] + ":/tmp",
        "%s:relative/folder" % TOKEN,
        "f" * 32 + ":{folder}",
        "%s:{folder}/missing" % TOKEN,
    ],
)
def test_the_doctors_gate_stays_shut(gate, monkeypatch, value):
    monkeypatch.setenv(doctor.DOCTOR_ENV, value.format(folder=gate))
    assert not doctor.requested()


@POSIX_ONLY
def test_the_gate_is_no_link(gate, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "token"
    elsewhere.write_text(TOKEN)
    os.remove(str(gate / doctor.DOCTOR_GATE))
    os.symlink(str(elsewhere), str(gate / doctor.DOCTOR_GATE))
    assert not doctor.requested()


@POSIX_ONLY
def test_the_gate_is_the_users_own(gate, monkeypatch):
    monkeypatch.setattr(os, "getuid", lambda: os.stat(str(gate)).st_uid + 1)
    assert not doctor.requested()


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
    assert (command.kind, command.module, command.kwargs) == (
        "worker",
        "multiprocess.spawn",
        {"tracker_fd": 5, "pipe_handle": 7},
    )
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
        assert "is not an open file descriptor" in descriptors.problem("a", 2**20, commands.PIPE_READ)
        os.fstat(listener.fileno())  # still open: looked at, not taken
    finally:
        for fd in (read_end, write_end):
            os.close(fd)
        listener.close()


@POSIX_ONLY
@pytest.mark.parametrize(
    "name, accepted",
    [
        ("listener-a1b2c3d4", True),  # CPython 3.8-3.12 and early 3.13 releases, billiard
        ("sock-a1b2c3d4", True),  # CPython 3.14+ and later 3.13 releases (gh-132124), multiprocess's copy of 3.13
        ("app.sock", False),  # someone else's listening socket: a service manager's, say
    ],
)
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


def bundled_entry_script(folder, text, name="app"):
    """An entry script as a bundle at ``folder`` holds it: its code where the build hook writes it; its main path
    (the bootloader's ``__main__.__file__``) names a file that does not exist."""
    from _oxmp_runtime import entry
    from oxmp_hooks import baked, build

    source = folder / "source" / (name + ".py")
    source.parent.mkdir(exist_ok=True)
    source.write_text(text)
    code_dir = folder.joinpath(*baked.ENTRY_CODE_DIR.split("/"))
    code_dir.mkdir(parents=True, exist_ok=True)
    build.write_entry_code(str(source), str(code_dir), -1)
    (script,) = entry.entry_scripts(str(folder), [baked.ENTRY_CODE_DIR + "/" + baked.entry_code_name(str(source))])
    assert not os.path.exists(script.main_path) and os.path.isfile(script.code_path)
    return script


@pytest.mark.parametrize("calls", ["multiprocessing.freeze_support", "spawn.freeze_support"])
def test_a_worker_stops_the_entry_script_at_freeze_support(tmp_path, monkeypatch, worker_main, calls):
    import multiprocessing
    import multiprocessing.spawn
    import types

    from _oxmp_runtime import pyinstaller

    script = bundled_entry_script(
        tmp_path,
        ENTRY_SCRIPT.replace(
            "multiprocessing.freeze_support()", calls.replace("spawn.", "multiprocessing.spawn.") + "()"
        ).replace("import multiprocessing", "import multiprocessing.spawn"),
    )
    spawn = types.SimpleNamespace(
        _fixup_main_from_path=multiprocessing.spawn._fixup_main_from_path, old_main_modules=[]
    )
    monkeypatch.setattr(multiprocessing, "freeze_support", boot.freeze_support)  # as prepare() sets them
    monkeypatch.setattr(multiprocessing.spawn, "freeze_support", boot.freeze_support)
    pyinstaller.run_entry_script_like_stock_workers(spawn, [script])

    spawn._fixup_main_from_path(script.main_path)  # oxmp's wrapper: what prepare() calls
    main = sys.modules["__main__"]
    assert main is sys.modules["__mp_main__"] and main.__name__ == "__mp_main__"
    assert main.__file__ == script.main_path
    assert main.target() == "defined before freeze_support()"
    assert not pyinstaller.running_entry_script()


def test_a_worker_runs_the_entry_script_as_python_runs_a_script(tmp_path, monkeypatch, worker_main):
    # The same module as CPython's own _fixup_main_from_path() makes of the script file, without the file.
    import multiprocessing.spawn
    import types

    from _oxmp_runtime import pyinstaller

    text = (
        "import sys\nNAME, FILE, ARGV0 = __name__, __file__, sys.argv[0]\n"
        "SPEC, LOADER, PACKAGE = __spec__, __loader__, __package__\n"
    )
    script = bundled_entry_script(tmp_path, text)
    spawn = types.SimpleNamespace(
        _fixup_main_from_path=multiprocessing.spawn._fixup_main_from_path, old_main_modules=[]
    )
    pyinstaller.run_entry_script_like_stock_workers(spawn, [script])
    spawn._fixup_main_from_path(script.main_path)
    frozen = {
        key: getattr(sys.modules["__mp_main__"], key) for key in ("NAME", "FILE", "ARGV0", "SPEC", "LOADER", "PACKAGE")
    }
    assert len(spawn.old_main_modules) == 1

    plain_script = tmp_path / "plain" / "app.py"
    plain_script.parent.mkdir()
    plain_script.write_text(text)
    monkeypatch.setattr(multiprocessing.spawn, "old_main_modules", [])
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    multiprocessing.spawn._fixup_main_from_path(str(plain_script))
    plain = {
        key: getattr(sys.modules["__mp_main__"], key) for key in ("NAME", "FILE", "ARGV0", "SPEC", "LOADER", "PACKAGE")
    }
    assert frozen == dict(plain, FILE=script.main_path, ARGV0=script.main_path)


def test_a_forked_worker_keeps_its_main(tmp_path, monkeypatch, worker_main):
    import multiprocessing.spawn
    import types

    from _oxmp_runtime import pyinstaller

    script = bundled_entry_script(tmp_path, "raise SystemExit('ran again')\n")
    sys.modules["__main__"].__file__ = script.main_path  # forked from the app: __main__ is the script already
    spawn = types.SimpleNamespace(
        _fixup_main_from_path=multiprocessing.spawn._fixup_main_from_path, old_main_modules=[]
    )
    pyinstaller.run_entry_script_like_stock_workers(spawn, [script])
    spawn._fixup_main_from_path(script.main_path)
    assert sys.modules["__main__"].__file__ == script.main_path and "__mp_main__" not in sys.modules


def test_another_script_runs_whole(tmp_path, monkeypatch, worker_main):
    import multiprocessing.spawn
    import types

    from _oxmp_runtime import pyinstaller

    script = tmp_path / "other.py"
    script.write_text(ENTRY_SCRIPT)
    spawn = types.SimpleNamespace(_fixup_main_from_path=multiprocessing.spawn._fixup_main_from_path)
    monkeypatch.setattr(multiprocessing.spawn, "old_main_modules", [])
    pyinstaller.run_entry_script_like_stock_workers(spawn, [bundled_entry_script(tmp_path, "", name="app")])
    with pytest.raises(SystemExit):  # not an entry script of the bundle: CPython's behaviour, untouched
        spawn._fixup_main_from_path(str(script))


def test_freeze_support_in_the_app_is_harmless(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["app", "--verbose"])
    assert boot.freeze_support() is None


# --- What run() decides, before the app's code ----------------------------------------------------------------------


@pytest.fixture
def bundle_dir(tmp_path, monkeypatch):
    """A bundle's sys._MEIPASS, with no record yet; boot's once-per-process reads start afresh."""
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(boot, "_baked", [])
    monkeypatch.setattr(boot, "_start_method", [])
    monkeypatch.delenv("OXMP_START_METHOD", raising=False)
    monkeypatch.delenv(doctor.DOCTOR_ENV, raising=False)
    return tmp_path


def write_record(folder, **values):
    from _oxmp_runtime import settings

    record = settings.Baked(
        dict(settings.DEFAULTS, **values), ["_oxmp/entry/app.code", "_oxmp/entry/other.code"], {"oxmp": "9.8.7"}
    )
    (folder / "_oxmp").mkdir()
    (folder / "_oxmp" / "settings.txt").write_text(record.encode())
    return record


def test_the_record_is_read_once_from_the_bundle(bundle_dir):
    record = write_record(bundle_dir, start_method="spawn", auto_dispatch=False)
    assert boot.baked() == record
    assert boot.entry_script_paths() == [str(bundle_dir / "app.py"), str(bundle_dir / "other.py")]
    (bundle_dir / "_oxmp" / "settings.txt").unlink()
    assert boot.baked() is boot.baked() == record  # read once per process


def test_a_bundle_without_a_record_has_the_defaults(bundle_dir):
    from _oxmp_runtime import settings

    assert boot.baked().settings == settings.DEFAULTS and boot.entry_script_paths() == []


@pytest.mark.parametrize(
    "baked_value, env, to_set, warned",
    [
        ("auto", None, None, False),  # python's own default: nothing set
        ("none", None, None, False),
        ("spawn", None, "spawn", False),
        ("spawn", "forkserver", "forkserver", False),  # OXMP_START_METHOD wins over the spec
        ("spawn", "auto", None, False),
        ("fork", "thread", "fork", True),  # a bad value is ignored, with one line
    ],
)
def test_the_start_method_of_this_process(bundle_dir, monkeypatch, capsys, baked_value, env, to_set, warned):
    write_record(bundle_dir, start_method=baked_value)
    monkeypatch.setattr(sys, "platform", "linux")
    if env is not None:
        monkeypatch.setenv("OXMP_START_METHOD", env)
    assert boot.start_method().to_set == to_set
    assert boot.start_method() is boot.start_method()  # decided once, said once
    said = capsys.readouterr().err
    assert said == (
        "oxmp: ignoring OXMP_START_METHOD='thread': allowed values are auto, none, fork, forkserver, spawn\n"
        if warned
        else ""
    )


class Dispatched(Exception):
    pass


@pytest.fixture
def quiet_run(bundle_dir, monkeypatch):
    """run() with its effects on this process recorded instead: dispatching, atexit handlers, import hooks."""
    import atexit

    calls = {"dispatched": [], "atexit": [], "when_imported": []}

    def dispatch(command):
        calls["dispatched"].append(command)
        raise Dispatched

    monkeypatch.setattr(boot, "dispatch", dispatch)
    monkeypatch.setattr(atexit, "register", lambda function, *args: calls["atexit"].append(function))
    monkeypatch.setattr(boot, "when_imported", lambda name, hook: calls["when_imported"].append(name))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))  # run() adds the entry scripts' finder
    return calls


def test_a_worker_is_dispatched_before_the_apps_code(quiet_run, bundle_dir, monkeypatch):
    write_record(bundle_dir)
    monkeypatch.setattr(sys, "argv", ["app", "--multiprocessing-fork", "pipe_handle=7"])
    with pytest.raises(Dispatched):
        boot.run()
    (command,) = quiet_run["dispatched"]
    assert command.kind == "worker" and quiet_run["when_imported"] == []


def test_without_auto_dispatch_the_app_runs_and_is_watched(quiet_run, bundle_dir, monkeypatch):
    write_record(bundle_dir, auto_dispatch=False)
    monkeypatch.setattr(sys, "argv", ["app", "--multiprocessing-fork", "pipe_handle=7"])
    boot.run()
    assert quiet_run["dispatched"] == []
    assert boot.report_undispatched in quiet_run["atexit"] and boot.stop_helpers in quiet_run["atexit"]
    assert quiet_run["when_imported"] == [library.name for library in libraries.LIBRARIES]


@pytest.mark.parametrize("sys_frozen, frozen_after", [(True, True), (False, None)])
def test_the_app_gets_sys_frozen_as_set(quiet_run, bundle_dir, monkeypatch, sys_frozen, frozen_after):
    write_record(bundle_dir, sys_frozen=sys_frozen)
    monkeypatch.setattr(sys, "argv", ["app", "--verbose"])
    monkeypatch.delattr(sys, "frozen")
    boot.run()
    assert getattr(sys, "frozen", None) is frozen_after
    assert quiet_run["dispatched"] == [] and quiet_run["atexit"] == [boot.stop_helpers]


@pytest.fixture
def spawn_left_as_found(monkeypatch):
    """multiprocessing and its spawn module as they are, whatever prepare() changes in them."""
    import multiprocessing.spawn

    for module, name in (
        (multiprocessing, "freeze_support"),
        (multiprocessing.spawn, "freeze_support"),
        (multiprocessing.spawn, "_fixup_main_from_path"),
    ):
        monkeypatch.setattr(module, name, getattr(module, name))


@pytest.mark.parametrize("present", commands.LOKY_WINDOWS_MAINS)
def test_a_loky_worker_on_windows_runs_the_main_of_the_loky_it_has_told_its_parent(
    bundle_dir, monkeypatch, spawn_left_as_found, present
):
    # The command line does not say which loky started the worker (joblib's copy, or loky itself): the first the
    # bundle has runs it. Its main() cannot take the pipe from the parent unless it is told who that is.
    import types

    def refuse(reason):  # instead of ending this process
        raise AssertionError("refused: " + reason)

    monkeypatch.setattr(boot, "refuse", refuse)
    called = []
    for name in commands.LOKY_WINDOWS_MAINS:
        if name == present:
            module = types.ModuleType(name)
            module.main = lambda pipe_handle, parent_pid=None: called.append((pipe_handle, parent_pid))
        else:
            module = None  # not in the bundle: its import raises ImportError
        monkeypatch.setitem(sys.modules, name, module)
    command = commands.classify(["app.exe", "--multiprocessing-fork", "1234"], platform="win32")
    assert command.kind == "loky_windows_worker"
    boot.prepare(command)()
    assert called == [(1234, os.getppid())]
    assert command.kwargs == {"pipe_handle": 1234}  # the command itself is left as parsed


def test_every_kind_of_worker_and_helper_is_prepared_its_own_way():
    assert set(boot.PREPARE) == set(commands.KINDS) - {"app", "refused"}
