"""PyInstaller's own test_multiprocess_spawn_process and test_multiprocess_spawn_pool (tests/functional/
test_multiprocess.py) in one script, with the start method as an argument: no main block, so a worker that runs this
script must stop at freeze_support(), as stock PyInstaller's workers do. `no_main_block {process|pool} METHOD`.

Under plain python this script fails in its spawn and forkserver workers (they run it whole, and cannot start
processes); written for stock PyInstaller, it works there, and must with oxmp.
"""

import multiprocessing as mp
import sys


def in_subprocess():
    print("In subprocess", flush=True)


def echo(letter):
    return letter


print("MODULE-LEVEL", file=sys.stderr, flush=True)  # runs in the app and in each worker, before freeze_support()
mp.freeze_support()
scenario, method = sys.argv[1], sys.argv[2]
mp.set_start_method(method)

print("In main", flush=True)
if scenario == "process":
    proc = mp.Process(target=in_subprocess)
    proc.start()
    proc.join()
    print("exitcode", proc.exitcode)
else:
    with mp.Pool(2) as pool:
        print("".join(pool.map(echo, "in pool")))
