"""Run a frozen app so that it cannot fork-bomb the machine: the doctor's runs and ``python -m oxmp_hooks run``.

A broken bundle may start itself again and again. Every run here gets its own session, a process cap, a time limit,
and a kill of all its processes afterwards. On Linux "all" means every descendant, also one that left the session
(``setsid()``) or whose parent exited: the app runs under a keeper (``keeper.py``), a child subreaper that stays their
ancestor, and, where one can be made, in a cgroup of the run's own (``cgroup.py``). An app that kills or stops its
keeper ends the run there (``Result.lost_keeper``). Elsewhere "all" means the app's process group. ``RLIMIT_NPROC``
does not bind root: a watchdog counts the run's processes too where ``/proc`` exists (``Watchdog``). The time limit
and the process cap are checked here, once (``time_limit()``, ``process_cap()``), for every command that takes them.

``run()`` is what oxmp's commands use. The test suite's runner (``tests/contain.py``) derives from ``Runner`` to start
the app with other descriptors, as another user (through a keeper of its own), or without the watchdog: it overrides
the methods under "What the test suite's runner changes", which oxmp's commands use as they are. The process
primitives (prctl, the cap on RLIMIT_NPROC, ``/proc``) are the keeper's, which this module imports.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from oxmp_hooks.tools import keeper

if TYPE_CHECKING:
    from oxmp_hooks.tools.cgroup import Cgroup
    from oxmp_hooks.tools.keeper import Prctl

__all__ = ["Result", "Runner", "run", "time_limit", "process_cap"]

DEFAULT_TIMEOUT = 60
DEFAULT_MAX_PROCS = 64
# The longest time limit: a contained run is a check, not a service (and Python's waits overflow near 1e10 s).
MAX_TIMEOUT = 7 * 24 * 3600
# The largest process cap: Linux's PID_MAX_LIMIT, more processes than any system runs at once.
MAX_PROCS = 4 * 1024 * 1024
TIMEOUT_STATUS = 124  # like timeout(1)
KEEPER_LOST_STATUS = 125  # timeout(1)'s status when it failed itself: the app's keeper was killed or stopped
# How often the runner looks whether the keeper was stopped, while it waits.
KEEPER_CHECK_INTERVAL = 0.1
# Seconds the rest of the app's processes get to exit on their own once the app has (a resource tracker that is
# reading its last messages), before every one left is killed.
LINGER = 1.0


class Result:
    """What a contained run did: its status, output, and what the containment saw."""

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int,
        stdout: str,
        stderr: str,
        seconds: float,
        timed_out: bool,
        bombed: bool,
        lost_keeper: str | None = None,
        peak_procs: int = 0,
        leftovers: Sequence[int] = (),
    ) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
        self.timed_out = timed_out
        self.bombed = bombed
        # Linux: None, or how the app's keeper ended before its time ("killed by SIGKILL: ...", "stopped by
        # SIGSTOP: ...", then what that left): the run was ended there, and ``returncode`` is KEEPER_LOST_STATUS.
        self.lost_keeper = lost_keeper
        self.peak_procs = peak_procs  # the most processes the watchdog saw at once (0: no watchdog ran)
        self.leftovers = list(leftovers)  # the run's processes still running ``linger`` s after the app had exited

    def __repr__(self) -> str:
        return (
            "Result(returncode=%r, timed_out=%r, bombed=%r, peak_procs=%r, leftovers=%r, lost_keeper=%r,\n"
            " stdout=%r,\n stderr=%r)"
            % (
                self.returncode,
                self.timed_out,
                self.bombed,
                self.peak_procs,
                self.leftovers,
                self.lost_keeper,
                self.stdout[-3000:],
                self.stderr[-3000:],
            )
        )


def run(
    argv: Sequence[str],
    timeout: float = DEFAULT_TIMEOUT,
    max_procs: int = DEFAULT_MAX_PROCS,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Result:
    """Run ``argv`` contained, with standard input from /dev/null; returns a ``Result``.

    An executable that cannot be started raises OSError, as ``subprocess.Popen`` does. A ``timeout`` or ``max_procs``
    that ``time_limit()`` or ``process_cap()`` refuses raises ValueError.
    """
    return Runner().run(argv, timeout, max_procs, env, cwd)


class Runner:
    """A contained run: wait for the app's first process, then up to ``linger`` s for the rest of its processes, then
    kill every one left."""

    linger = LINGER

    def run(
        self,
        argv: Sequence[str],
        timeout: float = DEFAULT_TIMEOUT,
        max_procs: int = DEFAULT_MAX_PROCS,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> Result:
        timeout, max_procs = time_limit(timeout), process_cap(max_procs)
        if os.name != "posix":
            return _run_windows(argv, timeout, env, cwd)
        prctl = keeper.linux_prctl()  # loaded here: the child, between fork and exec, should only call
        tree: _KeptTree | _GroupTree = (
            _KeptTree(argv, self.keeper_command())
            if prctl is not None and os.path.isdir("/proc/self")
            else _GroupTree(argv, self.app_setup())
        )
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            start = time.monotonic()
            # RLIMIT_NPROC counts every process (on Linux, every thread) of the user: leave room for those it has
            # already, and for the keeper when it runs as that user too.
            uid = self.app_uid()
            keepers = 1 if isinstance(tree, _KeptTree) and uid == os.getuid() else 0
            tree.start(
                max_procs + count_tasks_of(uid) + keepers,
                max_procs,
                prctl,
                stdout=out,
                stderr=err,
                env=env,
                cwd=cwd,
                **self.start_options(),
            )
            watchdog = self.start_watchdog(lambda: len(tree.members()), tree.stop, max_procs)
            try:
                returncode, timed_out = tree.wait(timeout)
                seconds = time.monotonic() - start
                leftovers = tree.wait_for_members(self.linger) if not timed_out else []
            finally:  # also when the caller is interrupted
                tree.kill()
                watchdog.stop()
                tree.close()
            lost_keeper = None
            if tree.lost is not None:  # also when the app's other processes did it after the app had exited
                returncode = KEEPER_LOST_STATUS
                lost_keeper = tree.lost + (
                    ": the run was ended there, and every process of it killed"
                    if tree.held_all
                    else ": the run was ended there; those of its processes that had left its "
                    "session may still run (no cgroup of its own)"
                )
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
            return Result(
                argv,
                returncode,
                stdout,
                stderr,
                seconds,
                timed_out,
                watchdog.bombed,
                lost_keeper,
                watchdog.peak,
                leftovers,
            )

    # --- What the test suite's runner changes (tests/contain.py) ------------------------------------------------------

    def start_options(self) -> dict[str, Any]:
        """``subprocess.Popen`` options for the app's standard input and inherited descriptors (POSIX): ``stdin``,
        ``pass_fds`` (descriptors the app inherits under the same numbers)."""
        return {"stdin": subprocess.DEVNULL, "pass_fds": ()}

    def app_uid(self) -> int:
        """The user id the app runs as: its process cap counts that user's processes."""
        return os.getuid()

    def keeper_command(self) -> list[str]:
        """Linux: the command that starts the keeper (``keeper.py``), to which the runner adds the keeper's arguments.
        It runs as the caller: the interpreter may be readable by no one else."""
        return [sys.executable, "-I", "-S", keeper.__file__]

    def app_setup(self) -> Callable[[], object] | None:
        """Elsewhere (macOS): None, or a function to call in the app's process before its process cap is set."""
        return None

    def start_watchdog(self, count: Callable[[], int], stop: Callable[[], object], max_procs: int) -> Watchdog:
        """Something that counts the run's processes from now on, stops them past ``max_procs``, and has ``stop()``,
        ``bombed`` and ``peak``: the Watchdog."""
        watchdog = Watchdog(count, stop, max_procs)
        watchdog.start()
        return watchdog


