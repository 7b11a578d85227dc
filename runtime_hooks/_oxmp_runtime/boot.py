"""What oxmp's runtime hook does in a bundle, before the app's code. Read it top to bottom.

1. Look at sys.argv. A multiprocessing worker or helper goes straight to multiprocessing (or to the library that
   started it: multiprocess, billiard, loky) and exits (auto-dispatch); a malformed one is refused with one line on
   stderr. The app's code never runs in either.
2. In the app: keep sys.frozen truthy, and wait for the app to import multiprocessing (or multiprocess, billiard).
   Only then read the settings the build hook baked into the bundle, set the default start method, install a strict
   freeze_support() and the other fixes. An app that never imports one pays for nothing but the runtime hook file's
   quick look at sys.argv and the environment: this module is loaded at that first import, or for a process that the
   quick look cannot tell from a worker, helper or the doctor's.
   A bundle started as `APP -m NAME ARGS` for a module NAME that the build lists in `run_modules` runs that module
   here, in the app's place, as `python -m NAME ARGS` would.
3. Only when `python -m oxmp_hooks doctor` runs the bundle: diagnose multiprocessing instead of running the app
   (doctor.py), and exit.

What the build hands over (settings, entry scripts' code, build facts) is one record, ``baked()``; the start method
that the settings and ``OXMP_START_METHOD`` come to is ``start_method()`` (both from settings.py).
"""

import os
import sys

from _oxmp_runtime import commands, libraries
from _oxmp_runtime.after_import import when_imported
from _oxmp_runtime.messages import REFUSED_EXIT, say

# Names for annotations only: nothing is imported for them at run time (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType, TracebackType
    from typing import Any, Callable, NoReturn, Sequence

    from _oxmp_runtime.commands import Command
    from _oxmp_runtime.entry import EntryScript
    from _oxmp_runtime.libraries import Library
    from _oxmp_runtime.settings import Baked, StartMethod


def run() -> "None":
    """The runtime hook's full path: for every process that its quick look does not find surely the app's.

    The runtime hook file (runtime_hooks/rthooks/pyi_rth_oxmp_multiprocessing.py) has already done what every process
    needs first (SIGPIPE, closed standard descriptors). In a process that is surely the app it calls only
    ``watch_libraries()``, once the app imports a library, and registers ``stop_helpers`` at start as this does.
    """
    import atexit

    try:
        command = classify(sys.argv)
    except Exception as error:  # classify() is total (tested); this is the net under it
        refuse("could not read the command line (%s)" % type(error).__name__)
    listed = command.kind == "module" and command.module not in commands.MODULE_WORKERS  # run_modules
    if command.kind != "app" and not listed and baked().settings["auto_dispatch"]:
        dispatch(command)  # does not return
    # Loaded only now: a worker or helper that is dispatched never needs it.
    from _oxmp_runtime import doctor

    if command.kind != "app" and not listed:
        if doctor.requested():
            # The doctor's smoke test must not run the app's code, and an app with auto_dispatch off would.
            refuse("auto_dispatch is off: this worker would run the app's code until it calls freeze_support()")
        # auto_dispatch is off: the app is about to run in a process started as a worker or helper, and is expected
        # to call freeze_support(). Say so if it exits without having done it.
        atexit.register(report_undispatched)

    # The app's own start-up reads no settings (PyInstaller has set sys.frozen already): they are read when they are
    # first needed, which is when the app imports multiprocessing.
    if not getattr(sys, "frozen", False) and baked().settings["sys_frozen"]:
        sys.frozen = True  # type: ignore[attr-defined]  # as PyInstaller's bootloader sets it
    # Registered before any library's own exit handler (multiprocessing.util's joins the app's child processes), so
    # that it runs after them: atexit runs handlers last-in first-out.
    atexit.register(stop_helpers)
    watch_libraries(command)

    if listed:
        # A module of run_modules runs in the app's place, set up as the app is (multiprocessing configured when it
        # is imported), whatever auto_dispatch says: the setting is the opt-in.
        dispatch(command)  # does not return

    if command.kind == "app" and doctor.requested():
        # Here, so that the doctor sees multiprocessing exactly as the app would; instead of the app's code.
        doctor.run(doctor.folder(), baked(), start_method(), freeze_support)  # does not return


