"""Starts processes that try to outlive a contained run. `escapee MARKER HOW COUNT`: COUNT children, each sleeping
for ten minutes with MARKER on its command line (inherited through fork); HOW is `setsid` (each child leaves the
session first), `daemon` (each child leaves the session and its parent exits, as daemons detach) or `plain`. The app
prints `STARTED COUNT` and exits at once. The same file runs under plain Python and as a bundle."""

import os
import sys
import time


def child(how):
    if how in ("setsid", "daemon"):
        os.setsid()
    if how == "daemon" and os.fork() != 0:
        os._exit(0)  # the grandchild is handed to the nearest subreaper, or to init
    time.sleep(600)
    os._exit(0)


def main():
    _, marker, how, count = sys.argv[:4]
    for _ in range(int(count)):
        if os.fork() == 0:
            child(how)
    print("STARTED %s" % count, flush=True)


if __name__ == "__main__":
    main()