def time_limit(value: object) -> float:
    """``value`` (a number, or its text) as a time limit in seconds, a float: the one check of a time limit, which
    ``run()``, ``python -m oxmp_hooks run`` and the doctor all use. Anything but a number above 0 and at most
    MAX_TIMEOUT raises ValueError, whose message says what is allowed (NaN compares false with everything, and would
    mean no limit; infinity, or 1e10, overflows the clocks that waits use)."""
    try:
        seconds = float(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else math.nan
    except (ValueError, OverflowError):  # not a number; an int too large for a float
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT:
        raise ValueError("%s is not a number of seconds above 0 and at most %d (a week)" % (_shown(value), MAX_TIMEOUT))
    return seconds


def process_cap(value: object) -> int:
    """``value`` (a whole number, or its text) as a process cap, an int: anything but a whole number from 1 to
    MAX_PROCS raises ValueError, whose message says what is allowed."""
    try:
        cap = int(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else 0
    except ValueError:  # not a whole number, or too many digits to convert
        cap = 0
    if not 1 <= cap <= MAX_PROCS:
        raise ValueError("%s is not a whole number from 1 to %d" % (_shown(value), MAX_PROCS))
    return cap


def _shown(value: object) -> str:
    # How an error message quotes a value: its repr, cut at 40 characters (an int with more digits than Python turns
    # into text is only described).
    try:
        text = repr(value)
    except ValueError:
        return "an %s too long to show" % type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


class _KeptTree:
    """Linux: the app under a keeper (keeper.py), a child subreaper that stays the ancestor of all the app starts,
    so that a descendant that calls setsid() or whose parent exits is still counted and killed; and, where one can be
    made, all of them in a cgroup of the run's own (cgroup.py), which holds them even if the app kills or stops its
    keeper. The app has a process group of its own, so that ``kill(0, ...)`` does not reach the keeper."""

    keeper: subprocess.Popen[bytes]  # from start() on
    pid: int

    def __init__(self, argv: Sequence[str], keeper_command: list[str]) -> None:
        self.argv = list(argv)
        self.keeper_command = keeper_command
        self.cgroup: Cgroup | None = None
        self.lost: str | None = None  # how the keeper ended before its time, if it did ("killed by SIGKILL")
        self.held_all = False  # every process of the run is in a cgroup of its own, whatever it does to its keeper
        self.status_line = b""
        self.status_pipe: int | None = None
        self.closed = False

    def start(self, cap: int, max_procs: int, prctl: Prctl | None, pass_fds: Sequence[int], **options: Any) -> None:
        from oxmp_hooks.tools.cgroup import Cgroup

        assert prctl is not None  # run() makes a _KeptTree only where there is prctl
        self.cgroup = Cgroup.make(max_procs + 1)  # the keeper is in it too
        # The keeper starts the app once this pipe says so: after the runner has moved it into the cgroup, which
        # takes a while (Linux waits for an RCU grace period) that the keeper's own start-up hides.
        go_read, go_write = os.pipe()
        self.status_pipe, status_write = os.pipe()
        try:
            self.keeper = subprocess.Popen(
                self.keeper_command + [str(status_write), str(go_read), str(cap)] + self.argv,
                start_new_session=True,
                pass_fds=tuple(pass_fds) + (status_write, go_read),
                preexec_fn=lambda: prctl(keeper.PR_SET_PDEATHSIG, signal.SIGKILL),
                **options,
            )
        except BaseException:
            os.close(self.status_pipe)
            self.status_pipe = None
            os.close(go_write)
            self._remove_cgroup()
            raise
        finally:
            os.close(status_write)
            os.close(go_read)
        self.pid = self.keeper.pid
        if self.cgroup is not None and not self.cgroup.add(self.pid):
            self._remove_cgroup()  # not allowed after all (a container's read-only cgroup folder): run without
        self.held_all = self.cgroup is not None
        os.write(go_write, b"g")
        os.close(go_write)

    def _read_status(self, timeout: float) -> bytes | None:
        import select

        assert self.status_pipe is not None  # open from start() to close()

        deadline = time.monotonic() + timeout
        while not self.status_line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not select.select([self.status_pipe], [], [], min(left, KEEPER_CHECK_INTERVAL))[0]:
                if self._keeper_state() == "lost":  # stopped
                    return None
                continue
            data = os.read(self.status_pipe, 64)
            if not data:  # the keeper exited (killed) without a word: its pipe closed as it did
                os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
                if self._keeper_state() == "exited":
                    self.lost = "ended before the app"
                return None
            self.status_line += data
        return self.status_line

    def wait(self, timeout: float) -> tuple[int, bool]:
        line = self._read_status(timeout)
        if line is None:
            return (TIMEOUT_STATUS, True) if self.lost is None else (KEEPER_LOST_STATUS, False)
        kind, _, value = line.decode("ascii").partition(" ")
        if kind == "error":
            self.kill()
            self.close()
            code = int(value)
            raise OSError(code, os.strerror(code), self.argv[0])
        return _exit_status(int(value)), False

    def members(self) -> list[int]:
        if self.cgroup is not None:
            return [pid for pid in self.cgroup.members() if pid != self.pid]
        return keeper.descendants(self.pid)

    def wait_for_members(self, linger: float) -> list[int]:
        # The keeper exits when the app's last descendant has.
        state = self._wait_for_keeper(linger)
        return [] if state == "exited" else self.members()

    def kill(self) -> None:
        if self.closed:
            return  # the keeper is reaped: its pid is no longer its own
        if self.cgroup is not None:
            self.cgroup.kill()  # the keeper too, and what it no longer reaches
            return
        if self._signal_keeper():
            self._wait_for_exit(10)
        _kill_group(self.pid)  # should the keeper itself not answer
        if self.lost is not None:
            _kill_session(self.pid)  # the app's processes its lost keeper left behind, as far as they stayed in it

    def stop(self) -> None:
        # The watchdog's, from its thread: the keeper kills every descendant and reports the app's end as usual. A
        # lost keeper cannot, the cgroup can.
        if self.lost is not None and self.cgroup is not None:
            self.cgroup.kill()
        else:
            self._signal_keeper()

    def close(self) -> None:
        if self.keeper.returncode is None:
            self.keeper.wait()
        self.closed = True
        if self.status_pipe is not None:
            os.close(self.status_pipe)
            self.status_pipe = None
        self._remove_cgroup()

    def _signal_keeper(self) -> bool:
        # SIGTERM: it kills every descendant, then exits; SIGCONT, should the app have stopped it. Not through Popen,
        # which would reap it: until close(), its pid (and session id) must stay its own.
        if self.keeper.returncode is not None:
            return False
        for signum in (signal.SIGTERM, signal.SIGCONT):
            try:
                os.kill(self.pid, signum)
            except OSError:
                pass
        return True

    def _wait_for_keeper(self, timeout: float) -> str | None:
        # Up to ``timeout`` s for the keeper to exit or be lost; its state (``_keeper_state()``) then.
        deadline = time.monotonic() + timeout
        while True:
            state = self._keeper_state()
            left = deadline - time.monotonic()
            if state is not None or left <= 0:
                return state
            if self._wait_for_exit(min(left, KEEPER_CHECK_INTERVAL)):
                return self._keeper_state()

    def _wait_for_exit(self, timeout: float) -> bool:
        # Whether the keeper exits within ``timeout`` s (it is not reaped). Its status pipe ends as it exits.
        import select

        deadline = time.monotonic() + timeout
        while self.keeper.returncode is None and self.status_pipe is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.status_pipe], [], [], left)[0]:
                return False
            data = os.read(self.status_pipe, 64)
            if not data:
                os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
                break
            self.status_line += data  # the app's status, should it come now
        return True

    def _keeper_state(self) -> str | None:
        # None while the keeper runs, "exited" once it has exited as it should (status 0), else "lost" (killed,
        # stopped, another status), with ``lost`` saying how. It is not reaped here: its pid, and so its session id,
        # stay its own until close().
        if self.lost is not None:
            return "lost"
        if self.keeper.returncode is not None:
            return "exited" if self.keeper.returncode == 0 else self._lose(self.keeper.returncode)
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WSTOPPED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped meanwhile (close())
            return "exited" if self.keeper.returncode in (0, None) else self._lose(self.keeper.returncode)
        if info is None:
            return None
        if info.si_code == os.CLD_EXITED:
            return "exited" if info.si_status == 0 else self._lose(info.si_status)
        if info.si_code == os.CLD_STOPPED:
            self.lost = "stopped by %s" % _signal_name(info.si_status)
            return "lost"
        return self._lose(-info.si_status)  # killed, or dumped core

    def _lose(self, code: int) -> str:
        # ``code`` as subprocess gives it: an exit status, or minus a signal.
        self.lost = "killed by %s" % _signal_name(-code) if code < 0 else "ended with status %d" % code
        return "lost"

    def _remove_cgroup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None


