# `_oxmp_runtime` (the code oxmp's runtime hooks run) is not on sys.path: tell PyInstaller where it is.

import os
import runpy


def pre_find_module_path(hook_api):
    # The package of this hook folder, as the other hooks use it (installed, or a checkout named by path).
    hooks_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    package = runpy.run_path(os.path.join(hooks_dir, "_this_package.py"))["load"]()
    hook_api.search_dirs = [package.runtime_dir()]
