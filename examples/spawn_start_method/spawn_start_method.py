"""An app whose spec file fixes the start method (`spawn`) for every platform, built as one file.

With spawn, each worker is a fresh process of the bundle that runs the entry script's module-level code as
`__mp_main__` (never its main block), which is how it finds `describe` below.
"""

import multiprocessing
import os


def describe(n):
    return "%d squared is %d (in %s)" % (n, n * n, __name__)


if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        lines = pool.map(describe, range(3))
    print("start method:", multiprocessing.get_start_method())
    print("main process:", __name__, os.getpid())
    for line in lines:
        print(line)