class _GroupTree:
    """Elsewhere (macOS): the app in a session of its own, its process group killed. A descendant that calls setsid()
    leaves the group and is not found."""

    lost: str | None = None  # there is no keeper
    held_all = False
    process: subprocess.Popen[bytes]  # from start() on
    pid: int

    def __init__(self, argv: Sequence[str], setup: Callable[[], object] | None) -> None:
        self.argv = argv
        self.setup = setup

    def start(self, cap: int, max_procs: int, prctl: Prctl | None, **options: Any) -> None:
        self.process = subprocess.Popen(
            self.argv, start_new_session=True, preexec_fn=lambda: _limit(cap, self.setup, prctl), **options
        )
        self.pid = self.process.pid

    def wait(self, timeout: float) -> tuple[int, bool]:
        return wait_at_most(self.process, timeout)

    def members(self) -> list[int]:
        return group_members(self.pid)

    def wait_for_members(self, linger: float) -> list[int]:
        return _wait_for_group(self.pid, linger)

    def kill(self) -> None:
        _kill_group(self.pid)

    stop = kill

    def close(self) -> None:
        if self.process.returncode is None:
            self.process.wait()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number


def _exit_status(status: int) -> int:
    # A wait status as subprocess gives it: the exit code, or minus the signal that killed the process.
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait_at_most(process: subprocess.Popen[Any], timeout: float) -> tuple[int, bool]:
    """(exit status, False) of a process that ends within ``timeout`` seconds, else (TIMEOUT_STATUS, True)."""
    try:
        return process.wait(timeout=timeout), False
    except subprocess.TimeoutExpired:
        return TIMEOUT_STATUS, True


