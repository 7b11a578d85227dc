"""Is a file descriptor (POSIX) or handle (Windows) named on a command line what a genuine parent hands over?

A worker or helper reads its orders from descriptors its parent passed: a pickle on the worker's pipe, REGISTER lines
on a resource tracker's pipe, connections on the forkserver's socket. Whoever merely runs the app (a shell, a service
that passes user data on stdin) can name a descriptor on the command line, and can make one of its own streams appear
under any number (``5<&0``), a named FIFO (``3<>ctl.fifo``) or a pipe of its own (``5<<<data``), but cannot make the
app's own process create a pipe for it. So a descriptor is trusted for what it is, never for its number:

- it is not the same open file as the process's standard input, output or error, under whatever number
  (``commands`` refuses the numbers 0, 1 and 2 themselves), nor the same as another descriptor of the same command;
- it is what ``os.pipe()`` makes, of the right direction (``O_RDONLY`` for a read end, ``O_WRONLY`` for a write end
  where pipes are one-way: Linux and macOS), and not a named FIFO; or a listening Unix socket named as multiprocessing
  names it;
- on Linux, where ``/proc`` shows it, the process that started this one is a Python process of this same app
  (``starter_problem()``): the app itself, one of its workers or helpers. Not another program, another user's process,
  or a reaper that adopted this process after its starter died.

All of it is checked before anything reads from the descriptor. On Windows a worker takes its pipe from the parent
process it names; the handle must be a pipe there, and the parent must be another process.
"""

import os
import stat
import sys

from _oxmp_runtime.commands import LISTENER, PIPE_WRITE

# Names for annotations only: nothing is imported for them at run time (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

    # (name on the command line, descriptor, kind: a commands.DESCRIPTOR_KINDS)
    Descriptor = tuple[str, int, str]

# Where a pipe's two ends are each one-way, as os.pipe() opens them (Linux: pipe(7); macOS: pipe(2)). On FreeBSD and
# others a pipe may be two-way, and both ends then read O_RDWR.
ONE_WAY_PIPES = ("linux", "darwin")


def first_problem(descriptors: "Sequence[Descriptor]") -> "str | None":
    """Why the descriptors of a command, ``(name, fd, kind)`` each, are not what a genuine parent hands over, or
    None."""
    seen = {}  # type: dict[tuple[int, int], str]
    for name, fd, kind in descriptors:
        found = problem(name, fd, kind)
        if found:
            return found
        identity = _identity(os.fstat(fd))
        if identity in seen:
            # Each is a pipe or socket of its own (a worker's task pipe is not the tracker's; GNU make's jobserver
            # hands both ends of one pipe to its recipes).
            return "%s=%d is the same pipe as %s" % (name, fd, seen[identity])
        seen[identity] = "%s=%d" % (name, fd)
    if descriptors:
        starter = starter_problem()
        if starter:
            name, fd, _ = descriptors[0]
            return "%s=%d was not made by this app: %s" % (name, fd, starter)
    return None


def problem(name: "str", fd: "int", kind: "str") -> "str | None":
    """Why descriptor ``fd`` (argument ``name``) is not a ``kind`` (a ``commands.DESCRIPTOR_KINDS``), or None."""
    try:
        info = os.fstat(fd)
    except (OSError, OverflowError, ValueError):
        return "%s=%d is not an open file descriptor" % (name, fd)
    stream = _standard_stream(info)
    if stream:
        return "%s=%d is this process's standard %s under another number" % (name, fd, stream)
    mode = info.st_mode
    if kind == LISTENER:
        if not stat.S_ISSOCK(mode) or not _is_listening_unix_socket(fd):
            return "%s=%d is not a listening Unix socket" % (name, fd)
        return None
    if not stat.S_ISFIFO(mode):
        return "%s=%d is not a pipe" % (name, fd)
    if _is_named_fifo(fd):
        return "%s=%d is a named FIFO, not a pipe" % (name, fd)
    import fcntl

    access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    writes = kind == PIPE_WRITE
    wanted = [os.O_WRONLY if writes else os.O_RDONLY]
    if not sys.platform.startswith(ONE_WAY_PIPES):
        wanted.append(os.O_RDWR)
    if access not in wanted:
        return "%s=%d is not the %s, as os.pipe() opens it" % (name, fd, kind)
    return None


def _identity(info: "os.stat_result") -> "tuple[int, int]":
    # Two descriptors are the same open pipe or socket when fstat() gives the same device and inode (Linux: one inode
    # per pipe; macOS and the BSDs: one per pipe end, so the same end under two numbers).
    return info.st_dev, info.st_ino


