# oxmp's runtime hook for inspect. It replaces PyInstaller's pyi_rth_inspect.py, and runs that file's code (bundled
# at build time) right after the app or a worker first imports inspect: see _oxmp_runtime/deferred.py.
# Runtime hooks share the entry script's __main__ namespace, so everything happens inside a function that is deleted.
#
# It runs at every start of every process of the bundle: where the build chose "at first import", it waits for that
# import with one stat of the code file and a finder, and loads nothing of oxmp's before ("free when unused",
# benchmarks/bench.py). The runtime hooks for inspect and pkgutil differ only in the name of their module (a test
# checks).


def _pyi_rthook():
    import os
    import sys

    module_name = "inspect"
    # deferred.code_path(module_name, deferred.AT_FIRST_IMPORT): tests/test_startup.py checks this copy.
    first_import_code = os.path.join(sys._MEIPASS, "_oxmp", "pyinstaller_rthooks",
                                     module_name + ".first-import.marshal")

    def run_pyinstaller_hooks():
        from _oxmp_runtime import deferred

        deferred.run(module_name)

    if module_name in sys.modules or not os.path.isfile(first_import_code):
        run_pyinstaller_hooks()  # now, as the build chose (or it says that the code is missing)
        return

    # A meta path finder that finds nothing itself: at the module's first import it leaves sys.meta_path and hands over
    # to deferred.run(), which wraps the module's loader to run PyInstaller's hooks right after the module's code.
    def find_spec(fullname, path=None, target=None):
        if fullname != module_name:
            return None
        if watcher in sys.meta_path:
            sys.meta_path.remove(watcher)
        run_pyinstaller_hooks()
        import importlib.util

        return importlib.util.find_spec(fullname)

    watcher = type(sys)("oxmp %s watcher" % module_name)
    watcher.find_spec = find_spec
    sys.meta_path.insert(0, watcher)


_pyi_rthook()
del _pyi_rthook
