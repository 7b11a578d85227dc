"""Start a program as Explorer starts a windowed app, with no standard handles at all. Run by the Windows Python:

    python no_handles_launcher.py SECONDS PROGRAM ARGS...

Prints one line, `LAUNCHED {"exit": STATUS}`, or `LAUNCHED {"exit": null, "timed_out": true}` after SECONDS (the
program is then terminated: a windowed bundle that crashed shows an error box and waits for a click).
"""

import json
import subprocess
import sys


def main():
    seconds, argv = float(sys.argv[1]), sys.argv[2:]
    # No standard handles named (no STARTF_USESTDHANDLES), none inherited, and no console: the program's standard
    # handles are invalid, and Python sets sys.stdin, sys.stdout and sys.stderr to None.
    process = subprocess.Popen(
        argv, stdin=None, stdout=None, stderr=None, close_fds=True, creationflags=subprocess.DETACHED_PROCESS
    )
    try:
        result = {"exit": process.wait(seconds)}
    except subprocess.TimeoutExpired:
        process.kill()
        result = {"exit": None, "timed_out": True}
    print("LAUNCHED " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
