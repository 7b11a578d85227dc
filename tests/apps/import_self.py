"""An app that imports its entry script by name, as servers and task queues do (`uvicorn.run("app:api")`):
`import_self [--method M]`.

It never calls freeze_support(). Its module level writes `IMPORTED <__name__>` to stderr in every process that runs
it; its main block prints `MAIN-BLOCK <pid>` once. The main block first starts a worker that imports this script by
name (`importlib.import_module`, the name built at run time as a server builds it from a string), then imports it
itself, and prints one `RESULT {json}` line with what each import gave.

`_collected()` is never called: its static import makes PyInstaller collect this script as a module of the bundle,
unless the build excludes it.
"""

import argparse
import importlib
import json
import multiprocessing
import os
import sys

sys.stderr.write("IMPORTED %s\n" % __name__)
sys.stderr.flush()

MAIN_BLOCK_RAN = False


def square(x):
    return x * x


def _collected():
    import import_self  # noqa: F401


def facts(module):
    return {
        "name": module.__name__,
        "file": os.path.basename(module.__file__),
        "is_main": module is sys.modules["__main__"],
        "main_block_ran": module.MAIN_BLOCK_RAN,
        "square": module.square(7),
    }


def import_by_name(queue, name):
    try:
        queue.put(facts(importlib.import_module(name)))
    except BaseException as error:
        queue.put({"error": "%s: %s" % (type(error).__name__, error)})


def in_app(name):
    try:
        return facts(importlib.import_module(name))
    except Exception as error:
        return {"error": "%s: %s" % (type(error).__name__, error)}


def loader_of(name):
    module = sys.modules.get(name)
    return type(module.__loader__).__name__ if module is not None else None


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--method")
    options = parser.parse_args()
    print("MAIN-BLOCK", os.getpid(), flush=True)
    MAIN_BLOCK_RAN = True
    name = "".join(["import", "_", "self"])  # as a server gets it: from a string
    context = multiprocessing.get_context(options.method)
    queue = context.Queue()
    process = context.Process(target=import_by_name, args=(queue, name))
    process.start()
    result = {"start_method": context.get_start_method(), "worker": queue.get(timeout=60)}
    process.join(60)
    result["exitcode"] = process.exitcode
    result["app"] = in_app(name)
    result["again"] = name in sys.modules and importlib.import_module(name) is sys.modules[name]
    print("LOADER", loader_of(name), flush=True)
    print("RESULT " + json.dumps(result, sort_keys=True), flush=True)
