"""What oxmp's runtime hook does in a bundle, before the app's code. Read it top to bottom.

1. Look at sys.argv. A multiprocessing worker or helper goes straight to multiprocessing and exits (auto-dispatch);
   a malformed one is refused with one line on stderr. The app's code never runs in either.
2. In the app: keep sys.frozen truthy, and wait for the app to import multiprocessing. Only then read the settings the
   build hook baked into the bundle, set the default start method, install a strict freeze_support() and the other
   fixes. An app that never imports multiprocessing pays for nothing but this module and the look at sys.argv.
3. Only when `python -m oxmp_hooks doctor` runs the bundle: diagnose multiprocessing instead of running the app
   (doctor.py), and exit.
"""

import os
import sys

from _oxmp_runtime import commands

# Exit status of a process whose worker or helper command line oxmp refused.
REFUSED_EXIT = 2

# Set by `python -m oxmp_hooks doctor` only, to the path of an empty report file it created (see doctor_requested).
DOCTOR_ENV = "_OXMP_DOCTOR_REPORT"


def run():
    """The whole runtime hook."""
    from _oxmp_runtime import pyinstaller

    pyinstaller.ignore_sigpipe_like_python()
    command = commands.classify(sys.argv)
    if command.kind != "app":
        settings = read_baked_settings()[0]
        if settings["auto_dispatch"]:
            dispatch(command)  # does not return
        if doctor_requested():
            # The doctor's smoke test must not run the app's code, and an app with auto_dispatch off would.
            refuse("auto_dispatch is off: this worker would run the app's code until it calls freeze_support()")
        # auto_dispatch is off: the app is about to run in a process started as a worker or helper, and is expected
        # to call freeze_support(). Say so if it exits without having done it.
        import atexit

        atexit.register(report_undispatched)

    # The app's own start-up reads no settings (PyInstaller has set sys.frozen already): they are read when they are
    # first needed, which is when the app imports multiprocessing.
    if not getattr(sys, "frozen", False) and read_baked_settings()[0]["sys_frozen"]:
        sys.frozen = True
    when_imported("multiprocessing", lambda module: configure_multiprocessing(read_baked_settings()[0], command))

    if command.kind == "app" and doctor_requested():
        # Here, so that the doctor sees multiprocessing exactly as the app would; instead of the app's code.
        from _oxmp_runtime import doctor

        doctor.run(os.environ[DOCTOR_ENV], *read_baked_settings())  # does not return


_baked = None


def read_baked_settings():
    """Settings and build facts the build hook wrote into the bundle (defaults if the file is missing); read once."""
    global _baked

    if _baked is None:
        from _oxmp_runtime import settings as schema

        path = os.path.join(getattr(sys, "_MEIPASS", ""), schema.BAKED_DIR, schema.BAKED_FILE)
        try:
            with open(path, encoding="utf-8") as baked:
                _baked = schema.decode(baked.read())
        except OSError:
            _baked = dict(schema.DEFAULTS), {}
    return _baked


def doctor_requested():
    """True if `python -m oxmp_hooks doctor` runs this bundle: its variable names an empty file it created.

    A variable alone might be left set by accident; a report file that is already written is never reused. The app's
    arguments play no part.
    """
    path = os.environ.get(DOCTOR_ENV)
    if not path:
        return False
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return False
    import stat

    return stat.S_ISREG(status.st_mode) and status.st_size == 0


# --- Workers and helpers --------------------------------------------------------------------------------------------

# Set once this process has been dispatched as a worker or helper (by auto-dispatch, or by the app's freeze_support()).
_dispatched = False


def dispatch(command):
    """Run a worker or helper command as multiprocessing (or loky) would, then exit with its status."""
    global _dispatched

    if command.kind == "refused":
        refuse(command.reason)
    _dispatched = True
    from _oxmp_runtime import pyinstaller

    # Spawn workers, the forkserver and its children run the entry script's code file with runpy.run_path().
    entry_scripts = read_baked_settings()[1].get("entry_scripts", "")
    pyinstaller.let_run_path_read_files(os.path.join(sys._MEIPASS, name) for name in entry_scripts.split(",") if name)
    if command.kind == "worker":
        problem = check_worker_handles(command.kwargs)
        if problem:
            refuse(problem)
        from multiprocessing import spawn

        configure_spawn(spawn)  # for the processes this worker may start itself
        try:
            spawn.spawn_main(**command.kwargs)  # exits with the worker's status
        except OSError as error:
            refuse("multiprocessing worker could not start: %s" % error)
    elif command.kind == "module":
        import runpy

        sys.argv[:] = sys.argv[:1] + list(command.args)  # as `python -m module args` leaves it
        runpy.run_module(command.module, run_name="__main__", alter_sys=True)
    else:
        function = getattr(import_first(command.module), command.function)
        function(*command.args, **helper_kwargs(command))
    sys.exit(0)


