# oxmp's runtime hook for pkgutil. It replaces PyInstaller's pyi_rth_pkgutil.py, and runs that file's code (bundled
# at build time) right after the app or a worker first imports pkgutil: see _oxmp_runtime/deferred.py.
# Runtime hooks share the entry script's __main__ namespace, so everything happens inside a function that is deleted.


def _pyi_rthook():
    from _oxmp_runtime import deferred

    deferred.run("pkgutil")


_pyi_rthook()
del _pyi_rthook
