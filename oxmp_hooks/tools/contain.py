"""Run a frozen app so that it cannot fork-bomb the machine: the doctor's runs and ``python -m oxmp_hooks run``.

A broken bundle may start itself again and again. Every run here gets its own session, a process cap, a time limit,
and a kill of all its processes afterwards. On Linux "all" means every descendant, also one that left the session
(``setsid()``) or whose parent exited: the app runs under a keeper (``keeper.py``), a child subreaper that stays their
ancestor. Elsewhere it means the app's process group. ``RLIMIT_NPROC`` does not bind root: a watchdog counts the
run's processes too where ``/proc`` exists (``Watchdog``).

``run()`` is what oxmp's commands use. The test suite's runner (``tests/contain.py``) derives from ``Runner`` to start
the app with other descriptors, as another user, or without the watchdog: see the methods under "What a subclass
may change".
"""

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["Result", "Runner", "run"]

if os.name == "posix":
    import resource

DEFAULT_TIMEOUT = 60
DEFAULT_MAX_PROCS = 64
TIMEOUT_STATUS = 124  # like timeout(1)
# Seconds the rest of the app's processes get to exit on their own once the app has (a resource tracker that is
# reading its last messages), before every one left is killed.
LINGER = 1.0


class Result:
    """What a contained run did: its status, output, and what the containment saw."""

    def __init__(self, argv, returncode, stdout, stderr, seconds, timed_out, bombed):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
        self.timed_out = timed_out
        self.bombed = bombed

    def __repr__(self):
        return ("Result(returncode=%r, timed_out=%r, bombed=%r,\n stdout=%r,\n stderr=%r)"
                % (self.returncode, self.timed_out, self.bombed, self.stdout[-3000:], self.stderr[-3000:]))


def run(argv, timeout=DEFAULT_TIMEOUT, max_procs=DEFAULT_MAX_PROCS, env=None, cwd=None):
    """Run ``argv`` contained, with standard input from /dev/null; returns a ``Result``.

    An executable that cannot be started raises OSError, as ``subprocess.Popen`` does. A ``timeout`` or ``max_procs``
    that is not a positive number raises ValueError.
    """
    return Runner().run(argv, timeout, max_procs, env, cwd)


class Runner:
    """A contained run: wait for the app's first process, then up to ``linger`` s for the rest of its processes, then
    kill every one left."""

    linger = LINGER

    def run(self, argv, timeout=DEFAULT_TIMEOUT, max_procs=DEFAULT_MAX_PROCS, env=None, cwd=None):
        check_limits(timeout, max_procs)
        if os.name != "posix":
            return _run_windows(self, argv, timeout, env, cwd)
        prctl = _linux_prctl()  # loaded here: the child, between fork and exec, should only call
        tree = (_KeptTree if prctl is not None and os.path.isdir("/proc/self") else _GroupTree)(argv, self.app_setup())
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            start = time.monotonic()
            # RLIMIT_NPROC counts every process (on Linux, every thread) of the user: leave room for those it has
            # already, and for the keeper when it runs as that user too.
            uid = self.app_uid()
            keeper = 1 if isinstance(tree, _KeptTree) and uid == os.getuid() else 0
            tree.start(max_procs + count_tasks_of(uid) + keeper, prctl, stdout=out, stderr=err, env=env, cwd=cwd,
                       **self.start_options())
            watchdog = self.start_watchdog(lambda: len(tree.members()), tree.kill, max_procs)
            try:
                returncode, timed_out = tree.wait(timeout)
                seconds = time.monotonic() - start
                leftovers = tree.wait_for_members(self.linger) if not timed_out else []
            finally:  # also when the caller is interrupted
                tree.kill()
                watchdog.stop()
                tree.close()
            out.seek(0)
            err.seek(0)
            return self.result(argv, returncode, out.read().decode("utf-8", "replace"),
                               err.read().decode("utf-8", "replace"), seconds, timed_out, watchdog, leftovers)

    # --- What a subclass may change ---------------------------------------------------------------------------------

    def start_options(self):
        """``subprocess.Popen`` options for the app's standard input and inherited descriptors (POSIX): ``stdin``,
        ``pass_fds`` (descriptors the app inherits under the same numbers)."""
        return {"stdin": subprocess.DEVNULL, "pass_fds": ()}

    def app_uid(self):
        """The user id the app runs as: its process cap counts that user's processes."""
        return os.getuid()

    def app_setup(self):
        """None, or a callable to call in the app's process before its process cap is set (POSIX). On Linux it is
        called in the keeper's child: it must pickle, and its class be importable from this process's ``sys.path``."""
        return None

    def start_watchdog(self, count, stop, max_procs):
        """Something that counts the run's processes from now on, stops them past ``max_procs``, and has ``stop()``,
        ``bombed`` and ``peak``: the Watchdog."""
        watchdog = Watchdog(count, stop, max_procs)
        watchdog.start()
        return watchdog

    def result(self, argv, returncode, stdout, stderr, seconds, timed_out, watchdog, leftovers):
        """The run's Result; ``leftovers``: its processes still running ``linger`` s after the app had exited."""
        return Result(argv, returncode, stdout, stderr, seconds, timed_out, watchdog.bombed)


