"""The keeper of one contained run on Linux: started by ``contain.run()`` in a session of its own, it starts the app
and stays the ancestor of everything the app starts, so that no descendant escapes by calling ``setsid()``.

Usage: ``python -I -S keeper.py STATUS_FD GO_FD MAX_TASKS SETUP APP ARGS...`` (run by path, importing only the
standard library), as the runner's user.

- The keeper marks itself a child subreaper: a descendant whose parent exits is handed to the keeper, not to init, so
  every process the app ever starts has the keeper as an ancestor until it exits.
- It starts the app once a byte arrives on GO_FD (by then the runner has put the keeper in the run's cgroup, if any),
  in a process group of the app's own, so that a signal the app sends to its group does not reach the keeper. What
  the app can still do to the keeper (as the same user: kill or stop it), the runner sees, and ends the run.
- It writes one line to STATUS_FD: ``exit STATUS`` (a wait status) when the app has exited, or ``error ERRNO`` when
  it could not be started. It then reaps, and exits when no descendant is left. On SIGTERM (from the runner, or as
  its parent dies) it kills every descendant first.
- The app runs with RLIMIT_NPROC at MAX_TASKS. Unless SETUP is ``-``, it is the runner's ``app_setup()``, a function
  named with its arguments (JSON, in hexadecimal, with the runner's ``sys.path``), called in the app's process before
  the cap is set (the test suite's runner switches to another user there). Nothing is unpickled; the runner chose the
  name: the function is as trusted as the runner's own code.
"""

import os
import signal
import sys
import time

# prctl(2) options (linux/prctl.h). PR_SET_CHILD_SUBREAPER needs Linux 3.4; where it fails, orphans go to init as
# before, and only descendants whose ancestors are all alive are found.
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


class Stop(Exception):
    pass


def main(argv: list) -> int:
    """The keeper's run: ``argv`` is its ``sys.argv`` (see above); returns its exit status."""
    status_fd, go_fd = int(argv[1]), int(argv[2])
    limits = Limits(int(argv[3]), None if argv[4] == "-" else _setup(argv[4]))
    os.set_inheritable(status_fd, False)  # the app must not hold the runner's pipe
    signal.signal(signal.SIGTERM, _stop)
    # Only SIGTERM ends the keeper: a SIGINT (a Ctrl-C) is for the app, and must not end the keeper before it has
    # reaped the app's processes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    prctl = _prctl()
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)  # the runner died: kill everything, as if it had asked
    app = App(status_fd)
    try:
        if not os.read(go_fd, 1):
            return 0  # the runner is gone
        os.close(go_fd)
        app.pid = start(argv[5:], limits, prctl, status_fd)
        if app.pid is not None:
            reap_until_alone(app)
    except Stop:
        kill_descendants(app)
    return 0


class App:
    """The app's pid, and the status line to write once, when it is reaped."""

    def __init__(self, status_fd):
        self.status_fd = status_fd
        self.pid = None

    def reaped(self, pid, status):
        if pid == self.pid:
            self.pid = None
            os.write(self.status_fd, b"exit %d\n" % status)


class Limits:
    def __init__(self, max_tasks, setup):
        self.max_tasks, self.setup = max_tasks, setup

    def apply(self):
        # In the app's process before exec. The setup first: as root, RLIMIT_NPROC is ignored, and a setup may switch
        # to another user.
        import resource

        if self.setup is not None:
            self.setup()
        hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        cap = self.max_tasks if hard == resource.RLIM_INFINITY else min(self.max_tasks, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))


def start(app, limits, prctl, status_fd):
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


def reap_until_alone(app):
    while True:
        try:
            app.reaped(*os.waitpid(-1, 0))
        except ChildProcessError:
            return  # no child left: and no orphan can come, as every descendant is a child's descendant


def kill_descendants(app):
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


def descendants(root):
    """Live descendants of ``root`` from /proc, in one pass (zombies have exited already)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(name))
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(), ()):
            found.append(child)
            queue.append(child)
    return found


def _setup(text):
    # SETUP: the runner's sys.path, "module:function" and the arguments, as JSON in hexadecimal.
    import json

    paths, name, arguments = json.loads(bytes.fromhex(text).decode())
    sys.path[:0] = paths  # where the runner found the function's module
    return named_call(name, arguments)


def named_call(name, arguments):
    """A callable that calls the function ``name`` ("module:function") with ``arguments`` (a list)."""
    import importlib

    module, _, function = name.partition(":")
    target = getattr(importlib.import_module(module), function)
    return lambda: target(*arguments)


def _stop(signum, frame):
    raise Stop()


def _prctl():
    # Linux's prctl() from the C library the interpreter is linked with (contain.py found it before starting us).
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl


if __name__ == "__main__":
    sys.exit(main(sys.argv))
