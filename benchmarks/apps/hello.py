"""P1: a hello app that has multiprocessing in its graph but never imports it (the import is behind an option)."""

import sys

if "--parallel" in sys.argv:
    import multiprocessing  # noqa: F401  (only here to put multiprocessing in the bundle's graph)

print("hello")