def _standard_stream(info: "os.stat_result") -> "str | None":
    """Which standard stream (``input``, ``output``, ``error``) is the same open file as ``info`` describes, or None.

    Only pipes, FIFOs and sockets: a terminal, or the /dev/null that the runtime hook file opens on a closed one
    (``start_like_python()`` in rthooks/pyi_rth_oxmp_multiprocessing.py), is never a parent's pipe anyway, and
    comparing those would tell nothing."""
    if not (stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode)):
        return None
    for fd, stream in ((0, "input"), (1, "output"), (2, "error")):
        try:
            if _identity(os.fstat(fd)) == _identity(info):
                return stream
        except OSError:
            continue
    return None


def _is_named_fifo(fd: "int") -> "bool":
    """True for a FIFO opened by its name; False for a pipe from ``os.pipe()`` or where the system cannot tell.

    Linux: ``/proc/self/fd/N`` names a pipe ``pipe:[INODE]`` and a FIFO by its path. macOS: ``F_GETPATH`` gives a
    FIFO's path and nothing for a pipe."""
    try:
        return not os.readlink("/proc/self/fd/%d" % fd).startswith("pipe:")
    except OSError:
        pass
    import fcntl

    get_path = getattr(fcntl, "F_GETPATH", None)  # macOS (Python 3.9+)
    if get_path is None:
        return False
    try:
        return bool(fcntl.fcntl(fd, get_path, bytes(1024)).rstrip(b"\0"))
    except OSError:
        return False


# --- Who started this process (Linux) --------------------------------------------------------------------------------

# What starter_problem() finds a process to be.
THIS_APP = "this app"  # this executable, with Python loaded: the app, or a worker or helper of it
LAUNCHER = "launcher"  # this executable without Python: the first process of a onefile bundle, which only waits
OTHER = "other"  # another program, another user's process, or gone
UNKNOWN = "unknown"  # of this user but not readable (a process that made itself non-dumpable): cannot tell

# How many onefile launchers starter_problem() looks through: one for a onefile app started from outside, and one
# more for a onefile worker whose bootloader unpacks again.
MAX_LAUNCHERS = 2


def starter_problem(proc: "str" = "/proc", parent: "int | None" = None) -> "str | None":
    """Linux: why the process that started this one is not a Python process of this app, or None.

    Only a process of the app makes the pipes its workers and helpers read: its parent runs this same executable
    with Python loaded (a onefile bundle's first process, a launcher that only waits, is looked through to its own
    parent). Another program, another user's process, or a reaper that adopted this process after its parent died
    (under python, such a worker would run for nobody) is refused. None where this cannot be told: no ``/proc``, a
    parent outside this process's pid namespace, or one of this user whose ``/proc`` entries are not readable.
    ``parent``: the parent's process id (default: ``os.getppid()``).
    """
    try:
        executable = _executable(proc, "self")
    except OSError:
        return None
    pid = os.getppid() if parent is None else parent
    for _ in range(MAX_LAUNCHERS + 1):
        if pid == 0:
            return None
        found = _what_runs(proc, pid, executable)
        if found in (THIS_APP, UNKNOWN):
            return None
        if found == OTHER:
            return "the process that started this one (pid %d) is not this app's" % pid
        pid = _parent_of(proc, pid)  # type: ignore[assignment]  # None: answered just below
        if pid is None:
            return None
    return "more than %d launchers of this executable started this process" % MAX_LAUNCHERS


def _executable(proc: "str", pid: "int | str") -> "tuple[tuple[int, int], str]":
    # (device, inode) of what the process runs, and its path: stat() follows /proc's link even to a deleted file.
    return _identity(os.stat("%s/%s/exe" % (proc, pid))), os.readlink("%s/%s/exe" % (proc, pid))


def _what_runs(proc: "str", pid: "int", executable: "tuple[tuple[int, int], str]") -> "str":
    """What process ``pid`` is to this one: THIS_APP, LAUNCHER, OTHER or UNKNOWN (above)."""
    try:
        theirs = _executable(proc, pid)
    except PermissionError:
        # Another user's process, or one of this user's that is not dumpable (one that changed its user id, say):
        # a genuine parent has this process's real user id, as a child inherits it.
        return UNKNOWN if _real_uid(proc, pid) == os.getuid() else OTHER
    except OSError:
        return OTHER  # gone, a zombie, or hidden (hidepid): not a parent that is still there to be this app
    if theirs[0] != executable[0]:
        # The app's file replaced while it ran (an update): its link reads "PATH (deleted)". Cannot tell.
        replaced = theirs[1].endswith(" (deleted)") and theirs[1][: -len(" (deleted)")] == executable[1]
        return UNKNOWN if replaced else OTHER
    try:
        return THIS_APP if _has_python_loaded(proc, pid) else LAUNCHER
    except OSError:
        return UNKNOWN


def _has_python_loaded(proc: "str", pid: "int") -> "bool":
    # PyInstaller's bootloader loads the shared libpython it bundles into the process that runs Python; a onefile
    # bundle's first process never does (checked: PyInstaller 6.0-6.22, Linux).
    with open("%s/%d/maps" % (proc, pid)) as maps:
        return any(os.path.basename(line.rstrip("\n").rpartition(" ")[2]).startswith("libpython") for line in maps)


