"""P2 and P3, timed inside the app: `mp_bench pool|worker METHOD`. Prints one `RESULT {json}` line.

pool:   seconds from `Pool(2)` to the return of its first `map` (the first pool of the process, so it includes starting
        the resource tracker and, for forkserver, the forkserver).
worker: seconds from one `Process.start()` to the first message from it, for WORKER_SAMPLES processes started one
        after another, after one untimed warm-up process (which starts the helpers).
one-worker: the same for one process, without warm-up: what bench.py runs under callgrind to count the instructions
        of a worker's start.

The same script runs under plain python, as an oxmp bundle and as a stock PyInstaller bundle. It calls
freeze_support() first: stock PyInstaller needs it; under python on POSIX and under oxmp it does nothing.
"""

import json
import multiprocessing
import sys
import time

POOL_TASKS = 10
WORKER_SAMPLES = 5


def square(x):
    return x * x


def send_hello(connection):
    connection.send("hello")
    connection.close()


def pool_start_and_first_map(ctx):
    start = time.perf_counter()
    with ctx.Pool(2) as pool:
        pool.map(square, range(POOL_TASKS))
        return [time.perf_counter() - start]


def worker_start_to_first_message(ctx):
    reader, writer = ctx.Pipe(duplex=False)
    start = time.perf_counter()
    process = ctx.Process(target=send_hello, args=(writer,))
    process.start()
    reader.recv()
    seconds = time.perf_counter() - start
    process.join()
    return seconds


def worker_start_latencies(ctx):
    worker_start_to_first_message(ctx)  # warm-up: starts the resource tracker (and the forkserver)
    return [worker_start_to_first_message(ctx) for _ in range(WORKER_SAMPLES)]


def one_worker(ctx):
    return [worker_start_to_first_message(ctx)]


FIGURES = {"pool": pool_start_and_first_map, "worker": worker_start_latencies, "one-worker": one_worker}

if __name__ == "__main__":
    multiprocessing.freeze_support()
    figure, method = sys.argv[1], sys.argv[2]
    seconds = FIGURES[figure](multiprocessing.get_context(method))
    print("RESULT " + json.dumps({"figure": figure, "method": method, "seconds": seconds}), flush=True)