def check_limits(timeout, max_procs):
    """Raise ValueError unless ``timeout`` is a finite number of seconds above 0 and ``max_procs`` a whole number of
    processes above 0 (NaN would compare false with everything, and mean no limit)."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise ValueError("the time limit must be a number of seconds above 0, not %r" % (timeout,))
    if isinstance(max_procs, bool) or not isinstance(max_procs, int) or max_procs < 1:
        raise ValueError("the process cap must be a whole number above 0, not %r" % (max_procs,))


class _KeptTree:
    """Linux: the app under a keeper (keeper.py), a child subreaper that stays the ancestor of all the app starts,
    so that a descendant that calls setsid() or whose parent exits is still counted and killed."""

    def __init__(self, argv, setup):
        self.argv = list(argv)
        self.setup = setup
        self.keeper = None
        self.status_line = b""
        self.status_pipe = None

    def start(self, cap, prctl, pass_fds, **options):
        from oxmp_hooks.tools import keeper

        # The keeper runs as the caller (the interpreter may be readable by no one else); the setup runs in the app's
        # process.
        setup = "-" if self.setup is None else "%s:%s" % (json.dumps(sys.path).encode().hex(),
                                                           pickle.dumps(self.setup).hex())
        self.status_pipe, status_write = os.pipe()
        try:
            self.keeper = subprocess.Popen(
                [sys.executable, "-I", "-S", keeper.__file__, str(status_write), str(cap), setup] + self.argv,
                start_new_session=True, pass_fds=tuple(pass_fds) + (status_write,),
                preexec_fn=lambda: prctl(PR_SET_PDEATHSIG, signal.SIGKILL), **options)
        except BaseException:
            os.close(self.status_pipe)
            raise
        finally:
            os.close(status_write)
        self.pid = self.keeper.pid

    def _read_status(self, timeout):
        import select

        deadline = time.monotonic() + timeout
        while not self.status_line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.status_pipe], [], [], left)[0]:
                return None
            data = os.read(self.status_pipe, 64)
            if not data:
                return None  # the keeper exited (killed) without a word
            self.status_line += data
        return self.status_line

    def wait(self, timeout):
        line = self._read_status(timeout)
        if line is None:
            if self.keeper.poll() is None:
                return TIMEOUT_STATUS, True
            return self.keeper.returncode, False
        kind, _, value = line.decode("ascii").partition(" ")
        if kind == "error":
            self.kill()
            self.close()
            code = int(value)
            raise OSError(code, os.strerror(code), self.argv[0])
        return _exit_status(int(value)), False

    def members(self):
        from oxmp_hooks.tools import keeper

        return keeper.descendants(self.pid)

    def wait_for_members(self, linger):
        # The keeper exits when the app's last descendant has.
        try:
            self.keeper.wait(timeout=linger)
        except subprocess.TimeoutExpired:
            return self.members()
        return []

    def kill(self):
        if self.keeper.poll() is None:
            self.keeper.send_signal(signal.SIGTERM)  # it kills every descendant, then exits
            try:
                self.keeper.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(self.pid)  # should the keeper itself not answer

    def close(self):
        if self.keeper.returncode is None:
            self.keeper.wait()
        if self.status_pipe is not None:
            os.close(self.status_pipe)
            self.status_pipe = None


class _GroupTree:
    """Elsewhere (macOS): the app in a session of its own, its process group killed. A descendant that calls setsid()
    leaves the group and is not found."""

    def __init__(self, argv, setup):
        self.argv = argv
        self.setup = setup
        self.process = None

    def start(self, cap, prctl, **options):
        self.process = subprocess.Popen(self.argv, start_new_session=True,
                                        preexec_fn=lambda: _limit(cap, self.setup, prctl), **options)
        self.pid = self.process.pid

    def wait(self, timeout):
        return wait_at_most(self.process, timeout)

    def members(self):
        return group_members(self.pid)

    def wait_for_members(self, linger):
        return _wait_for_group(self.pid, linger)

    def kill(self):
        _kill_group(self.pid)

    def close(self):
        if self.process.returncode is None:
            self.process.wait()


def _exit_status(status):
    # A wait status as subprocess gives it: the exit code, or minus the signal that killed the process.
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait_at_most(process, timeout):
    """(exit status, False) of a process that ends within ``timeout`` seconds, else (TIMEOUT_STATUS, True)."""
    try:
        return process.wait(timeout=timeout), False
    except subprocess.TimeoutExpired:
        return TIMEOUT_STATUS, True


# prctl(PR_SET_PDEATHSIG, SIGKILL): the app dies with the process that runs it, should that one die before it can kill
# the group (a test run interrupted from outside); multiprocessing's helpers then exit as their pipes close.
PR_SET_PDEATHSIG = 1


def _linux_prctl():
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _limit(max_procs, setup, prctl):
    # Runs in the child between fork and exec. The setup first: as root, RLIMIT_NPROC is ignored, and a setup may
    # switch to another user.
    if setup is not None:
        setup()
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    cap = max_procs if hard == resource.RLIM_INFINITY else min(max_procs, hard)  # above the hard limit: ValueError
    resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the setup's switch of user, if any, which clears it


def group_members(pgid):
    """Live process ids in process group ``pgid`` (Linux: from /proc; elsewhere: empty)."""
    # /proc/PID/stat after the command name: state, ppid, pgrp, ...; a zombie has exited already.
    return [pid for pid, stat in _proc_stats() if int(stat[2]) == pgid and stat[0] != b"Z"]


def count_tasks_of(uid):
    """What RLIMIT_NPROC counts for ``uid``: its threads on Linux (from /proc), its processes elsewhere (from ps)."""
    if os.path.isdir("/proc/self/task"):
        tasks = 0
        for name in os.listdir("/proc"):
            try:
                if name.isdigit() and os.stat("/proc/" + name).st_uid == uid:
                    tasks += len(os.listdir("/proc/%s/task" % name))
            except OSError:
                pass  # gone meanwhile
        return tasks
    listing = subprocess.run(["ps", "-U", str(uid), "-o", "pid="], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True)
    return len(listing.stdout.split())


def _proc_stats():
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
            continue


def _wait_for_group(pgid, linger):
    deadline = time.monotonic() + linger
    while True:
        members = group_members(pgid)
        if not members or time.monotonic() >= deadline:
            return members
        time.sleep(0.02)


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Watchdog(threading.Thread):
    """Counts processes with ``count()`` and calls ``stop()`` whenever there are more than ``max_procs`` (belt and
    braces beside RLIMIT_NPROC; the only cap where that does not bind, as under Wine)."""

    def __init__(self, count, stop, max_procs, interval=0.05):
        super().__init__(daemon=True)
        self.count = count
        self.stop_processes = stop
        self.max_procs = max_procs
        self.interval = interval
        self.peak = 0
        self.bombed = False
        self._stopped = threading.Event()

    def run(self):
        while not self._stopped.wait(self.interval):
            count = self.count()
            self.peak = max(self.peak, count)
            if count > self.max_procs:
                self.bombed = True
                self.stop_processes()

    def stop(self):
        self._stopped.set()
        self.join()


class _Unwatched:
    # Where no watchdog ran: Windows, whose runs are bounded by their time limit alone.
    bombed = False
    peak = 0


def _run_windows(runner, argv, timeout, env, cwd):
    # No sessions or RLIMIT_NPROC on Windows: a new process group, the time limit, and a kill of the whole tree.
    start = time.monotonic()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, cwd=cwd, creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        subprocess.call(["taskkill", "/F", "/T", "/PID", str(process.pid)], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        stdout, stderr = process.communicate()
    seconds = time.monotonic() - start
    return runner.result(argv, TIMEOUT_STATUS if timed_out else process.returncode, stdout.decode("utf-8", "replace"),
                         stderr.decode("utf-8", "replace"), seconds, timed_out, _Unwatched(), [])

