"""The keeper of one contained run on Linux: started by ``contain.run()`` in a session of its own, it starts the app
and stays the ancestor of everything the app starts, so that no descendant escapes by calling ``setsid()``.

Usage: ``python -I -S keeper.py STATUS_FD GO_FD MAX_TASKS APP ARGS...`` (run by path, importing only the standard
library), as the runner's user.

- The keeper marks itself a child subreaper: a descendant whose parent exits is handed to the keeper, not to init, so
  every process the app ever starts has the keeper as an ancestor until it exits.
- It starts the app once a byte arrives on GO_FD (by then the runner has put the keeper in the run's cgroup, if any),
  in a process group of the app's own, so that a signal the app sends to its group does not reach the keeper. What
  the app can still do to the keeper (as the same user: kill or stop it), the runner sees, and ends the run.
- It writes one line to STATUS_FD: ``exit STATUS`` (a wait status) when the app has exited, or ``error ERRNO`` when
  it could not be started. It then reaps, and exits when no descendant is left. On SIGTERM (from the runner, or as
  its parent dies) it kills every descendant first.
- The app runs with RLIMIT_NPROC at MAX_TASKS. ``main()`` takes a function to call in the app's process before the
  cap is set (the test suite's keeper, ``tests/keeper_with_setup.py``, switches to another user there); run by path,
  as oxmp's runner runs it, there is none.

The process primitives of a contained run are here, once, for the runner (``contain.py``) too: prctl(2), the cap on
RLIMIT_NPROC, and the processes of ``/proc``. This module imports only the standard library, and little of it.
"""

import os
import signal
import sys
import time

if os.name == "posix":
    # Here, not where it is used: a set-up that switches to another user comes first there, and that user may not
    # read the interpreter's modules.
    import resource

# Names for annotations only: typing is not imported when the keeper runs (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Callable, Iterator, NoReturn

    Prctl = Callable[..., int]

# prctl(2) options (linux/prctl.h). PR_SET_CHILD_SUBREAPER needs Linux 3.4; where it fails, orphans go to init as
# before, and only descendants whose ancestors are all alive are found.
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


class Stop(Exception):
    pass


def main(argv: "list[str]", setup: "Callable[[], object] | None" = None) -> int:
    """The keeper's run: ``argv`` is its ``sys.argv`` (see above); ``setup``, None or a function to call in the app's
    process before its cap is set. Returns the keeper's exit status."""
    status_fd, go_fd = int(argv[1]), int(argv[2])
    limits = Limits(int(argv[3]), setup)
    os.set_inheritable(status_fd, False)  # the app must not hold the runner's pipe
    signal.signal(signal.SIGTERM, _stop)
    # Only SIGTERM ends the keeper: a SIGINT (a Ctrl-C) is for the app, and must not end the keeper before it has
    # reaped the app's processes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    prctl = linux_prctl()
    assert prctl is not None  # the runner found it before starting the keeper
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)  # the runner died: kill everything, as if it had asked
    app = App(status_fd)
    try:
        if not os.read(go_fd, 1):
            return 0  # the runner is gone
        os.close(go_fd)
        app.pid = start(argv[4:], limits, prctl, status_fd)
        if app.pid is not None:
            reap_until_alone(app)
    except Stop:
        kill_descendants(app)
    return 0


class App:
    """The app's pid, and the status line to write once, when it is reaped."""

    def __init__(self, status_fd: int) -> None:
        self.status_fd = status_fd
        self.pid: "int | None" = None

    def reaped(self, pid: int, status: int) -> None:
        if pid == self.pid:
            self.pid = None
            os.write(self.status_fd, b"exit %d\n" % status)


class Limits:
    def __init__(self, max_tasks: int, setup: "Callable[[], object] | None") -> None:
        self.max_tasks, self.setup = max_tasks, setup

    def apply(self) -> None:
        # In the app's process before exec. The setup first: as root, RLIMIT_NPROC is ignored, and a setup may switch
        # to another user.
        if self.setup is not None:
            self.setup()
        cap_tasks(self.max_tasks)


def start(app: "list[str]", limits: Limits, prctl: "Prctl", status_fd: int) -> "int | None":
    """Fork and exec the app; its pid, or None (and an ``error`` line) if it could not be started."""
    read_end, write_end = os.pipe()  # closed on exec: nothing arrives unless exec failed
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            # A process group of the app's own: what the app sends to its group (``kill 0``, a Ctrl-C it passes on
            # to its workers) does not reach the keeper.
            os.setpgid(0, 0)
            limits.apply()
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the setup's switch of user, if any, which clears it
            # Python ignores these; the app gets them as from any shell (subprocess's restore_signals).
            for name in ("SIGPIPE", "SIGXFSZ"):
                if hasattr(signal, name):
                    signal.signal(getattr(signal, name), signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # ignored in the keeper: exec would pass that on
            os.execvp(app[0], app)
        except OSError as error:
            os.write(write_end, str(error.errno or 0).encode())
        except BaseException:
            os.write(write_end, b"0")
        finally:
            os._exit(127)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as errors:
        failed = errors.read()
    if failed:
        os.waitpid(pid, 0)
        os.write(status_fd, b"error %s\n" % failed)
        return None
    return pid


def reap_until_alone(app: App) -> None:
    while True:
        try:
            app.reaped(*os.waitpid(-1, 0))
        except ChildProcessError:
            return  # no child left: and no orphan can come, as every descendant is a child's descendant


def kill_descendants(app: App) -> None:
    """SIGKILL every descendant, again and again, until none is left (one that forked meanwhile is found next time)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    me = os.getpid()
    while True:
        alive = descendants(me)
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:  # reap what is ours; the killed descendants' zombies come to us as their parents die
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            app.reaped(pid, status)
        if not alive:
            try:
                app.reaped(*os.waitpid(-1, 0))  # a last zombie, if any
            except ChildProcessError:
                return
        else:
            time.sleep(0.005)  # a process that dies slowly (in uninterruptible sleep) is not spun on


def descendants(root: int) -> "list[int]":
    """Live descendants of ``root`` from /proc, in one pass (zombies have exited already)."""
    children: "dict[int, list[int]]" = {}
    for pid, fields in proc_stats():
        if fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(pid)
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(), ()):
            found.append(child)
            queue.append(child)
    return found


def _stop(signum: int, frame: "FrameType | None") -> "NoReturn":
    raise Stop()


# --- The primitives, which the runner (contain.py) uses too ----------------------------------------------------------


def linux_prctl() -> "Prctl | None":
    """Linux's prctl() from the C library the interpreter is linked with; None elsewhere, or where it is not found."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def cap_tasks(max_tasks: int) -> None:
    """Set RLIMIT_NPROC, soft and hard, to ``max_tasks``, or to the hard limit where that is lower (a process may not
    raise it): in a contained app's process, before exec."""
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    cap = max_tasks if hard == resource.RLIM_INFINITY else min(max_tasks, hard)
    resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))


def proc_stats() -> "Iterator[tuple[int, list[bytes]]]":
    """(pid, fields) of every process in /proc (none where there is no /proc), the fields of /proc/PID/stat after the
    command name: state, ppid, pgrp, session, ..."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as stat:
                yield int(name), stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile


if __name__ == "__main__":
    sys.exit(main(sys.argv))
