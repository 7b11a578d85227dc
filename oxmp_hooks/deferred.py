"""Build side of running PyInstaller's runtime hooks for ``inspect`` and ``pkgutil`` at first import, not at start-up.

oxmp's ``rthooks.dat`` names its own runtime hook for ``inspect`` and ``pkgutil`` (one file for both); PyInstaller
reads it before its own, so PyInstaller's ``pyi_rth_inspect.py`` and ``pyi_rth_pkgutil.py`` are left out of the
bundle's start-up. oxmp's build hooks for the same modules, ``hook-inspect.py`` and ``hook-pkgutil.py``, call
``hook()`` here. They run exactly when the runtime hooks apply (the module is in the app), with or without
multiprocessing. (A hook for ``_oxmp_runtime`` would never run: PyInstaller analyses what runtime hooks import after it
has run the build hooks. Neither PyInstaller nor hooks-contrib has a build hook for either module, which oxmp's would
replace: a test checks.) ``hook()``:

- compiles the hook files that the building PyInstaller's own ``rthooks.dat`` lists for the module, unchanged, into
  the bundle (``_oxmp_runtime/deferred.py`` runs them), and lets PyInstaller analyse those files' imports as it
  analyses a runtime hook's;
- records with that code when to run it: at the module's first import if every hook file is a version in ``CHECKED``
  and ``defer_pyinstaller_hooks`` is on; otherwise at start-up, as PyInstaller would run it;
- writes the baked record (``oxmp_hooks/baked.py``), so that a bundle without multiprocessing has its settings too.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from typing import TYPE_CHECKING, Any

from oxmp_hooks import runtime_module

if TYPE_CHECKING:
    from PyInstaller.depend.imphookapi import PostGraphAPI

__all__ = ["hook"]

runtime = runtime_module("deferred")

# The modules whose PyInstaller runtime hooks oxmp takes over.
MODULES = ("inspect", "pkgutil")

# PyInstaller's runtime hook files that were read, release by release, and found to do nothing but import their module
# (and what they need for it) and patch that one module: replace `inspect.getsourcefile`, replace
# `pkgutil.iter_modules` (6.0-6.9), register an `iter_importer_modules` implementation for PyInstaller's finder
# (6.10 on). Running such a hook right after its module's first import leaves nothing different for the app to see,
# except that the module is not imported until someone imports it. sha256 of the file (with LF line endings), and the
# PyInstaller releases that ship it. tests/test_deferred_hooks.py fails when the installed PyInstaller's is not here.
CHECKED = {
    ("inspect", "pyi_rth_inspect.py"): {
        "8a1ce70c1d8bdd8c764204663a5725519b0b7f7b27656ff878710e856abdbb66": "6.0.0-6.7.0",
        "a654ac2bac69b34acd3ebd9463b7bfbe58c5287e089e375d354eba5724429360": "6.8.0-6.11.1",
        "729cdda9401492aef84afe33783865d3e7c69be90669d497699f0c874ad92844": "6.12.0-6.13.0",
        "e9db311f97b750a30a422e0bf2bdcff7514da67cd35b0f6189ad786956ff1abc": "6.14.0-6.22.3",
    },
    ("pkgutil", "pyi_rth_pkgutil.py"): {
        "b283b5f8128c200e5f2024887c4d6156a586f7c58039d68694822f84255f7a15": "6.0.0-6.1.0",
        "0fb06c43c6d5cdb30a7e78c250e785cf6448b7aff20a36a946d83b2237c27a7f": "6.2.0-6.3.0",
        "a3e65ab8be1230829b85e04600df2210a3b41ac35d3711bca9eeed44b3caab44": "6.4.0-6.9.0",
        "d39d8aca8bf0816928e06503272979c16b6ed616368405b101bd1a4ac8c554de": "6.10.0-6.11.1",
        "7d006a9675674b9cc7d8b11ea98ad037adea5dbdb6ebdf9b7a45c861501c4204": "6.12.0-6.22.3",
    },
}


def pyinstaller_hook_files(module_name: str) -> list[str]:
    """The runtime hook files the building PyInstaller defines for ``module_name`` (absolute paths, in its order)."""
    import ast

    import PyInstaller

    hooks_dir = os.path.join(os.path.dirname(os.path.abspath(PyInstaller.__file__)), "hooks")
    with open(os.path.join(hooks_dir, "rthooks.dat"), encoding="utf-8") as dat:
        names = ast.literal_eval(dat.read()).get(module_name, [])
    return [os.path.join(hooks_dir, "rthooks", name) for name in names]


def digest(path: str) -> str:
    with open(path, "rb") as hook_file:
        return hashlib.sha256(hook_file.read().replace(b"\r\n", b"\n")).hexdigest()


def unchecked_files(module_name: str, paths: list[str]) -> list[str]:
    """The hook files among ``paths`` that are not a version in ``CHECKED``."""
    return [path for path in paths if digest(path) not in CHECKED.get((module_name, os.path.basename(path)), {})]


def when_to_run(settings: dict[str, Any], module_name: str, paths: list[str]) -> str:
    """When a bundle with ``settings`` runs PyInstaller's hook files ``paths`` for ``module_name``."""
    if settings["defer_pyinstaller_hooks"] and not unchecked_files(module_name, paths):
        return runtime.AT_FIRST_IMPORT
    return runtime.AT_START


def hook(hook_api: PostGraphAPI) -> None:
    """oxmp's build hook for ``inspect`` or ``pkgutil`` (``hook_api.__name__``)."""
    from PyInstaller.config import CONF
    from PyInstaller.utils.hooks import logger

    from oxmp_hooks import baked

    module_name = hook_api.__name__
    paths = pyinstaller_hook_files(module_name)
    settings = baked.validated_settings(hook_api)
    for path in unchecked_files(module_name, paths):
        logger.info(
            "oxmp: PyInstaller's %s is not a version oxmp has checked: it runs at start-up", os.path.basename(path)
        )
    for path in paths:
        # What PyInstaller does with a runtime hook: collect what it imports. Its code is not run here.
        hook_api.module_graph.add_script(path)
    hook_api.add_imports("_oxmp_runtime.deferred")
    code = write_code(
        module_name, when_to_run(settings, module_name, paths), paths, baked.outdir(hook_api.analysis, CONF["workpath"])
    )
    hook_api.add_datas(baked.record_datas(hook_api) + [(code, runtime.CODE_DIR)])


def write_code(module_name: str, when: str, paths: list[str], outdir: str) -> str:
    """Compile PyInstaller's hook files for a module into one file named for when to run them; returns its path."""
    codes = []
    for path in paths:
        with open(path, "rb") as source:
            # Named and compiled as PyInstaller compiles a runtime hook: its file name, no optimisation.
            codes.append(compile(source.read(), os.path.basename(path), "exec", dont_inherit=True, optimize=0))
    folder = os.path.join(outdir, os.path.basename(runtime.CODE_DIR))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, runtime.code_name(module_name, when))
    with open(path, "wb") as code_file:
        code_file.write(marshal.dumps(tuple(codes)))
    return path
