"""An app whose entry script's module-level code fails in its workers, where multiprocessing runs it as __mp_main__:
`worker_fails.py METHOD raise` (a ValueError) or `METHOD interrupt` (a KeyboardInterrupt). The app starts one
Process and prints the exit status it sees as one RESULT line; the worker's own report is on stderr."""

import json
import multiprocessing
import os
import sys

FAILURE = os.environ.get("WORKER_FAILURE")  # set by the app before it starts the worker, which inherits it

if __name__ == "__mp_main__":
    if FAILURE == "raise":
        raise ValueError("module-level code failed in a worker")
    if FAILURE == "interrupt":
        raise KeyboardInterrupt


def work():
    print("WORKER-RAN", flush=True)  # never: the worker fails before


if __name__ == "__main__":
    method, os.environ["WORKER_FAILURE"] = sys.argv[1], sys.argv[2]
    process = multiprocessing.get_context(method).Process(target=work)
    try:
        process.start()
        process.join()
        outcome = {"exitcode": process.exitcode}
    except Exception as error:  # the forkserver, which imports the entry script first, died of it
        outcome = {"start_failed": type(error).__name__}
    print("RESULT " + json.dumps(outcome), flush=True)