def _limit(max_procs: int, setup: Callable[[], object] | None, prctl: Prctl | None) -> None:
    # Runs in the child between fork and exec. The setup first: as root, RLIMIT_NPROC is ignored, and a setup may
    # switch to another user.
    if setup is not None:
        setup()
    keeper.cap_tasks(max_procs)
    if prctl is not None:
        # prctl(PR_SET_PDEATHSIG, SIGKILL): the app dies with the process that runs it, should that one die before it
        # can kill the group (a test run interrupted from outside); multiprocessing's helpers then exit as their pipes
        # close. After the setup's switch of user, if any, which clears it.
        prctl(keeper.PR_SET_PDEATHSIG, signal.SIGKILL)


def group_members(pgid: int) -> list[int]:
    """Live process ids in process group ``pgid`` (Linux: from /proc; elsewhere: empty)."""
    # /proc/PID/stat after the command name: state, ppid, pgrp, ...; a zombie has exited already.
    return [pid for pid, stat in keeper.proc_stats() if int(stat[2]) == pgid and stat[0] != b"Z"]


def count_tasks_of(uid: int) -> int:
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
    listing = subprocess.run(
        ["ps", "-U", str(uid), "-o", "pid="], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True
    )
    return len(listing.stdout.split())


def _wait_for_group(pgid: int, linger: float) -> list[int]:
    deadline = time.monotonic() + linger
    while True:
        members = group_members(pgid)
        if not members or time.monotonic() >= deadline:
            return members
        time.sleep(0.02)


