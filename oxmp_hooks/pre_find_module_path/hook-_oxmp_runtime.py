# `_oxmp_runtime` (the code oxmp's runtime hook runs) is not on sys.path: tell PyInstaller where it is.


def pre_find_module_path(hook_api):
    # hook-multiprocessing.py has imported oxmp_hooks by now, even from a checkout that is not installed: only oxmp's
    # runtime hook and that hook's hidden import ask for `_oxmp_runtime`, and PyInstaller finds both after running it.
    import oxmp_hooks

    hook_api.search_dirs = [oxmp_hooks.runtime_dir()]