def watch_libraries(command: "Command" = commands.APP) -> "None":
    """Configure each multiprocessing library right after its first import (at once if it is imported already)."""
    for library in libraries.LIBRARIES:
        when_imported(library.name, lambda module, library=library: configure_library(library, command))  # type: ignore[misc]


def classify(argv: "Sequence[str]") -> "Command":
    """``commands.classify()`` with the bundle's ``run_modules``, read only when argv names a module to run."""
    listed = baked().settings["run_modules"] if commands.module_named(argv) is not None else ()
    return commands.classify(argv, run_modules=listed)


_baked = []  # type: list[Baked]  # [the Baked record]: read once per process


def baked() -> "Baked":
    """The record the build hook wrote into the bundle (settings.Baked: settings, entry scripts' code, build facts)."""
    if not _baked:
        from _oxmp_runtime import settings

        _baked.append(settings.read_baked(getattr(sys, "_MEIPASS", None)))
    return _baked[0]


def entry_scripts() -> "list[EntryScript]":
    """The bundle's entry scripts (entry.EntryScript: name, the bootloader's ``__main__.__file__``, code file)."""
    from _oxmp_runtime import entry

    meipass = getattr(sys, "_MEIPASS", None)
    return entry.entry_scripts(meipass, baked().entry_code) if meipass else []


def entry_script_paths() -> "list[str]":
    """Where the bootloader's ``__main__.__file__`` points for each entry script (no file lies there)."""
    return [script.main_path for script in entry_scripts()]


# --- Workers and helpers --------------------------------------------------------------------------------------------

# Set once this process has been dispatched as a worker or helper (by auto-dispatch, or by the app's freeze_support()).
_dispatched = False


def dispatch(command: "Command") -> "NoReturn":
    """Run a worker or helper command as multiprocessing (or loky) would, then exit with its status.

    Everything up to the library's own entry point is checked first, and any problem on the way is a refusal (one
    line, exit status 2): what the command line names must be what a genuine parent hands over.
    """
    global _dispatched

    if command.kind == "refused":
        refuse(command.reason)
    try:
        start = prepare(command)
    except Exception as error:
        refuse("%s could not start: %s: %s" % (command.kind, type(error).__name__, commands.show(str(error))))
    _dispatched = True
    try:
        start()
    except SystemExit:
        raise  # the worker's or module's own status: the bootloader exits with it, as python does
    except BaseException as error:
        exit_as_python_would(error)
    sys.exit(0)


def exit_as_python_would(error: "BaseException") -> "NoReturn":
    """End this process as python ends one whose ``-c`` worker or ``-m`` module raised ``error``: the traceback from
    the library's or module's first frame, then exit status 1, or death by SIGINT for a KeyboardInterrupt.

    Raised on, the error would reach PyInstaller's bootloader, which names its script, oxmp's runtime hook, as the one
    that failed ("Failed to execute script 'pyi_rth_oxmp_multiprocessing'"), or, windowed, shows that in an error box
    that waits for a click; python names nothing, and pythonw says nothing. A SystemExit (raised here) is handled by
    the bootloader as by python, without that line."""
    error.__traceback__ = _without_oxmp_frames(error.__traceback__)  # the one python's excepthook prints
    if sys.stderr is not None:
        sys.excepthook(type(error), error, error.__traceback__)
    if not isinstance(error, KeyboardInterrupt):
        sys.exit(1)
    if sys.platform == "win32":
        sys.exit(0xC000013A)  # STATUS_CONTROL_C_EXIT, what python exits with after finalizing (Modules/main.c)
    # POSIX python finalizes, then kills itself with SIGINT (exit_sigint() in Modules/main.c): its exit handlers, not
    # the interpreter's teardown, are what an app sees of that, so they run first, then the streams are flushed.
    import signal

    from _oxmp_runtime import cpython

    cpython.finalize_before_exit()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # None, or closed: nothing to flush, as at the interpreter's exit
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    sys.exit(128 + signal.SIGINT)  # SIGINT blocked: python's fallback


