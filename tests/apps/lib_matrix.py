"""The runtime matrix for multiprocessing's forks: `lib_matrix LIBRARY SCENARIO [--method M] [--freeze-support]`.

LIBRARY is `multiprocess` (dill-based: pathos, datasets) or `billiard` (Celery). Like mp_matrix it parses its
arguments first, never calls freeze_support(), prints `MAIN-BLOCK <pid>` once in its main block and `MODULE-LEVEL`
in every process that runs the entry script, and one `RESULT {json}` line per run. `--default` uses the library's
default start method (what oxmp's settings make it) unless `--method` names one; `--freeze-support` calls the
library's own freeze_support() first, as apps written for stock PyInstaller do.
"""

import argparse
import json
import os
import sys

sys.stderr.write("MODULE-LEVEL %s\n" % __name__)
sys.stderr.flush()


def square(x):
    return x * x


def put_pid(queue, value):
    queue.put((value * 2, os.getpid() != int(os.environ.get("LIB_MATRIX_PARENT", "0"))))


def run(library, scenario, method):
    if library == "multiprocess":
        import multiprocess as mp
    else:
        import billiard as mp
    context = mp.get_context(method) if method else mp.get_context()
    result = {"start_method": context.get_start_method()}
    if scenario == "pool_map":
        with context.Pool(2) as pool:
            result["squares"] = pool.map(square, range(8))
    elif scenario == "lambda":  # multiprocess pickles with dill: lambdas of the entry script are targets too
        with context.Pool(2) as pool:
            result["squares"] = pool.map(lambda x: x * x, range(8))
    elif scenario == "process":
        os.environ["LIB_MATRIX_PARENT"] = str(os.getpid())
        queue = context.Queue()
        process = context.Process(target=put_pid, args=(queue, 21))
        process.start()
        result["doubled"], result["other_process"] = queue.get(timeout=60)
        process.join(60)
        result["exitcode"] = process.exitcode
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("library", choices=["multiprocess", "billiard"])
    parser.add_argument("scenario", choices=["pool_map", "lambda", "process"])
    parser.add_argument("--method")
    parser.add_argument("--freeze-support", action="store_true", help="call the library's freeze_support() first")
    options = parser.parse_args()
    if options.freeze_support:
        __import__(options.library).freeze_support()  # harmless in the app, as under python
    print("MAIN-BLOCK", os.getpid(), flush=True)
    print("RESULT " + json.dumps(run(options.library, options.scenario, options.method)), flush=True)
