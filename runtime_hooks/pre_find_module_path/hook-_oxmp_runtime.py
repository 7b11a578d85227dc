# `_oxmp_runtime` (the package oxmp's runtime hooks call) is not on sys.path: tell PyInstaller where it is, the folder
# of this hook folder, runtime_hooks/.
#
# This hook runs in every build that has oxmp's runtime hooks, so it also stops a build that has them without oxmp's
# build hooks (only runtime_hooks/ named with --additional-hooks-dir or hookspath): such a bundle would replace
# PyInstaller's runtime hooks for multiprocessing, inspect and pkgutil with nothing baked for them to run.

import os


def build_hooks_folder():
    # oxmp_hooks/hooks/ beside this folder, in a checkout and once installed alike.
    runtime_hooks = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(os.path.dirname(runtime_hooks), "oxmp_hooks", "hooks")


def hook_folders(module_graph):
    # The build's hook folders. Private: PyiModuleGraph._user_hook_dirs, folders in PyInstaller 6.0-6.8 and (folder,
    # priority) pairs later (read in depend/analysis.py of 6.0.0, 6.3.0, 6.8.0 and 6.22.3). None: cannot tell.
    folders = getattr(module_graph, "_user_hook_dirs", None)
    if not isinstance(folders, (list, tuple)):
        return None
    return [item[0] if isinstance(item, tuple) else item for item in folders]


def pre_find_module_path(hook_api):
    folders = hook_folders(hook_api.module_graph)
    wanted = build_hooks_folder()
    if folders is not None and os.path.realpath(wanted) not in [os.path.realpath(folder) for folder in folders]:
        raise SystemExit("ERROR: oxmp: this build has oxmp's runtime hooks but not its build hooks: name both of its "
                         "hook folders, --additional-hooks-dir %s --additional-hooks-dir %s (or both in the spec's "
                         "hookspath), or install oxmp, which registers both"
                         % (wanted, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    hook_api.search_dirs = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
