"""Starts processes that try to outlive a contained run. `escapee MARKER HOW COUNT [THEN]`: COUNT children, each
sleeping for ten minutes with MARKER on its command line (inherited through fork); HOW is `setsid` (each child leaves
the session first), `daemon` (each child leaves the session and its parent exits, as daemons detach) or `plain`. The
app prints `STARTED COUNT`. Then it exits at once, unless THEN says what it does to the containment first:
`kill-keeper` and `stop-keeper` send SIGKILL and SIGSTOP to its parent (the keeper of `python -m oxmp_hooks run`),
`kill-group` sends SIGKILL to its process group (`kill -KILL 0`); with `setsid`, once every child has left the
session. It prints `THEN sent` and waits ten minutes for the
run to end it, or `THEN refused` and exits. The same file runs under plain Python and as a bundle."""

import os
import signal
import sys
import time

THEN = {
    "kill-keeper": (os.getppid, signal.SIGKILL),
    "stop-keeper": (os.getppid, signal.SIGSTOP),
    "kill-group": (lambda: 0, signal.SIGKILL),
}


def child(how):
    if how in ("setsid", "daemon"):
        os.setsid()
    if how == "daemon" and os.fork() != 0:
        os._exit(0)  # the grandchild is handed to the nearest subreaper, or to init
    time.sleep(600)
    os._exit(0)


def main():
    _, marker, how, count = sys.argv[:4]
    children = []
    for _ in range(int(count)):
        pid = os.fork()
        if pid == 0:
            child(how)
        children.append(pid)
    print("STARTED %s" % count, flush=True)
    if len(sys.argv) > 4:
        then = sys.argv[4]
        if how == "setsid":  # each child has left the session before the app acts
            while any(os.getsid(pid) != pid for pid in children):
                time.sleep(0.001)
        target, signum = THEN[then]
        try:
            os.kill(target(), signum)
        except PermissionError:
            print("%s refused" % then, flush=True)
            return
        print("%s sent" % then, flush=True)
        time.sleep(600)


if __name__ == "__main__":
    main()
