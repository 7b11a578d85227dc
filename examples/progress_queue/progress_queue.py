"""A long task split over worker processes, with a text progress bar fed by the workers through a Queue.

Each worker puts one message on the queue per item it finishes; the main process reads them and redraws the bar
(in place on a terminal, one line per step otherwise) while the pool works.
"""

import multiprocessing
import sys

ITEMS = 20
BAR_WIDTH = 20

progress = None  # the queue, in each worker process (set by the pool's initializer)


def init_worker(queue):
    global progress
    progress = queue


def slow_checksum(item):
    # Stands for real work: a few tens of milliseconds of arithmetic.
    total = 0
    for n in range(200000):
        total = (total + n * item) % 1000003
    progress.put(item)
    return total


def show(done, total):
    filled = BAR_WIDTH * done // total
    line = "progress: [%s%s] %d/%d" % ("#" * filled, "." * (BAR_WIDTH - filled), done, total)
    if sys.stdout.isatty():
        sys.stdout.write("\r" + line + ("\n" if done == total else ""))
    else:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    queue = multiprocessing.Queue()
    with multiprocessing.Pool(2, initializer=init_worker, initargs=(queue,)) as pool:
        pending = pool.map_async(slow_checksum, range(ITEMS), chunksize=1)
        for done in range(1, ITEMS + 1):
            queue.get(timeout=120)
            show(done, ITEMS)
        checksums = pending.get(timeout=120)
    print("checksum of checksums:", sum(checksums) % 1000003)