def _without_oxmp_frames(traceback: "TracebackType | None") -> "TracebackType | None":
    """``traceback`` from its first frame that is not oxmp's (the worker's library, runpy), or whole if all are."""
    first = traceback
    while first is not None and first.tb_frame.f_globals.get("__name__", "").startswith("_oxmp_runtime"):
        first = first.tb_next
    return first or traceback


def prepare(command: "Command") -> "Callable[[], object]":
    """Check a worker or helper command and import what runs it; returns the call that starts it, or refuses."""
    from _oxmp_runtime import descriptors

    problem = descriptors.first_problem(command.descriptors)  # POSIX
    if problem:
        refuse(problem)
    return PREPARE[command.kind](command)


def prepare_worker(command: "Command") -> "Callable[[], object]":
    """A spawn worker: its library's ``spawn_main(**kwargs)``."""
    if sys.platform == "win32":
        refuse_foreign_pipe(command.kwargs)
    library = libraries.of_module(command.module)
    spawn = prepare_spawn(library)
    configure_spawn(spawn, library)  # for the processes this worker may start itself
    return lambda: start_worker(spawn, command.kwargs)


def prepare_loky_windows_worker(command: "Command") -> "Callable[[], object]":
    """loky's frozen Windows worker: ``main(pipe_handle)`` of loky's ``popen_loky_win32`` (joblib's copy, or loky's).

    Its command line (``exe --multiprocessing-fork HANDLE``) names no parent process, and without one main() cannot
    take the pipe handle (nor the resource tracker's) from the parent: "the handle is invalid". The parent is the
    process that started this one."""
    kwargs = dict(command.kwargs, parent_pid=os.getppid())
    if sys.platform == "win32":
        refuse_foreign_pipe(kwargs)
    prepare_spawn(libraries.BY_NAME["multiprocessing"])  # loky's workers run on multiprocessing's spawn
    main = checked_function(commands.LOKY_WINDOWS_MAINS, "main", kwargs)
    return lambda: start_loky_worker(main, kwargs)


def prepare_helper(command: "Command") -> "Callable[[], object]":
    """A helper (a resource tracker, a forkserver): ``function(*args, **kwargs)`` of its module."""
    prepare_spawn(libraries.of_module(command.module))
    function = checked_function((command.module,), command.function, command.kwargs)
    return lambda: function(*command.args, **command.kwargs)


def prepare_module(command: "Command") -> "Callable[[], object]":
    """A module run as ``python -m`` runs it: loky's POSIX worker, or a module of ``run_modules``."""
    import importlib.util

    try:
        found = importlib.util.find_spec(command.module)
    except ImportError:  # its package is missing
        found = None
    if found is None:
        refuse("%s is not in this bundle" % command.module)

    def run_module() -> "None":
        import runpy

        sys.argv[:] = sys.argv[:1] + list(command.args)  # as `python -m module args` leaves it
        runpy.run_module(command.module, run_name="__main__", alter_sys=True)

    return run_module


# How each kind of worker and helper is prepared (commands.KINDS; "app" and "refused" never get here).
PREPARE = {
    "worker": prepare_worker,
    "loky_windows_worker": prepare_loky_windows_worker,
    "helper": prepare_helper,
    "module": prepare_module,
}


def prepare_spawn(library: "Library") -> "ModuleType":
    """What spawn workers and the forkserver (and loky's Windows workers) need of ``library``'s spawn module, which
    runs the entry script in them; returns that module.

    They run the entry script as __mp_main__, as under python, and stop it at a freeze_support() outside its main
    block, as PyInstaller's workers do: oxmp's freeze_support() must be the one the script calls, in every form."""
    import importlib

    from _oxmp_runtime import pyinstaller

    spawn = importlib.import_module(library.module("spawn"))
    install_freeze_support(library, spawn)
    pyinstaller.run_entry_script_like_stock_workers(spawn, entry_scripts())
    return spawn


