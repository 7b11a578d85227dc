# oxmp's runtime hook for multiprocessing. It replaces PyInstaller's own pyi_rth_multiprocessing.py.
# Runtime hooks share the entry script's __main__ namespace, so everything happens inside a function that is deleted.


def _pyi_rthook():
    from _oxmp_runtime import boot

    boot.run()


_pyi_rthook()
del _pyi_rthook
