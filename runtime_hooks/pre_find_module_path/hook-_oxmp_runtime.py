# `_oxmp_runtime` (the package oxmp's runtime hooks call) is not on sys.path: tell PyInstaller where it is, the folder
# of this hook folder, runtime_hooks/.

import os


def pre_find_module_path(hook_api):
    hook_api.search_dirs = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
