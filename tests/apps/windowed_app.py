"""A windowed app (built with console=False) for the Windows lane: `windowed_app RESULT_FILE SCENARIO`.

Started with no standard handles at all, as Explorer starts it, so that sys.stdout and sys.stderr are None in it and in
its workers. It writes one JSON object to RESULT_FILE (there is nowhere else to write); never calls freeze_support().

Scenarios: `pool` (Pool.map); `raise`: a worker whose target raises (multiprocessing reports that on sys.stderr), and
one that fails before its target runs (its argument cannot be unpickled in the worker).
"""

import json
import multiprocessing
import os
import sys


def square(x):
    return x * x


def streams(_):
    return {"stdout_is_none": sys.stdout is None, "stderr_is_none": sys.stderr is None}


def raise_error():
    raise ValueError("boom")


class FailsInTheWorker:
    """Pickles in the app; unpickling it, in the worker, raises."""

    def __reduce__(self):
        return raise_error, ()


def run_process(**kwargs):
    process = multiprocessing.Process(**kwargs)
    process.start()
    process.join(60)
    return process.exitcode


def scenario(name):
    if name == "pool":
        with multiprocessing.Pool(2) as pool:
            return {"squares": pool.map(square, range(6)), "worker_streams": pool.map(streams, range(1))[0]}
    if name == "raise":
        return {
            "raise_exitcode": run_process(target=raise_error),
            "unpickle_exitcode": run_process(target=square, args=(FailsInTheWorker(),)),
        }
    raise SystemExit("unknown scenario %r" % name)


def main():
    result_file, name = sys.argv[1:3]
    result = scenario(name)
    result.update(streams(None), start_method=multiprocessing.get_start_method(), pid=os.getpid())
    with open(result_file, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
