"""What a multiprocessing worker sees of PyInstaller's runtime hooks for inspect and pkgutil: `deferred_workers METHOD`.

Prints one `RESULT {json}` line with what the app and one worker find once they import inspect and pkgutil."""

import sys

imported_at_start = sorted(name for name in ("inspect", "pkgutil", "zipfile") if name in sys.modules)

import json  # noqa: E402
import multiprocessing  # noqa: E402


def observe():
    import inspect
    import pkgutil

    return {
        "getsourcefile": inspect.getsourcefile.__name__,
        "source_file_in_bundle": str(inspect.getsourcefile(json.decoder.JSONDecoder.decode)).startswith(sys._MEIPASS),
        "json_modules": sorted(module.name for module in pkgutil.iter_modules(json.__path__)),
    }


def observe_in_worker(queue):
    queue.put(dict(observe(), imported_before_target=imported_at_start))


if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    queue = context.Queue()
    worker = context.Process(target=observe_in_worker, args=(queue,))
    worker.start()
    in_worker = queue.get(timeout=60)
    worker.join()
    print(
        "RESULT "
        + json.dumps(
            {"imported_at_start": imported_at_start, "app": observe(), "worker": in_worker, "exitcode": worker.exitcode}
        )
    )