def helper_kwargs(command):
    """The keyword arguments to call a helper with: those of its command line, and what that leaves out."""
    kwargs = dict(command.kwargs)
    if command.module == commands.LOKY_WINDOWS_MAINS:
        # loky's frozen Windows command line (`exe --multiprocessing-fork HANDLE`) names no parent process, and without
        # one its main() cannot take the pipe handle (nor the resource tracker's) from the parent: "the handle is
        # invalid". The parent is the process that started this one.
        kwargs["parent_pid"] = os.getppid()
    return kwargs


def import_first(names):
    """Import a module, or the first of several alternatives that the bundle contains."""
    import importlib

    if isinstance(names, str):
        return importlib.import_module(names)
    for name in names[:-1]:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return importlib.import_module(names[-1])


def check_worker_handles(kwargs):
    """A worker's pipe must be an open pipe: anything else would fail with a traceback, or wait forever on stdin."""
    if sys.platform == "win32":
        return None  # handles, not file descriptors: spawn_main() reports a bad one with an OSError
    import stat

    for key in ("pipe_handle", "tracker_fd"):
        fd = kwargs.get(key)
        if fd is None:
            continue
        try:
            mode = os.fstat(fd).st_mode
        except (OSError, OverflowError, ValueError):
            return "multiprocessing worker %s=%d is not an open file descriptor" % (key, fd)
        if key == "pipe_handle" and not stat.S_ISFIFO(mode):
            return "multiprocessing worker pipe_handle=%d is not a pipe" % fd
    return None


def report_undispatched():
    if not _dispatched:
        sys.stderr.write(
            "oxmp: this process was started as a multiprocessing worker or helper, but auto_dispatch is off and the "
            "app exited without calling multiprocessing.freeze_support(): call it first thing in the main block, or "
            "turn auto_dispatch on\n")


def refuse(reason):
    sys.stderr.write("oxmp: refusing to start: %s\n" % reason)
    sys.stderr.flush()
    os._exit(REFUSED_EXIT)


# --- The app: configure multiprocessing when it is imported ---------------------------------------------------------

def configure_multiprocessing(settings, command):
    """Apply oxmp's settings to a freshly imported multiprocessing, in the app's process."""
    import atexit

    import multiprocessing

    from _oxmp_runtime import cpython, settings as schema

    # multiprocessing.util registers the handler that joins the app's child processes when it is first imported,
    # which is after this; atexit runs handlers last-in first-out, so the helpers are stopped after the children.
    # A onefile bundle deletes its files as soon as this process exits: a helper still running then fails.
    atexit.register(cpython.stop_helpers)
    multiprocessing.freeze_support = freeze_support

    value, warning = schema.start_method_override(os.environ.get(schema.START_METHOD_ENV), sys.platform)
    if warning:
        sys.stderr.write(warning + "\n")
    method = schema.resolve_start_method(value or settings["start_method"], sys.platform)
    if method is not None:
        cpython.set_default_start_method(method)
    when_imported("multiprocessing.spawn", lambda spawn: configure_spawn(spawn, guard=command.kind != "app"))


def configure_spawn(spawn, guard=False):
    """What a process that starts processes needs, once multiprocessing.spawn is imported (every way of starting a
    process imports it first): the app's process, and a worker that starts processes of its own."""
    from multiprocessing import util

    from _oxmp_runtime import cpython, pyinstaller

    spawn.freeze_support = freeze_support
    cpython.send_main_path_on_windows(spawn)
    pyinstaller.share_onefile_folder(util)
    if guard:
        # auto_dispatch is off and the app runs in a process started as a worker or helper: until it calls
        # freeze_support(), starting a process from here would start the app again, without end.
        spawn.get_command_line = refuse_relaunch_unless_dispatched(spawn.get_command_line)
        util.spawnv_passfds = refuse_relaunch_unless_dispatched(util.spawnv_passfds)


def freeze_support():
    """multiprocessing.freeze_support() in an oxmp bundle: dispatch a worker or helper, strictly; else do nothing.

    With auto_dispatch on, workers and helpers never get this far, so this is a no-op; with it off, this is what
    runs them. Unlike CPython's, it works on every platform and for every start method.
    """
    command = commands.classify(sys.argv)
    if command.kind != "app":
        dispatch(command)


def refuse_relaunch_unless_dispatched(start):
    def start_unless_relaunch(*args, **kwargs):
        if not _dispatched:
            raise RuntimeError(
                "oxmp: this process was started as a multiprocessing worker, but auto_dispatch is off and the app did "
                "not call multiprocessing.freeze_support() before starting processes of its own")
        return start(*args, **kwargs)

    return start_unless_relaunch


def when_imported(name, callback):
    """Call ``callback(module)`` right after the first import of module ``name`` finishes (now, if it has)."""
    if name in sys.modules:
        callback(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, callback))


class _AfterImport:
    """A meta path finder that finds nothing itself: it wraps the real loader of one module to run a callback."""

    def __init__(self, name, callback):
        self.name = name
        self.callback = callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _CallbackLoader(spec.loader, self.callback)
        return spec

    def invalidate_caches(self):
        pass


class _CallbackLoader:
    def __init__(self, loader, callback):
        self.loader = loader
        self.callback = callback

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # Leave no trace of the wrapper on the module.
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        self.callback(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)
