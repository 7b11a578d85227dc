# `_oxmp_runtime` (the package oxmp's runtime hooks call) is not on sys.path: tell PyInstaller where it is, the folder
# of this hook folder, runtime_hooks/.
#
# This hook runs in every build that has oxmp's runtime hooks, so it also stops a build that has them without oxmp's
# build hooks (only runtime_hooks/ named with --additional-hooks-dir or hookspath): oxmp_hooks.check_hook_folders().

import os
import runpy

RUNTIME_HOOKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_hook_dirs(module_graph):
    # The build's hook folders. Private: PyiModuleGraph._user_hook_dirs (PyInstaller 6.0-6.22.3 checked, see
    # check_hook_folders() for its two shapes). None where a PyInstaller does not have it: nothing is checked.
    folders = getattr(module_graph, "_user_hook_dirs", None)
    return folders if isinstance(folders, (list, tuple)) else None


def pre_find_module_path(hook_api):
    # The package beside this folder (installed, or a checkout named by path), as oxmp's build hooks load it.
    package = runpy.run_path(os.path.join(os.path.dirname(RUNTIME_HOOKS), "oxmp_hooks", "hooks", "_this_package.py"))
    package["load"]().check_hook_folders(user_hook_dirs(hook_api.module_graph))
    hook_api.search_dirs = [RUNTIME_HOOKS]
