"""Containment for the test suite: ``oxmp_hooks.tools.contain`` plus what only the tests need as root.

``RLIMIT_NPROC`` does not bind root. As root, every contained run of the suite switches to an unprivileged user id of
its own (``UnprivilegedUser``) so that the process cap binds, and the bundles' folders are made readable to it
(``make_accessible``); the watchdog counts processes too.
"""

import os

from oxmp_hooks.tools.contain import TIMEOUT_STATUS, Result, Watchdog, run as run_contained, wait_at_most

# What the tests use of the shipped runner, with what this module adds.
__all__ = ["TIMEOUT_STATUS", "Result", "Watchdog", "wait_at_most", "run", "drops_privileges", "unprivileged_ids",
           "make_accessible"]

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
    """The user a contained run switches to as root (``oxmp_hooks.tools.contain.run(user=...)``)."""

    def __init__(self):
        self.uid, self.gid = unprivileged_ids()

    def switch(self):
        # In the child, between fork and exec.
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)


def run(argv, unprivileged=True, **options):
    """``oxmp_hooks.tools.contain.run()``; ``unprivileged``: as root, run as this runner's own unprivileged user."""
    user = UnprivilegedUser() if unprivileged and drops_privileges() else None
    return run_contained(argv, user=user, **options)


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
