"""The places where oxmp relies on how PyInstaller's bootloader treats child processes (checked: bootloader 6.0.0-6.9.0,
``_MEIPASS2``, and 6.10.0-6.22.3, ``_PYI_APPLICATION_HOME_DIR``), sets up Python's signals (6.0.0-6.22.3) and on its
importer (checked: 6.0.0-6.22.3)."""

import os
import sys

# PyInstaller 6.0-6.9: a onefile executable started with _MEIPASS2 set runs from that folder instead of unpacking.
OLD_SHARED_FOLDER_ENV = "_MEIPASS2"
# PyInstaller 6.10+: set in every process of a onefile app; its children reuse the folder without help.
SHARED_FOLDER_ENV = "_PYI_APPLICATION_HOME_DIR"

_environment_lock = None  # made by share_onefile_folder(), where it is needed: threading costs every app's start-up


def share_onefile_folder(util):
    """Make the processes multiprocessing starts from a onefile app reuse its unpacked files, on PyInstaller 6.0-6.9.

    From 6.10 the bootloader does this by itself. Before, each worker and helper unpacked the whole app again unless
    ``_MEIPASS2`` named the folder while it was started, which PyInstaller's own runtime hook (the one oxmp replaces)
    did around each launch; so does this, for the two ways multiprocessing starts ``sys.executable``.
    """
    global _environment_lock

    if SHARED_FOLDER_ENV in os.environ or not os.path.basename(getattr(sys, "_MEIPASS", "")).startswith("_MEI"):
        return
    import threading

    _environment_lock = threading.Lock()
    if sys.platform == "win32":
        from multiprocessing import popen_spawn_win32

        class Popen(popen_spawn_win32.Popen):
            def __init__(self, *args, **kwargs):
                with _shared_folder_in_environment():
                    super().__init__(*args, **kwargs)

        popen_spawn_win32.Popen = Popen
    else:
        spawnv_passfds = util.spawnv_passfds

        def spawnv_passfds_sharing(path, args, passfds):
            with _shared_folder_in_environment():
                return spawnv_passfds(path, args, passfds)

        util.spawnv_passfds = spawnv_passfds_sharing


class _shared_folder_in_environment:
    # os.putenv, not os.environ: the children of util.spawnv_passfds and CreateProcess inherit the C environment,
    # and nothing else in this process should see the variable.
    def __enter__(self):
        _environment_lock.acquire()
        os.putenv(OLD_SHARED_FOLDER_ENV, sys._MEIPASS)

    def __exit__(self, *exc_info):
        try:
            if hasattr(os, "unsetenv"):  # Windows has it from Python 3.9
                os.unsetenv(OLD_SHARED_FOLDER_ENV)
            else:
                os.putenv(OLD_SHARED_FOLDER_ENV, "")
        finally:
            _environment_lock.release()


def let_run_path_read_files(paths):
    """Make ``runpy.run_path()`` of these files inside the bundle (the entry scripts' code) read them as files.

    That is how spawn and forkserver workers run the entry script. PyInstaller 6.10.0's ``sys.path_hooks`` entry,
    ``PyiFrozenImporter.path_hook``, accepts any path inside the bundle, files included, so run_path() took the file
    for a folder and failed ("can't find '__main__' module"); 6.11.0 refuses files (pyinstaller#8767), and before 6.10
    there is no such hook. Recording "no importer" for the files in ``sys.path_importer_cache``, which run_path()
    consults first, is the state every other version ends up in, and leaves the path hooks themselves untouched.
    """
    for path in paths:
        sys.path_importer_cache[os.path.normpath(path)] = None


def ignore_sigpipe_like_python():
    """Ignore SIGPIPE, as Python itself does at start-up, where PyInstaller's bootloader left it at its default.

    PyInstaller 6.0-6.2 started Python without its signal handlers (fixed by pyinstaller#8105): a process writing to a
    pipe whose reader is gone, such as the pipe to a worker that failed to start, is then killed by SIGPIPE instead
    of getting BrokenPipeError. Python ignores SIGPIPE whenever it installs its handlers, so the default here, before
    the app's code, can only mean that bug. ``_signal`` (checked: 3.8-3.14) is the built-in module behind ``signal``,
    loaded by the interpreter itself; importing ``signal`` would cost its enums at every start.
    """
    import _signal

    if hasattr(_signal, "SIGPIPE") and _signal.getsignal(_signal.SIGPIPE) == _signal.SIG_DFL:
        _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
