"""Uses a Lock and a Queue (which start the resource tracker) and exits at once: `quick_exit METHOD [lock-only]`."""

import json
import multiprocessing
import sys


def put(queue):
    queue.put(1)


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1])
    lock = ctx.Lock()
    if sys.argv[2:] != ["lock-only"]:
        queue = ctx.Queue()
        process = ctx.Process(target=put, args=(queue,))
        process.start()
        queue.get()
        process.join()
    print("RESULT " + json.dumps({"method": sys.argv[1]}), flush=True)