def refuse_foreign_pipe(kwargs: "dict[str, Any]") -> "None":
    """Windows: refuse a worker whose ``pipe_handle`` is not a pipe of its ``parent_pid`` (descriptors.py)."""
    from _oxmp_runtime import descriptors

    problem = descriptors.windows_pipe_problem(kwargs["parent_pid"], kwargs["pipe_handle"])
    if problem:
        refuse(problem)


def checked_function(modules: "Sequence[str]", name: "str", kwargs: "dict[str, Any]") -> "Callable[..., Any]":
    """Function ``name`` of the first of ``modules`` that the bundle has, once checked that it can be called with
    ``kwargs`` as the command line gives them; refuses otherwise."""
    module = import_first(modules)
    function = getattr(module, name)
    problem = unexpected_keywords(function, kwargs) or commands.main_path_problem(
        kwargs.get("main_path"), entry_script_paths()
    )
    if problem:
        refuse("%s.%s: %s" % (module.__name__, name, problem))
    return function


def start_loky_worker(main: "Callable[..., object]", kwargs: "dict[str, Any]") -> "None":
    try:
        main(**kwargs)  # exits with the worker's status
    except OSError as error:
        # As for spawn's workers: a handle that the named parent cannot hand over (loky reads it as spawn_main does).
        refuse("loky worker could not start: %s" % error)


def start_worker(spawn: "ModuleType", kwargs: "dict[str, Any]") -> "None":
    if sys.platform != "win32":
        spawn.spawn_main(**kwargs)  # exits with the worker's status; an error past the checks is the worker's own
        return
    try:
        spawn.spawn_main(**kwargs)
    except OSError as error:
        # A handle that is not the parent's, or a parent that is gone: multiprocessing's own check, made before it
        # reads anything (a refusal names only what did not run).
        refuse("multiprocessing worker could not start: %s" % error)


def unexpected_keywords(function: "Callable[..., Any]", kwargs: "dict[str, Any]") -> "str | None":
    """Why ``function`` (of this Python) cannot take ``kwargs``, or None: the table accepts every version's keywords."""
    code = getattr(function, "__code__", None)
    if code is None or code.co_flags & 0x08:  # CO_VARKEYWORDS: takes **kwargs
        return None
    positional_only = getattr(code, "co_posonlyargcount", 0)
    accepted = code.co_varnames[positional_only : code.co_argcount + code.co_kwonlyargcount]
    unexpected = sorted(set(kwargs) - set(accepted))
    if unexpected:
        return "this Python's %s() takes no keyword %s" % (function.__name__, ", ".join(unexpected))
    return None


def import_first(names: "Sequence[str]") -> "ModuleType":
    """Import the first of several alternative modules (names) that the bundle contains."""
    import importlib

    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    refuse("none of %s is in this bundle" % ", ".join(names))


def report_undispatched() -> "None":
    if not _dispatched:
        say(
            "this process was started as a multiprocessing worker or helper, but auto_dispatch is off and the app "
            "exited without calling multiprocessing.freeze_support(): call it first thing in the main block, or turn "
            "auto_dispatch on"
        )


def refuse(reason: "str") -> "NoReturn":
    """Stop this process before anything of the command line runs: one line on stderr, exit status 2."""
    say("refusing to start: %s" % reason)
    os._exit(REFUSED_EXIT)


# --- The app: configure multiprocessing when it is imported ---------------------------------------------------------


def configure_library(library: "Library", command: "Command") -> "None":
    """Apply oxmp's settings to a freshly imported multiprocessing library, in the app's process."""
    from _oxmp_runtime import cpython

    install_freeze_support(library)
    method = start_method().to_set
    if method is not None:
        cpython.set_default_start_method(method, library.name)
    when_imported(library.module("spawn"), lambda spawn: configure_spawn(spawn, library, guard=command.kind != "app"))


_start_method = []  # type: list[StartMethod]  # [settings.StartMethod]: read once per process, with one warning at most


