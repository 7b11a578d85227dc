"""The places where oxmp relies on how PyInstaller's bootloader treats child processes (checked: bootloader 6.0.0-6.9.0,
``_MEIPASS2``, and 6.10.0-6.22.3, ``_PYI_APPLICATION_HOME_DIR``) and on how
it gives ``__main__`` its file name and loader (checked: 6.0.0-6.22.3). How it sets up Python's signals (6.0.0-6.22.3)
is handled in the runtime hook file itself (runtime_hooks/rthooks/pyi_rth_oxmp_multiprocessing.py), at every start."""

import os
import sys

# Names for annotations only: nothing is imported for them at run time (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading  # noqa: F401  (named in a type comment, which ruff does not read)
    from types import CodeType, ModuleType
    from typing import Any, NoReturn

    from _oxmp_runtime.entry import EntryScript
    from _oxmp_runtime.libraries import Library

# PyInstaller 6.0-6.9: a onefile executable started with _MEIPASS2 set runs from that folder instead of unpacking.
OLD_SHARED_FOLDER_ENV = "_MEIPASS2"
# PyInstaller 6.10+: set in every process of a onefile app; its children reuse the folder without help.
SHARED_FOLDER_ENV = "_PYI_APPLICATION_HOME_DIR"

_environment_lock = None  # type: threading.Lock | None  # made by share_onefile_folder(), where it is needed: threading costs every app's start-up


def share_onefile_folder(library: "Library", launcher_module: "ModuleType") -> "None":
    """Make the processes a multiprocessing library starts from a onefile app reuse its unpacked files, on PyInstaller
    6.0-6.9.

    From 6.10 the bootloader does this by itself. Before, each worker and helper unpacked the whole app again unless
    ``_MEIPASS2`` named the folder while it was started, which PyInstaller's own runtime hook (the one oxmp replaces)
    did around each launch for multiprocessing; so does this, for the two ways a library starts ``sys.executable``:
    its launcher on POSIX (``library.launcher`` in ``launcher_module``), its ``popen_spawn_win32.Popen`` on Windows.
    """
    global _environment_lock

    if SHARED_FOLDER_ENV in os.environ or not os.path.basename(getattr(sys, "_MEIPASS", "")).startswith("_MEI"):
        return
    import threading

    if _environment_lock is None:
        _environment_lock = threading.Lock()
    if sys.platform == "win32":
        import importlib

        popen_spawn_win32 = importlib.import_module(library.module("popen_spawn_win32"))

        class Popen(popen_spawn_win32.Popen):
            def __init__(self, *args: "Any", **kwargs: "Any") -> "None":
                with _shared_folder_in_environment():
                    super().__init__(*args, **kwargs)

        popen_spawn_win32.Popen = Popen
    else:
        attribute = library.launcher[1]
        spawnv_passfds = getattr(launcher_module, attribute)

        def spawnv_passfds_sharing(path: "str", args: "list[str]", passfds: "list[int]") -> "int":
            with _shared_folder_in_environment():
                return spawnv_passfds(path, args, passfds)

        setattr(launcher_module, attribute, spawnv_passfds_sharing)


class _shared_folder_in_environment:
    # os.putenv, not os.environ: the children of util.spawnv_passfds and CreateProcess inherit the C environment,
    # and nothing else in this process should see the variable.
    def __enter__(self) -> "None":
        _environment_lock.acquire()  # type: ignore[union-attr]  # made before any launch
        os.putenv(OLD_SHARED_FOLDER_ENV, sys._MEIPASS)  # type: ignore[attr-defined]  # set by PyInstaller's bootloader

    def __exit__(self, *exc_info: "object") -> "None":
        try:
            if hasattr(os, "unsetenv"):  # Windows has it from Python 3.9
                os.unsetenv(OLD_SHARED_FOLDER_ENV)
            else:
                os.putenv(OLD_SHARED_FOLDER_ENV, "")
        finally:
            _environment_lock.release()  # type: ignore[union-attr]


class FreezeSupportReached(BaseException):
    """freeze_support() called while a worker runs the entry script to find its targets (see
    run_entry_script_like_stock_workers)."""

    def __init__(self, namespace: "dict[str, Any]") -> "None":
        super().__init__()
        self.namespace = namespace


# [path] while this process runs the entry script for a worker (run_entry_script_like_stock_workers).
_running_entry_script = []  # type: list[str]


def running_entry_script() -> "bool":
    return bool(_running_entry_script)


