"""Containment for the test suite and the benchmark: oxmp's runner (``oxmp_hooks.tools.contain``) with what only they
need, which oxmp's commands never do.

- ``RLIMIT_NPROC`` does not bind root. As root, every contained run of the suite switches to an unprivileged user id
  of its own (``UnprivilegedUser``) so that the process cap binds, and the bundles' folders are made readable to it
  (``make_accessible``); the watchdog counts processes too, unless a run turns it off (``watch=False``: the benchmark,
  whose timed processes it would disturb).
- An app started as a helper is handed what its parent would: bytes on a pipe as standard input (``stdin``),
  descriptors under the same numbers (``pass_fds``), or no descriptor 2 at all (``stderr_closed``).
- The switch of user and the closed descriptor 2 happen in the app's process before its process cap is set: on Linux
  in the child of the suite's keeper (``tests/keeper_with_setup.py``, oxmp's keeper with that set-up), elsewhere
  before exec.
"""

import json
import os
import subprocess
import sys

from oxmp_hooks.tools import contain as shipped, keeper
from oxmp_hooks.tools.contain import TIMEOUT_STATUS, Result, Watchdog, wait_at_most
from tests.keeper_with_setup import set_up_app

KEEPER_WITH_SETUP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keeper_with_setup.py")

# What the tests use of the shipped runner, with what this module adds.
__all__ = [
    "TIMEOUT_STATUS",
    "Result",
    "Watchdog",
    "wait_at_most",
    "run",
    "drops_privileges",
    "unprivileged_ids",
    "make_accessible",
]

# As root, contained runs use an unprivileged user id of their own: UNPRIVILEGED_UID_BASE plus the runner's process id.
# RLIMIT_NPROC counts every process of a user; with a shared one (`nobody`), another test run or service of that user
# would spend this run's budget, and an app could not start the workers it is allowed. No account is needed: the
# bundles' files are readable by others, and each run gets a writable folder of its own.
UNPRIVILEGED_UID_BASE = 2000000


def drops_privileges():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def unprivileged_ids():
    """The user and group ids contained runs of this process use as root: no other process shares them."""
    uid = UNPRIVILEGED_UID_BASE + os.getpid()
    return uid, uid


class UnprivilegedUser:
    """The user a contained run switches to as root."""

    def __init__(self):
        self.uid, self.gid = unprivileged_ids()


class Unwatched:
    """No watchdog: the process cap alone binds (RLIMIT_NPROC, as an unprivileged user)."""

    bombed = False
    peak = 0

    def stop(self):
        pass


class Runner(shipped.Runner):
    """oxmp's runner, starting the app as the tests need (see the module's docstring)."""

    def __init__(self, user=None, stdin=None, pass_fds=(), stderr_closed=False, linger=shipped.LINGER, watch=True):
        if user is None and drops_privileges() and not watch:
            raise ValueError("as root, a contained run needs a user to switch to, or watch=True")
        self.user, self.stdin, self.pass_fds = user, stdin, tuple(pass_fds)
        self.stderr_closed, self.linger, self.watch = stderr_closed, linger, watch
        self._stdin_pipe = None

    def run(self, argv, *args, **kwargs):
        if self.stdin is not None and os.name == "posix":
            self._stdin_pipe = _pipe_holding(self.stdin)
        try:
            return super().run(argv, *args, **kwargs)
        finally:
            if self._stdin_pipe is not None:
                os.close(self._stdin_pipe)
                self._stdin_pipe = None

    def start_options(self):
        return {
            "stdin": subprocess.DEVNULL if self._stdin_pipe is None else self._stdin_pipe,
            "pass_fds": self.pass_fds,
        }

    def app_uid(self):
        return os.getuid() if self.user is None else self.user.uid

    def setup_arguments(self):
        """``set_up_app()``'s arguments (what JSON holds), or None: nothing to set up."""
        if self.user is None and not self.stderr_closed:
            return None
        return [None if self.user is None else [self.user.uid, self.user.gid], self.stderr_closed]

    def keeper_command(self):
        setup = self.setup_arguments()
        if setup is None:
            return super().keeper_command()
        return [sys.executable, "-I", "-S", KEEPER_WITH_SETUP, keeper.__file__, json.dumps(setup)]

    def app_setup(self):
        setup = self.setup_arguments()
        return None if setup is None else lambda: set_up_app(*setup)

    def start_watchdog(self, count, stop, max_procs):
        return super().start_watchdog(count, stop, max_procs) if self.watch else Unwatched()


def run(
    argv,
    unprivileged=True,
    timeout=shipped.DEFAULT_TIMEOUT,
    max_procs=shipped.DEFAULT_MAX_PROCS,
    env=None,
    cwd=None,
    **options,
):
    """Run ``argv`` contained (``oxmp_hooks.tools.contain.run()``), returning its ``Result``.

    ``unprivileged``: as root, run as this runner's own unprivileged user. ``options`` (``Runner``): ``stdin``, the
    bytes the app reads from a pipe on its standard input (default: /dev/null); ``pass_fds``, descriptors the app
    inherits under the same numbers (POSIX); ``stderr_closed``, start the app without descriptor 2 (POSIX: its
    ``stderr`` is then empty); ``linger``, the seconds the app's other processes get to exit once it has; ``watch``,
    count the run's processes and kill them past ``max_procs`` (as root, on unless the run is unprivileged).
    """
    user = UnprivilegedUser() if unprivileged and drops_privileges() else None
    return Runner(user=user, **options).run(argv, timeout, max_procs, env, cwd)


def _pipe_holding(data):
    # The read end of a pipe that holds ``data`` and then ends: what a shell's `printf ... | app` hands the app.
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)  # the tests' inputs are far below a pipe's capacity (64 KiB on Linux)
    finally:
        os.close(write_end)
    return read_end


def make_accessible(path):
    """Let the unprivileged user read ``path`` and everything under it, run what is executable, and reach it."""
    if not drops_privileges():
        return
    for root, dirs, files in os.walk(path):
        for name in dirs:
            _add_mode(os.path.join(root, name), 0o055)
        for name in files:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                _add_mode(full, 0o055 if os.stat(full).st_mode & 0o100 else 0o044)
    _add_mode(path, 0o055)
    parent = os.path.dirname(os.path.abspath(path))
    while parent != os.path.dirname(parent):
        _add_mode(parent, 0o001)  # search only, so nothing above becomes listable
        parent = os.path.dirname(parent)


def _add_mode(path, bits):
    mode = os.stat(path).st_mode
    if mode & bits != bits:
        os.chmod(path, mode | bits)
