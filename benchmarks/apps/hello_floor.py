"""The floor under P1: hello.py's graph changes minus multiprocessing itself. Bundling multiprocessing brings pkgutil
(multiprocessing.spawn imports runpy, which imports pkgutil) and ctypes (multiprocessing.sharedctypes), and PyInstaller
does work at start-up for each: its bootstrap imports ctypes to install its ctypes hooks, and its pkgutil runtime hook
imports pkgutil (oxmp defers that one to pkgutil's first import). This bundle has both and no multiprocessing, so no
multiprocessing runtime hook: what is left between it and the oxmp bundle of hello.py is oxmp's own cost."""

import sys

if "--parallel" in sys.argv:
    import ctypes  # noqa: F401  (only here to put ctypes and pkgutil in the bundle's graph)
    import pkgutil  # noqa: F401

print("hello")
