"""The cgroup of one contained run (Linux, cgroup v2): a child of the runner's own cgroup, made where the runner may
write there (as root; a user in a delegated subtree, as systemd gives its user services).

The keeper is moved into it before it starts the app, so every process of the run is in it from its first
instruction, and stays in it whatever it does to the process tree: leave the session, lose its parent, kill or stop
the keeper. Only a process that may write to another cgroup's ``cgroup.procs`` can leave (root, or the runner's own
user in a delegated subtree): that takes intent, not a slip. At the end every process in it is killed
(``cgroup.kill``, Linux 5.14; before that, each one it lists, until none is left), and it is removed. Where the
runner's cgroup hands the pids controller to its children, ``pids.max`` caps the run even as root.
"""

from __future__ import annotations

import os
import signal
import time

__all__ = ["Cgroup"]

PREFIX = "oxmp-run-"


def _own_cgroup_folder() -> str | None:
    # The cgroup v2 line of /proc/self/cgroup is "0::PATH"; PATH is under the mount point of the cgroup2 file system,
    # which /proc/self/mountinfo gives (on hybrid systems it is not /sys/fs/cgroup but a folder under it).
    try:
        with open("/proc/self/cgroup") as lines:
            path = next((line[3:].rstrip("\n") for line in lines if line.startswith("0::")), None)
        with open("/proc/self/mountinfo") as lines:
            mounts = [line.split() for line in lines]
    except OSError:
        return None
    for fields in mounts:
        # mount ID, parent ID, major:minor, root, mount point, options, optional fields..., "-", type, source, ...
        if path is not None and fields[fields.index("-") + 1] == "cgroup2" and fields[3] == "/":
            return os.path.join(fields[4], path.lstrip("/"))
    return None


class Cgroup:
    """A cgroup made for one run: ``make()`` it, ``add()`` the keeper before it starts anything, then ``kill()`` every
    process in it and ``remove()`` it."""

    def __init__(self, path: str, join_fd: int) -> None:
        self.path = path
        self.join_fd: int | None = join_fd  # cgroup.procs, open for writing (the check of a write is as of opening)

    @classmethod
    def make(cls, max_tasks: int) -> Cgroup | None:
        """A new cgroup under the runner's own, or None where there is none to make (not Linux, cgroup v1 only, not
        allowed)."""
        parent = _own_cgroup_folder()
        # Moving a process needs write access to the cgroup.procs of both cgroups' common ancestor: the runner's.
        if parent is None or not os.access(os.path.join(parent, "cgroup.procs"), os.W_OK):
            return None
        _remove_stale(parent)
        path = os.path.join(parent, "%s%d-%s" % (PREFIX, os.getpid(), os.urandom(4).hex()))
        try:
            os.mkdir(path)
        except OSError:
            return None
        try:
            join_fd = os.open(os.path.join(path, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            os.rmdir(path)
            return None
        group = cls(path, join_fd)
        group._write("pids.max", str(max_tasks))  # where the pids controller is handed down; else no such file
        return group

    def add(self, pid: int) -> bool:
        """Move process ``pid`` into the cgroup (its children to come are born in it); False if that is refused."""
        try:
            os.write(self.join_fd, b"%d" % pid)  # type: ignore[arg-type]  # None only after remove()
            return True
        except OSError:
            return False

    def members(self) -> list[int]:
        """Process ids in the cgroup (those that have exited, zombies included, are not listed)."""
        try:
            with open(os.path.join(self.path, "cgroup.procs"), "rb") as procs:
                return [int(pid) for pid in procs.read().split()]
        except OSError:
            return []

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL every process in the cgroup and wait up to ``timeout`` s until none is left."""
        deadline = time.monotonic() + timeout
        if not self._write("cgroup.kill", "1"):
            # Before Linux 5.14: one by one, again and again, as one that forked meanwhile is listed next time.
            while time.monotonic() < deadline:
                members = self.members()
                if not members:
                    break
                for pid in members:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.005)
        while self.members() and time.monotonic() < deadline:
            time.sleep(0.005)

    def remove(self) -> None:
        if self.join_fd is not None:
            os.close(self.join_fd)
            self.join_fd = None
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            pass
        except OSError:
            pass  # still populated (a process in uninterruptible sleep): left for the next run's clean-up

    def _write(self, name: str, text: str) -> bool:
        try:
            with open(os.path.join(self.path, name), "w") as control:
                control.write(text)
            return True
        except OSError:
            return False


def _remove_stale(parent: str) -> None:
    # The cgroups of runs whose runner was killed before it could remove them: empty ones can go (rmdir refuses the
    # others).
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if not name.startswith(PREFIX):
            continue
        runner = name[len(PREFIX) :].split("-")[0]
        if runner.isdigit() and not os.path.exists("/proc/" + runner):
            try:
                os.rmdir(os.path.join(parent, name))
            except OSError:
                pass
