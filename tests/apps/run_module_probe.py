"""A module for `run_modules`: run as `APP -m run_module_probe ARGS` (or `python -m run_module_probe ARGS`), it reports
what it was given as one RESULT line, then does what ARGS ask: `--echo` copies stdin to stdout, `--exit N` exits with
status N, `--raise` dies of an exception, `--interrupt` of a KeyboardInterrupt, `--signal` of SIGTERM."""

import json
import os
import sys


def main():
    argv = sys.argv[1:]
    report = {
        "name": __name__,
        "args": argv,
        "argv0_is_my_file": os.path.splitext(sys.argv[0])[0] == os.path.splitext(__file__)[0],
        "main_is_me": sys.modules["__main__"].__dict__ is globals(),
        "spec": __spec__.name if __spec__ is not None else None,
        "cwd_on_path": os.getcwd() in sys.path or "" in sys.path,
        "frozen": bool(getattr(sys, "frozen", False)),
    }
    print("RESULT " + json.dumps(report), flush=True)
    if "--echo" in argv:
        sys.stdout.write(sys.stdin.read())
    if "--exit" in argv:
        sys.exit(int(argv[argv.index("--exit") + 1]))
    if "--raise" in argv:
        raise ValueError("probe raised")
    if "--interrupt" in argv:
        raise KeyboardInterrupt
    if "--signal" in argv:
        import signal

        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    main()
