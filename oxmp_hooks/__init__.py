"""oxmp: multiprocessing that just works in PyInstaller bundles.

Two PyInstaller hook folders, installed as they are in the source tree:

- ``oxmp_hooks/hooks/``: the build hooks (``hook-multiprocessing.py``, ``hook-inspect.py``, ``hook-pkgutil.py``), which
  call the build-side modules of this package;
- ``runtime_hooks/``, beside this package: everything that runs inside a bundle, the runtime hooks (``rthooks.dat``,
  ``rthooks/``) beside the package they call (``_oxmp_runtime``), and the hook that tells PyInstaller where that is.

PyInstaller finds both through the ``pyinstaller40`` entry point (``get_hook_dirs``) when oxmp is installed, or by
path with ``--additional-hooks-dir`` / ``hookspath`` (both folders).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

__all__ = ["__version__", "get_hook_dirs", "HOOKS_DIR", "RUNTIME_HOOKS_DIR", "check_hook_folders", "runtime_module"]

__version__ = "0.1.0"

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
HOOKS_DIR = os.path.join(PACKAGE_DIR, "hooks")
RUNTIME_HOOKS_DIR = os.path.join(os.path.dirname(PACKAGE_DIR), "runtime_hooks")


def get_hook_dirs() -> list[str]:
    """The ``pyinstaller40`` / ``hook-dirs`` entry point: the build hooks' folder and the runtime hooks' folder."""
    return [HOOKS_DIR, RUNTIME_HOOKS_DIR]


def check_hook_folders(folders: list[Any] | None) -> None:
    """Stop the build unless both of oxmp's hook folders are among the build's ``folders`` (None: PyInstaller does not
    say, nothing to check). A build with only the build hooks would bake oxmp's settings and run PyInstaller's own
    runtime hooks; one with only the runtime hooks, oxmp's runtime hooks with nothing baked for them. The build hooks
    (oxmp_hooks/baked.py) and the runtime hooks' pre-find hook each call this.

    The items of PyInstaller's lists (``Analysis.hookspath``, the module graph's ``_user_hook_dirs``) are folders in
    PyInstaller 6.0 to at least 6.8, (folder, priority) pairs in later releases (read in build_main.py and
    depend/analysis.py of 6.0.0, 6.3.0, 6.8.0 and 6.22.3); both are accepted.
    """
    if not folders:
        return
    named = {os.path.realpath(item[0] if isinstance(item, tuple) else item) for item in folders}
    both = "--additional-hooks-dir %s --additional-hooks-dir %s" % (HOOKS_DIR, RUNTIME_HOOKS_DIR)
    advice = (
        "name both of its hook folders, %s (or both in the spec's hookspath), or install oxmp, which registers both"
    )
    if os.path.realpath(RUNTIME_HOOKS_DIR) not in named:
        raise SystemExit("ERROR: oxmp: this build runs oxmp's build hooks but not its runtime hooks: " + advice % both)
    if os.path.realpath(HOOKS_DIR) not in named:
        raise SystemExit("ERROR: oxmp: this build has oxmp's runtime hooks but not its build hooks: " + advice % both)


def runtime_module(name: str) -> ModuleType:
    """``_oxmp_runtime.<name>``, the module the bundle runs, imported at build time for its names and functions.

    The runtime package is not on ``sys.path`` (it lives in a hook folder, not in an installed package): the first call
    registers ``_oxmp_runtime`` from ``runtime_hooks/`` in ``sys.modules``, and every module is then imported
    normally, once, whoever asks (the build hooks, the tools, the tests).
    """
    import importlib
    import sys

    folder = os.path.join(RUNTIME_HOOKS_DIR, "_oxmp_runtime")
    package = sys.modules.get("_oxmp_runtime")
    if package is not None and [os.path.realpath(path) for path in package.__path__] != [os.path.realpath(folder)]:
        # Two copies of oxmp in one process (an installed one, and a checkout named by path): this package's build
        # code must not check settings with the other copy's runtime.
        raise RuntimeError(
            "oxmp: the runtime loaded from %s is not this package's (%s): use one copy of oxmp"
            % (list(package.__path__), folder)
        )
    if package is None:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "_oxmp_runtime", os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules["_oxmp_runtime"] = package
        spec.loader.exec_module(package)
    return importlib.import_module("_oxmp_runtime." + name)
