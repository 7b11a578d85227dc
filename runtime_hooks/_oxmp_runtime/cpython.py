"""The few places where oxmp needs multiprocessing's (or the interpreter's) private attributes, one function each.

Each function names the CPython versions whose source was checked. Nothing else in oxmp touches private attributes.
"""

import sys

# Names for annotations only: nothing is imported for them at run time (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType


def set_default_start_method(method: "str", library: "str" = "multiprocessing") -> "None":
    """Make ``method`` the start method ``library`` uses unless the app chooses one: a soft default.

    ``multiprocessing.set_start_method()`` is a hard choice: a later ``set_start_method()`` without ``force=True``
    raises "context has already been set". The interpreter's own default lives in ``DefaultContext._default_context``
    and only becomes the actual context when first used, which is the behaviour oxmp wants for its default.
    Checked: 3.8-3.15 (``DefaultContext.__init__`` sets ``_default_context``; ``get_start_method()``,
    ``get_all_start_methods()`` and ``get_context(None)`` read it while ``_actual_context`` is None; from 3.14.9 it is
    a ``functools.cached_property``, which an assignment to the instance still overrides), multiprocess
    0.70.12-0.70.19 and billiard 4.0-4.3.2 (the same ``DefaultContext`` and ``_concrete_contexts``).
    """
    import importlib

    context = importlib.import_module(library + ".context")
    context._default_context._default_context = context._concrete_contexts[method]


def send_main_path_on_windows(spawn: "ModuleType") -> "None":
    """On Windows, send the entry script's path to spawned workers, as CPython does on every other platform.

    ``spawn.get_preparation_data()`` skips ``init_main_from_path`` when ``spawn.WINEXE`` is true (a frozen Windows
    app), because a frozen app has no script to run. An oxmp bundle has one (the build hook puts the entry script's
    code at ``__main__.__file__``), so workers can run it as ``__mp_main__`` like under plain Python.
    Checked: 3.8-3.15 (``WINEXE`` is read only in ``get_preparation_data()``).
    """
    if sys.platform == "win32":
        spawn.WINEXE = False


# How long stop_helpers() waits for each helper: CPython 3.13.18+ waits 1 s for its resource tracker at shutdown.
HELPER_EXIT_TIMEOUT = 2.0


def stop_helpers() -> "None":
    """Close this process's end of the resource trackers' and forkservers' pipes, and wait for them to exit.

    Each exits once the last write end of its pipe closes, which otherwise happens only when this process is gone;
    a onefile bundle deletes its files at that moment, and a helper still starting or cleaning up then fails with a
    traceback. Waits at most ``HELPER_EXIT_TIMEOUT`` per helper, for one kept alive by a process of the app's; billiard
    keeps no process id of its helpers, which are only told. Checked: 3.8-3.15 (``resource_tracker._resource_tracker.
    _fd`` / ``_pid``; ``forkserver._forkserver._forkserver_alive_fd`` / ``_forkserver_pid``), multiprocess
    0.70.12-0.70.19 (the same), billiard 4.0-4.3.2 (see libraries.py). CPython's own ``_stop()`` methods differ per
    version (3.13.3 added a blocking wait at shutdown, 3.13.18 a timeout), so they are not used.
    """
    import os
    import time

    from _oxmp_runtime.libraries import LIBRARIES

    if os.name != "posix":
        return  # no resource tracker or forkserver on Windows
    for library in LIBRARIES:
        for module_name, owner_name, fd_name, pid_name in library.helpers:
            owner = getattr(sys.modules.get(module_name), owner_name, None)
            fd = getattr(owner, fd_name, None)
            pid = getattr(owner, pid_name, None) if pid_name else None
            if fd is None or (pid_name and pid is None):
                continue  # none started, or (in a worker) the parent's
            setattr(owner, fd_name, None)
            if pid_name:
                setattr(owner, pid_name, None)
            try:
                os.close(fd)
                deadline = time.monotonic() + HELPER_EXIT_TIMEOUT
                while pid is not None and os.waitpid(pid, os.WNOHANG)[0] == 0 and time.monotonic() < deadline:
                    time.sleep(0.005)
            except OSError:
                pass  # already reaped, or not our child


def finalize_before_exit() -> "None":
    """Do what the interpreter's finalization does before it exits, for a process that must then end otherwise
    (killed by its own SIGINT, as python ends after a KeyboardInterrupt): join the threads that are not daemons, then
    run the exit handlers.

    Checked: 3.8-3.15 (``threading._shutdown()``, which ``Py_FinalizeEx`` calls first; ``atexit._run_exitfuncs()``).
    """
    import atexit

    shutdown_threads = getattr(sys.modules.get("threading"), "_shutdown", None)
    if shutdown_threads is not None:  # threading never imported: no thread to join
        shutdown_threads()
    atexit._run_exitfuncs()
