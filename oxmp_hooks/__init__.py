"""oxmp: multiprocessing that just works in PyInstaller bundles.

This package is a PyInstaller hook directory. PyInstaller finds it through the ``pyinstaller40`` entry point
(``get_hook_dirs``) when oxmp is installed, or by path with ``--additional-hooks-dir`` / ``hookspath``.
"""

import os

__version__ = "0.1.0"

HOOKS_DIR = os.path.dirname(os.path.abspath(__file__))


def get_hook_dirs():
    """The ``pyinstaller40`` / ``hook-dirs`` entry point."""
    return [HOOKS_DIR]


def runtime_dir():
    """The folder that holds ``_oxmp_runtime``, the package that runs inside bundles.

    It is ``runtime_hooks/`` at the top of a checkout, and ``oxmp_hooks/runtime_hooks/`` once installed (so that no
    top-level ``runtime_hooks`` lands in site-packages).
    """
    for candidate in (os.path.join(HOOKS_DIR, "runtime_hooks"), os.path.join(os.path.dirname(HOOKS_DIR), "runtime_hooks")):
        if os.path.isfile(os.path.join(candidate, "_oxmp_runtime", "__init__.py")):
            return candidate
    raise RuntimeError("oxmp is incomplete: no runtime_hooks/_oxmp_runtime beside %s" % HOOKS_DIR)


_runtime_modules = {}


def runtime_module(name):
    """Load ``_oxmp_runtime.<name>`` at build time (once), without putting the runtime on sys.path."""
    if name not in _runtime_modules:
        import importlib.util

        path = os.path.join(runtime_dir(), "_oxmp_runtime", name + ".py")
        spec = importlib.util.spec_from_file_location("_oxmp_runtime." + name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _runtime_modules[name] = module
    return _runtime_modules[name]
