# oxmp's runtime hook for inspect. It replaces PyInstaller's pyi_rth_inspect.py, and runs that file's code (bundled
# at build time) right after the app or a worker first imports inspect: see _oxmp_runtime/deferred.py.
# Runtime hooks share the entry script's __main__ namespace, so everything happens inside a function that is deleted.


def _pyi_rthook():
    from _oxmp_runtime import deferred

    deferred.run("inspect")


_pyi_rthook()
del _pyi_rthook
