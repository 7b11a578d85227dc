# oxmp's runtime hook for inspect and pkgutil (rthooks.dat names this one file for both: PyInstaller 6.0 to 6.22.3
# include a runtime hook once however many of its modules the app has, normalize_toc() in building/build_main.py). It
# replaces PyInstaller's pyi_rth_inspect.py and pyi_rth_pkgutil.py, and runs their code (bundled at build time) right
# after the app or a worker first imports the module: see _oxmp_runtime/deferred.py.
# Runtime hooks share the entry script's __main__ namespace, so everything happens inside a function that is deleted.
#
# It runs at every start of every process of the bundle: where the build chose "at first import", it waits for that
# import with one stat of the code file and a finder, and loads nothing of oxmp's before ("free when unused",
# benchmarks/bench.py).


def _pyi_rthook():
    import os
    import sys

    # Copies, checked by tests/test_startup.py: deferred.MODULES (build side), and the folder and file names of
    # deferred.code_path(module_name, when) for deferred.AT_FIRST_IMPORT and deferred.AT_START (runtime).
    module_names = ("inspect", "pkgutil")
    code_dir = os.path.join(sys._MEIPASS, "_oxmp", "pyinstaller_rthooks")

    def has_code(module_name, when):
        return os.path.isfile(os.path.join(code_dir, "%s.%s.marshal" % (module_name, when)))

    def run_pyinstaller_hooks(module_name):
        from _oxmp_runtime import deferred

        deferred.run(module_name)

    # A meta path finder that finds nothing itself: at the module's first import it leaves sys.meta_path and hands over
    # to deferred.run(), which wraps the module's loader to run PyInstaller's hooks right after the module's code.
    def watch(module_name):
        def find_spec(fullname, path=None, target=None):
            if fullname != module_name:
                return None
            if watcher in sys.meta_path:
                sys.meta_path.remove(watcher)
            run_pyinstaller_hooks(module_name)
            import importlib.util

            return importlib.util.find_spec(fullname)

        watcher = type(sys)("oxmp %s watcher" % module_name)
        watcher.find_spec = find_spec
        sys.meta_path.insert(0, watcher)

    # Each module's code is in the bundle where oxmp's build hook for it ran, that is, where the app has the module.
    with_code = []
    for module_name in module_names:
        if has_code(module_name, "first-import"):
            with_code.append(module_name)
            if module_name in sys.modules:
                run_pyinstaller_hooks(module_name)
            else:
                watch(module_name)
        elif has_code(module_name, "start-up"):
            with_code.append(module_name)
            run_pyinstaller_hooks(module_name)  # now, as the build chose
    if not with_code:
        # This hook is in the bundle because the app has one of the modules, yet no code for either was bundled.
        from _oxmp_runtime import deferred

        deferred.say_missing(module_names)


_pyi_rthook()
del _pyi_rthook