def start_method() -> "StartMethod":
    """What the baked ``start_method`` and ``OXMP_START_METHOD`` come to in this process (settings.StartMethod)."""
    if not _start_method:
        from _oxmp_runtime import settings

        found = settings.effective_start_method(
            baked().settings["start_method"], os.environ.get(settings.START_METHOD_ENV), sys.platform, sys.version_info
        )
        if found.warning:
            say(found.warning)
        _start_method.append(found)
    return _start_method[0]


def configure_spawn(spawn: "ModuleType", library: "Library", guard: "bool" = False) -> "None":
    """What a process that starts processes needs, once the library's spawn module is imported (every way of starting
    a process imports it first): the app's process, and a worker that starts processes of its own."""
    import importlib

    from _oxmp_runtime import cpython, pyinstaller

    install_freeze_support(library, spawn)
    cpython.send_main_path_on_windows(spawn)
    if library.marks_workers:
        spawn.get_command_line = mark_workers(spawn.get_command_line, library.name)  # type: ignore[attr-defined]
    launcher_module, launcher = importlib.import_module(library.launcher[0]), library.launcher[1]
    pyinstaller.share_onefile_folder(library, launcher_module)
    if guard:
        # auto_dispatch is off and the app runs in a process started as a worker or helper: until it calls
        # freeze_support(), starting a process from here would start the app again, without end.
        spawn.get_command_line = refuse_relaunch_unless_dispatched(spawn.get_command_line)  # type: ignore[attr-defined]
        setattr(launcher_module, launcher, refuse_relaunch_unless_dispatched(getattr(launcher_module, launcher)))


def mark_workers(get_command_line: "Callable[..., list[str]]", name: "str") -> "Callable[..., list[str]]":
    """A library whose frozen workers' command line is multiprocessing's (multiprocess) names itself on it, so that
    the worker's classify() sends it to that library's spawn_main()."""

    def get_command_line_marked(**kwds: "Any") -> "list[str]":
        line = get_command_line(**kwds)
        if len(line) >= 2 and line[1] == commands.WORKER_FLAG:  # the frozen form; the other names its module
            line = list(line) + ["%s=%s" % (commands.LIBRARY_KEY, name)]
        return line

    return get_command_line_marked


def stop_helpers() -> "None":
    if any(library.name in sys.modules for library in libraries.LIBRARIES):
        from _oxmp_runtime import cpython

        cpython.stop_helpers()


def install_freeze_support(library: "Library", spawn: "ModuleType | None" = None) -> "None":
    """Make oxmp's ``freeze_support()`` the one that ``library`` offers, in each form a script may call it: the
    library's own (``multiprocessing.freeze_support``), and its spawn module's once that is imported (``spawn``), which
    is also what multiprocessing's contexts call on Windows (``get_context().freeze_support()``)."""
    sys.modules[library.name].freeze_support = freeze_support  # type: ignore[attr-defined]
    if spawn is not None:
        spawn.freeze_support = freeze_support  # type: ignore[attr-defined]


def freeze_support() -> "None":
    """multiprocessing.freeze_support() in an oxmp bundle: dispatch a worker or helper, strictly; else do nothing.

    With auto_dispatch on, workers and helpers never get this far, so this is a no-op; with it off, this is what
    runs them. Unlike CPython's, it works on every platform and for every start method. Called outside the main block
    while a worker runs the entry script to find its targets, it stops the script there, as it would in a stock
    PyInstaller worker (pyinstaller.run_entry_script_like_stock_workers).
    """
    from _oxmp_runtime import pyinstaller

    if pyinstaller.running_entry_script():
        pyinstaller.stop_entry_script()  # does not return
    command = commands.classify(sys.argv)
    if command.kind != "app":
        dispatch(command)


def refuse_relaunch_unless_dispatched(start: "Callable[..., Any]") -> "Callable[..., Any]":
    def start_unless_relaunch(*args: "Any", **kwargs: "Any") -> "Any":
        if not _dispatched:
            raise RuntimeError(
                "oxmp: this process was started as a multiprocessing worker, but auto_dispatch is off and the app did "
                "not call multiprocessing.freeze_support() before starting processes of its own"
            )
        return start(*args, **kwargs)

    return start_unless_relaunch