def run_entry_script_like_stock_workers(spawn: "ModuleType", scripts: "list[EntryScript]") -> "None":
    """Make spawn workers and the forkserver run the entry script (as ``__mp_main__``) as PyInstaller's workers do.

    CPython runs the parent's main script in these processes, with ``runpy.run_path()`` in
    ``spawn._fixup_main_from_path`` (3.8-3.15: a module global, looked up at call time by ``prepare()`` and
    ``import_main_path()``), so that its functions and classes can be unpickled; an oxmp worker dispatches before the
    entry script, so this is how its module-level code runs there, as under plain Python. The path it gets is the
    bootloader's ``__main__.__file__``, ``<_MEIPASS>/<name>.py``, where nothing lies: for the bundle's entry scripts
    (``scripts``, entry.EntryScript), this runs the code the build put elsewhere under that path (entry.run_path()),
    with two differences from plain Python that stock PyInstaller workers have:

    - A freeze_support() call outside the main block stops the script there (freeze_support() raises
      FreezeSupportReached while the script runs): a stock worker runs the script as ``__main__`` until that call,
      which then runs the worker and exits. Apps without a main block rely on this (PyInstaller's own
      test_multiprocess_spawn_process and test_multiprocess_spawn_pool): past that call they start processes, which a
      worker cannot do. The worker keeps what the script defined before the call, as a stock worker does.
    - The module gets the loader PyInstaller gives the app's own ``__main__``, so that
      ``__main__.__loader__.get_code("__main__")`` works there too (PyInstaller's own
      test_multiprocessing_main_module_code_in_process). The bootloader sets ``__main__.__loader__`` once, before any
      runtime hook (``pyimod02_importers.install()``: a ``PyiFrozenImporter`` in 6.0-6.9, a
      ``PyiFrozenEntryPointLoader`` from 6.10), and both answer ``get_code("__main__")`` with
      ``sys.modules["__main__"]._pyi_main_co``, the code it ran; ``run_path()``'s module has no loader.
    """
    fixup = spawn._fixup_main_from_path
    if getattr(fixup, "oxmp_wrapped", False):
        return
    main = sys.modules["__main__"]
    loader = getattr(main, "__loader__", None)
    by_path = {os.path.normpath(script.main_path): script for script in scripts}

    def fixup_main_from_path(main_path: "str") -> "None":
        script = by_path.get(os.path.normpath(main_path))
        if script is None:
            return fixup(main_path)
        if getattr(sys.modules["__main__"], "__file__", None) == main_path:
            return  # CPython's own first check: a forked process, whose __main__ is the script already
        from _oxmp_runtime import entry

        code = entry.read_code(script.code_path)  # read once: run here, and kept for the loader below
        _running_entry_script.append(main_path)
        try:
            fixup_main_from_code(spawn, main_path, code)
        except FreezeSupportReached as reached:
            # What CPython's _fixup_main_from_path does with the namespace run_path() returns (3.8-3.15).
            import types

            module = types.ModuleType("__mp_main__")
            module.__dict__.update(reached.namespace)
            sys.modules["__main__"] = sys.modules["__mp_main__"] = module
        finally:
            _running_entry_script.pop()
        module = sys.modules["__main__"]
        if loader is None or module is main or module.__dict__.get("__loader__"):
            return
        module._pyi_main_co = code  # type: ignore[attr-defined]
        module.__loader__ = loader

    fixup_main_from_path.oxmp_wrapped = True  # type: ignore[attr-defined]
    spawn._fixup_main_from_path = fixup_main_from_path  # type: ignore[attr-defined]


def fixup_main_from_code(spawn: "ModuleType", main_path: "str", code: "CodeType") -> "None":
    """CPython's ``spawn._fixup_main_from_path(main_path)`` (the same in 3.8-3.15, ``old_main_modules`` included) for
    an entry script whose code is ``code``, past its first check (the caller's: ``__main__`` is not the script
    already); its check for IPython's launcher concerns no bundle."""
    import types

    from _oxmp_runtime import entry

    spawn.old_main_modules.append(sys.modules["__main__"])
    main_module = types.ModuleType("__mp_main__")
    main_module.__dict__.update(entry.run_path(main_path, code, "__mp_main__"))
    sys.modules["__main__"] = sys.modules["__mp_main__"] = main_module


def stop_entry_script() -> "NoReturn":
    """Called by freeze_support() while the entry script runs for a worker: stop it there, keeping what it has
    defined. ``runpy.run_path()`` runs it in a temporary module registered as ``__mp_main__`` (3.8-3.15)."""
    raise FreezeSupportReached(dict(sys.modules["__mp_main__"].__dict__))
