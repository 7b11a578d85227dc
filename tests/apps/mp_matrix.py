"""One frozen app for the runtime matrix: `mp_matrix SCENARIO [--method M]`.

It parses its arguments before anything else (as many CLIs do) and never calls freeze_support(). Its main block
prints `MAIN-BLOCK <pid>` once per run; a worker that ran the main block would print it again. Each scenario prints
one `RESULT {json}` line.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import sys
import threading

if os.name == "posix":  # the hardening tests' genuine parent; first: see tests/apps/as_parent.py
    import as_parent  # noqa: F401

# One write per line: processes share stderr, and print() would write the pieces one by one, interleaved with theirs.
sys.stderr.write("MODULE-LEVEL %s\n" % __name__)
sys.stderr.flush()


def square(x):
    return x * x


def pid_of(_):
    return os.getpid()


def crash(code):
    os._exit(code)


def raise_error():
    raise ValueError("boom")


def nested_pool(n):
    # A worker that starts its own pool (non-daemonic process needed: see run_nested).
    with multiprocessing.Pool(2) as pool:
        return sum(pool.map(square, range(n)))


def add_to_shared(lock, queue, value, n):
    with lock:
        value.value += n
    queue.put(n * 10)


def fill_dict(shared, key):
    shared[key] = os.getpid()


class Doubler(multiprocessing.Process):
    """A Process subclass defined in the entry script."""

    def __init__(self, queue, n):
        super().__init__()
        self.queue = queue
        self.n = n

    def run(self):
        self.queue.put((self.n * 2, __name__))


class NonDaemonPool:
    """Runs a function in a plain Process (non-daemonic, so it may start its own pool) and returns its result."""

    def __init__(self, ctx):
        self.ctx = ctx

    def call(self, function, arg):
        queue = self.ctx.Queue()
        process = self.ctx.Process(target=_put_result, args=(queue, function, arg))
        process.start()
        result = queue.get(timeout=30)
        process.join()
        return result


def _put_result(queue, function, arg):
    queue.put(function(arg))


def scenario(args):
    ctx = multiprocessing.get_context()
    if args.scenario == "pool_map":
        with ctx.Pool(2) as pool:
            return {"squares": pool.map(square, range(10))}
    if args.scenario == "executor":
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as executor:
            return {"squares": list(executor.map(square, range(10)))}
    if args.scenario == "manager":
        with ctx.Manager() as manager:
            shared = manager.dict()
            processes = [ctx.Process(target=fill_dict, args=(shared, key)) for key in ("a", "b")]
            for process in processes:
                process.start()
            for process in processes:
                process.join()
            return {"keys": sorted(shared.keys())}
    if args.scenario == "subclass":
        queue = ctx.Queue()
        process = Doubler(queue, 21)
        process.start()
        result = queue.get(timeout=30)
        process.join()
        return {"doubled": result[0], "module": result[1], "exitcode": process.exitcode}
    if args.scenario == "nested":
        return {"sum": NonDaemonPool(ctx).call(nested_pool, 5)}
    if args.scenario == "crash":
        crashing = ctx.Process(target=crash, args=(7,))
        crashing.start()
        crashing.join()
        raising = ctx.Process(target=raise_error)
        raising.start()
        raising.join()
        return {"crash_exitcode": crashing.exitcode, "raise_exitcode": raising.exitcode}
    if args.scenario == "maxtasks":
        with ctx.Pool(2, maxtasksperchild=1) as pool:
            pids = pool.map(pid_of, range(6), chunksize=1)
        return {"distinct_pids": len(set(pids))}
    if args.scenario == "shared":
        lock, queue, value = ctx.Lock(), ctx.Queue(), ctx.Value("i", 0)
        processes = [ctx.Process(target=add_to_shared, args=(lock, queue, value, n)) for n in (1, 2, 3)]
        for process in processes:
            process.start()
        got = sorted(queue.get(timeout=30) for _ in processes)
        for process in processes:
            process.join()
        return {"value": value.value, "queued": got}
    if args.scenario == "executor_contexts":
        # A context per start method, while the default start method stays as it is.
        squares = {}
        for name in multiprocessing.get_all_start_methods():
            with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(name)) as executor:
                squares[name] = list(executor.map(square, range(5)))
        return {"squares": squares}
    if args.scenario == "thread_storm":
        threads, per_thread = (int(os.environ.get(name, "4")) for name in ("STORM_THREADS", "STORM_PER_THREAD"))
        return thread_storm(ctx, threads, per_thread)
    raise SystemExit("unknown scenario %r" % args.scenario)


def put_pid(queue):
    queue.put(os.getpid())


def thread_storm(ctx, threads, per_thread):
    """Start ``threads * per_thread`` processes at once, from ``threads`` threads: each starts its share, then joins
    them. A Queue made first (a resource tracker under spawn and forkserver) and the forkserver are shared by all."""
    queue = ctx.Queue()
    exitcodes = []

    def start_and_join():
        processes = [ctx.Process(target=put_pid, args=(queue,)) for _ in range(per_thread)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        exitcodes.extend(process.exitcode for process in processes)

    starters = [threading.Thread(target=start_and_join) for _ in range(threads)]
    for starter in starters:
        starter.start()
    pids = {queue.get(timeout=120) for _ in range(threads * per_thread)}
    for starter in starters:
        starter.join()
    return {"processes": len(pids), "exitcodes": sorted(set(exitcodes), key=str)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario")
    parser.add_argument("--method", help="call set_start_method(METHOD) first")
    args = parser.parse_args()
    print("MAIN-BLOCK", os.getpid(), flush=True)
    if args.method:
        multiprocessing.set_start_method(args.method)
    result = scenario(args)
    result["start_method"] = multiprocessing.get_start_method()
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
