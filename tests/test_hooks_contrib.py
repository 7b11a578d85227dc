"""oxmp installed next to pyinstaller-hooks-contrib: no conflict, and oxmp's hook and runtime hook are the ones used.

Both are found by PyInstaller through the `pyinstaller40` entry point. hooks-contrib must define no hook and no
runtime hook for multiprocessing of its own, and a real build must include oxmp's runtime hook and leave out stock
PyInstaller's.
"""

import ast
import importlib
import os
import re

import pytest

from tests import bundles

OXMP_RTHOOK = "pyi_rth_oxmp_multiprocessing.py"
STOCK_RTHOOK = "pyi_rth_multiprocessing.py"


def pyinstaller40_hook_dirs():
    """{distribution name: [hook folders]} for every installed `pyinstaller40` / `hook-dirs` entry point."""
    from importlib import metadata

    found = {}
    for distribution in metadata.distributions():
        for entry_point in distribution.entry_points:
            if entry_point.group == "pyinstaller40" and entry_point.name == "hook-dirs":
                module_name, _, function = entry_point.value.partition(":")
                hook_dirs = getattr(importlib.import_module(module_name.strip()), function.strip())()
                name = distribution.metadata["Name"].lower().replace("_", "-")
                found.setdefault(name, []).extend(hook_dirs)
    return found


def runtime_hook_modules(hook_dir):
    """The modules a hook folder's rthooks.dat defines runtime hooks for."""
    path = os.path.join(hook_dir, "rthooks.dat")
    if not os.path.isfile(path):
        return set()
    with open(path, encoding="utf-8") as dat:
        return set(ast.literal_eval(dat.read()))


def test_hooks_contrib_is_installed_and_importable():
    # It is a dependency of PyInstaller; oxmp must work beside whichever version the PyInstaller in use allows.
    import _pyinstaller_hooks_contrib

    assert _pyinstaller_hooks_contrib.__version__
    assert "pyinstaller-hooks-contrib" in pyinstaller40_hook_dirs()


def test_only_oxmp_defines_hooks_for_multiprocessing():
    hook_dirs = pyinstaller40_hook_dirs()
    assert "oxmp" in hook_dirs
    for distribution, dirs in hook_dirs.items():
        for hook_dir in dirs:
            # hooks-contrib keeps its hooks in subfolders (stdhooks/, rthooks/) named by its own get_hook_dirs().
            defines = "multiprocessing" in runtime_hook_modules(hook_dir) or os.path.isfile(
                os.path.join(hook_dir, "hook-multiprocessing.py")
            )
            assert defines == (distribution == "oxmp"), (distribution, hook_dir)


@pytest.mark.bundle
def test_build_uses_oxmps_runtime_hook_not_the_stock_one(builder, run):
    bundle = builder.build("probe", way=bundles.ENTRY_POINT, cli=True)
    included = re.findall(r"Including run-time hook '([^']+)'", bundle.log)
    assert any(os.path.basename(hook) == OXMP_RTHOOK for hook in included), bundle.log
    assert not any(os.path.basename(hook) == STOCK_RTHOOK for hook in included), bundle.log
    result = run(bundle)
    assert result.returncode == 0, result
    assert bundles.only_result(result)["freeze_support"] == "_oxmp_runtime.boot.freeze_support"
    assert "pyinstaller-hooks-contrib" in pyinstaller40_hook_dirs()  # it was there for this build
