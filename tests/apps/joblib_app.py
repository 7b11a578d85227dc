"""joblib.Parallel(n_jobs=2) with the default (loky) backend on a function of the entry script; no freeze_support().

loky starts its workers as `exe -m joblib.externals.loky.backend.popen_loky_posix ...` (POSIX) or
`exe --multiprocessing-fork HANDLE` (frozen Windows), and its resource tracker as `exe -c "..."`. The main block prints
`MAIN-BLOCK <pid>` once per run; a worker that ran it would print it again.
"""

import json
import os
import sys

if os.name == "posix":  # the hardening tests' genuine parent; first: see tests/apps/as_parent.py
    import as_parent  # noqa: F401

from joblib import Parallel, delayed

print("MODULE-LEVEL", __name__, file=sys.stderr)


def f(i):
    return i * i, os.getpid()


if __name__ == "__main__":
    print("MAIN-BLOCK", os.getpid(), flush=True)
    results = Parallel(n_jobs=2)(delayed(f)(i) for i in range(10))
    print(
        "RESULT "
        + json.dumps(
            {
                "squares": [square for square, _ in results],
                "ran_in_main_process": any(pid == os.getpid() for _, pid in results),
            }
        ),
        flush=True,
    )