def _real_uid(proc: "str", pid: "int") -> "int | None":
    try:
        with open("%s/%d/status" % (proc, pid)) as status:
            for line in status:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _parent_of(proc: "str", pid: "int") -> "int | None":
    try:
        with open("%s/%d/stat" % (proc, pid)) as stat_file:
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
            return int(stat_file.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


# multiprocessing names the forkserver's socket connection.arbitrary_address("AF_UNIX"): a new file in its temporary
# folder, `listener-XXXXXXXX` in 3.8-3.12 and the first 3.13 releases (in some versions on Linux, the same name in the
# abstract namespace), `sock-XXXXXXXX` in 3.14, 3.15 and later 3.13 releases (gh-132124, a shorter path: checked in
# 3.13.5, 3.13.18, 3.14.10, 3.15.2); multiprocess's copy of each version does the same.
LISTENER_PREFIXES = ("listener-", "sock-")


def _is_listening_unix_socket(fd: "int") -> "bool":
    import socket

    sock = socket.socket(fileno=fd)  # reads the family and type from the descriptor
    try:
        if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
            return False
        accepting = getattr(socket, "SO_ACCEPTCONN", None)
        if accepting is not None and not sock.getsockopt(socket.SOL_SOCKET, accepting):
            return False
        # A socket someone else listens on (a service manager's, say) has another name.
        address = sock.getsockname()
        if isinstance(address, bytes):  # abstract namespace
            address = address.lstrip(b"\0").decode("utf-8", "replace")
        return os.path.basename(address).startswith(LISTENER_PREFIXES)
    except OSError:
        return False
    finally:
        sock.detach()  # the descriptor stays open, for the helper


def windows_pipe_problem(parent_pid: "int", handle: "int") -> "str | None":
    """Why ``handle``, in process ``parent_pid``, is not a pipe this worker can read its orders from, or None.

    spawn_main() duplicates the handle from the parent (CPython 3.8-3.15: ``_winapi.OpenProcess`` with
    ``PROCESS_DUP_HANDLE``, ``DuplicateHandle``) and unpickles what it reads. The same calls are made here first, and
    the duplicate is only looked at (``GetFileType``) and closed. Naming this process itself would let a handle of its
    own, such as its standard input, pass for the parent's.
    """
    import _winapi

    if parent_pid == os.getpid():
        return "parent_pid=%d is this process" % parent_pid
    try:
        process = _winapi.OpenProcess(_winapi.PROCESS_DUP_HANDLE, False, parent_pid)  # type: ignore[attr-defined]
    except (OSError, OverflowError, ValueError):
        return "parent_pid=%d is not a process this one may take a pipe from" % parent_pid
    try:
        try:
            duplicate = _winapi.DuplicateHandle(  # type: ignore[attr-defined]
                process,
                handle,
                _winapi.GetCurrentProcess(),  # type: ignore[attr-defined]
                0,
                False,
                _winapi.DUPLICATE_SAME_ACCESS,  # type: ignore[attr-defined]
            )
        except (OSError, OverflowError, ValueError):
            return "pipe_handle=%d is not a handle of process %d" % (handle, parent_pid)
        try:
            if _winapi.GetFileType(duplicate) != getattr(_winapi, "FILE_TYPE_PIPE", 3):  # type: ignore[attr-defined]
                return "pipe_handle=%d is not a pipe" % handle
            if _is_a_standard_stream(duplicate):
                return "pipe_handle=%d is a standard stream" % handle
        finally:
            _winapi.CloseHandle(duplicate)  # type: ignore[attr-defined]
    finally:
        _winapi.CloseHandle(process)  # type: ignore[attr-defined]
    return None


def _is_a_standard_stream(handle: "int") -> "bool":
    """True if ``handle`` is the pipe of this process's standard input, output or error, which a console program
    shares with the process that started it. A genuine parent makes a new pipe for each worker (CPython 3.8-3.15:
    ``_winapi.CreatePipe`` in ``popen_spawn_win32``; loky the same), so naming the parent's stdin would make the worker
    unpickle the app's standard input."""
    import _winapi
    import ctypes

    # CompareObjectHandles: Windows 10 and later
    compare = getattr(ctypes.WinDLL("kernelbase"), "CompareObjectHandles", None)  # type: ignore[attr-defined]
    if compare is None:
        return False
    for which in (_winapi.STD_INPUT_HANDLE, _winapi.STD_OUTPUT_HANDLE, _winapi.STD_ERROR_HANDLE):  # type: ignore[attr-defined]
        standard = _winapi.GetStdHandle(which)  # type: ignore[attr-defined]
        if standard and compare(ctypes.c_void_p(handle), ctypes.c_void_p(standard)):
            return True
    return False