def _kill_session(sid: int) -> None:
    # Every process of session ``sid`` (/proc/PID/stat after the command name: state, ppid, pgrp, session, ...).
    for pid, stat in keeper.proc_stats():
        if int(stat[3]) == sid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Watchdog(threading.Thread):
    """Counts processes with ``count()`` and calls ``stop()`` whenever there are more than ``max_procs`` (belt and
    braces beside RLIMIT_NPROC; the only cap where that does not bind, as under Wine)."""

    def __init__(
        self, count: Callable[[], int], stop: Callable[[], object], max_procs: int, interval: float = 0.05
    ) -> None:
        super().__init__(daemon=True)
        self.count = count
        self.stop_processes = stop
        self.max_procs = max_procs
        self.interval = interval
        self.peak = 0
        self.bombed = False
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            count = self.count()
            self.peak = max(self.peak, count)
            if count > self.max_procs:
                self.bombed = True
                self.stop_processes()

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def _run_windows(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None, cwd: str | None) -> Result:
    # No sessions or RLIMIT_NPROC on Windows: a new process group, the time limit, and a kill of the whole tree.
    start = time.monotonic()
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        creationflags=subprocess.CREATE_NEW_PROCESS_GROUP,  # type: ignore[attr-defined]  # Windows only
    )
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        subprocess.call(
            ["taskkill", "/F", "/T", "/PID", str(process.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        stdout, stderr = process.communicate()
    seconds = time.monotonic() - start
    return Result(
        argv,
        TIMEOUT_STATUS if timed_out else process.returncode,
        stdout.decode("utf-8", "replace"),
        stderr.decode("utf-8", "replace"),
        seconds,
        timed_out,
        False,
    )
