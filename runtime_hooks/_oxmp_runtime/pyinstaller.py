"""The places where oxmp relies on how PyInstaller's bootloader treats child processes (checked: bootloader 6.0.0-6.9.0,
``_MEIPASS2``, and 6.10.0-6.22.3, ``_PYI_APPLICATION_HOME_DIR``), sets up Python's signals (6.0.0-6.22.3) and on its
importer (checked: 6.0.0-6.22.3)."""

import os
import sys
import threading

# PyInstaller 6.0-6.9: a onefile executable started with _MEIPASS2 set runs from that folder instead of unpacking.
OLD_SHARED_FOLDER_ENV = "_MEIPASS2"
# PyInstaller 6.10+: set in every process of a onefile app; its children reuse the folder without help.
SHARED_FOLDER_ENV = "_PYI_APPLICATION_HOME_DIR"

_environment_lock = threading.Lock()


def share_onefile_folder(util):
    """Make the processes multiprocessing starts from a onefile app reuse its unpacked files, on PyInstaller 6.0-6.9.

    From 6.10 the bootloader does this by itself. Before, each worker and helper unpacked the whole app again unless
    ``_MEIPASS2`` named the folder while it was started, which PyInstaller's own runtime hook (the one oxmp replaces)
    did around each launch; so does this, for the two ways multiprocessing starts ``sys.executable``.
    """
    if SHARED_FOLDER_ENV in os.environ or not os.path.basename(getattr(sys, "_MEIPASS", "")).startswith("_MEI"):
        return
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
        os.unsetenv(OLD_SHARED_FOLDER_ENV)
        _environment_lock.release()


def let_run_path_read_files():
    """Make ``runpy.run_path()`` of a file inside the bundle read that file, on PyInstaller 6.10.

    PyInstaller 6.10.0 added a ``sys.path_hooks`` entry, ``PyiFrozenImporter.path_hook``, that accepts any path inside
    the bundle, files included; ``runpy.run_path()`` then takes the entry script's code file for a folder and fails
    ("can't find '__main__' module"), and that is how spawn and forkserver workers run the entry script. PyInstaller
    6.11.0 refuses files there (pyinstaller#8767); this does the same on 6.10. Before 6.10 there is no such hook, and
    from 6.11 it already refuses files, so this changes nothing there.
    """
    for index, hook in enumerate(sys.path_hooks):
        if getattr(getattr(hook, "__self__", None), "__name__", None) == "PyiFrozenImporter":
            sys.path_hooks[index] = _for_folders_only(hook)


def _for_folders_only(path_hook):
    def path_hook_for_folders(path):
        if os.path.isfile(path):
            raise ImportError("only folders are supported")  # the next hook, or none, handles it: as on 6.11+
        return path_hook(path)

    return path_hook_for_folders


def ignore_sigpipe_like_python():
    """Ignore SIGPIPE, as Python itself does at start-up, where PyInstaller's bootloader left it at its default.

    PyInstaller 6.0-6.2 started Python without its signal handlers (fixed by pyinstaller#8105): a process writing to a
    pipe whose reader is gone, such as the pipe to a worker that failed to start, is then killed by SIGPIPE instead
    of getting BrokenPipeError. Python ignores SIGPIPE whenever it installs its handlers, so the default here can only
    mean that bug.
    """
    import signal

    if hasattr(signal, "SIGPIPE") and signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL:
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
