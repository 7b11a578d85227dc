"""oxmp's two hook folders go together: a build that has one without the other stops, whichever it has (the bundle
tests in tests/test_ways_in.py build both cases for real; these check the two checks on each shape of PyInstaller's
hook folder lists)."""

import os
import runpy

import pytest

from oxmp_hooks import HOOKS_DIR, RUNTIME_HOOKS_DIR, check_hook_folders

SHAPES = pytest.mark.parametrize("pairs", [False, True], ids=["folders (PyInstaller 6.0-6.8)", "(folder, priority)"])


def listed(folders, pairs):
    return [(folder, -1000) if pairs else folder for folder in folders]


@SHAPES
def test_the_build_hooks_want_the_runtime_hooks_folder(pairs):
    def check(*folders):
        check_hook_folders(listed(folders, pairs))  # as oxmp_hooks/baked.py passes Analysis.hookspath

    check(HOOKS_DIR, RUNTIME_HOOKS_DIR)
    check(HOOKS_DIR, RUNTIME_HOOKS_DIR + os.sep)
    with pytest.raises(SystemExit) as failure:
        check(HOOKS_DIR)
    assert "--additional-hooks-dir %s" % RUNTIME_HOOKS_DIR in str(failure.value)


class ModuleGraph:
    def __init__(self, user_hook_dirs):
        self._user_hook_dirs = user_hook_dirs


class PreFindModulePathAPI:
    def __init__(self, module_graph):
        self.module_graph = module_graph
        self.search_dirs = []


PRE_FIND_HOOK = os.path.join(RUNTIME_HOOKS_DIR, "pre_find_module_path", "hook-_oxmp_runtime.py")


@SHAPES
def test_the_runtime_hooks_want_the_build_hooks_folder(pairs):
    hook = runpy.run_path(PRE_FIND_HOOK)["pre_find_module_path"]
    api = PreFindModulePathAPI(ModuleGraph(listed([RUNTIME_HOOKS_DIR, HOOKS_DIR], pairs)))
    hook(api)
    assert api.search_dirs == [RUNTIME_HOOKS_DIR]  # where _oxmp_runtime is
    with pytest.raises(SystemExit) as failure:
        hook(PreFindModulePathAPI(ModuleGraph(listed([RUNTIME_HOOKS_DIR], pairs))))
    assert "--additional-hooks-dir %s" % HOOKS_DIR in str(failure.value)
    # A module graph that does not say (a PyInstaller without the private list): no check, the search folder still set.
    api = PreFindModulePathAPI(object())
    hook(api)
    assert api.search_dirs == [RUNTIME_HOOKS_DIR]


# --- One module object per runtime module ----------------------------------------------------------------------------

ONE_MODULE_OBJECT = """
import json, os, sys
sys.path[:0] = [sys.argv[1], os.path.join(sys.argv[1], "runtime_hooks")]  # a checkout, both folders importable
import oxmp_hooks
by_build = oxmp_hooks.runtime_module("settings")
import _oxmp_runtime.settings
try:
    import runtime_hooks._oxmp_runtime.settings
    other = "imported"
except ImportError as error:
    other = str(error)
print(json.dumps({"same": by_build is _oxmp_runtime.settings is sys.modules["_oxmp_runtime.settings"],
                  "other": other, "copies": sorted(name for name in sys.modules if name.endswith("settings")
                                                   and "oxmp" in name)}))
"""


def test_a_runtime_module_is_one_object_however_it_is_imported():
    import json
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    child = subprocess.run(
        [sys.executable, "-I", "-c", ONE_MODULE_OBJECT, root],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    got = json.loads(child.stdout)
    assert got["same"] is True
    assert got["other"].startswith(
        "oxmp's runtime package is imported as _oxmp_runtime, not as runtime_hooks._oxmp_runtime"
    ), got
    assert got["copies"] == ["_oxmp_runtime.settings"]
