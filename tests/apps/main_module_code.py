"""PyInstaller's own test_multiprocessing_main_module_code_in_process, as an app: `main_module_code METHOD`.

A worker asks `__main__.__loader__` for the code of `__main__` (the entry script), as stock PyInstaller allows with
every start method. Written for stock PyInstaller: it calls freeze_support() and set_start_method().
"""

import json
import multiprocessing
import sys


def process_function(queue):
    code = sys.modules["__main__"].__loader__.get_code("__main__")
    queue.put({"names": sorted(code.co_names), "main_name": sys.modules["__main__"].__name__})


if __name__ == "__main__":
    multiprocessing.freeze_support()
    multiprocessing.set_start_method(sys.argv[1])
    queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=process_function, args=(queue,))
    process.start()
    got = queue.get(timeout=30)
    process.join()
    print("RESULT " + json.dumps(dict(got, exitcode=process.exitcode)), flush=True)
