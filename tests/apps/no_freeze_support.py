"""Starts one worker from its main block and never calls freeze_support(): a relaunch loop without auto-dispatch."""

import json
import multiprocessing
import os


def hello():
    pass


if __name__ == "__main__":
    print("MAIN-BLOCK", os.getpid(), flush=True)
    multiprocessing.set_start_method("spawn")
    process = multiprocessing.Process(target=hello)
    process.start()
    process.join()
    print("RESULT " + json.dumps({"exitcode": process.exitcode}), flush=True)
