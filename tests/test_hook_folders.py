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
