"""Is a file descriptor (POSIX) or handle (Windows) named on a command line what a genuine parent hands over?

A worker or helper reads its orders from descriptors its parent passed: a pickle on the worker's pipe, REGISTER lines
on a resource tracker's pipe, connections on the forkserver's socket. Whoever merely runs the app (a shell, a service
that passes user data on stdin) can name a descriptor on the command line, and can make one of its own streams appear
under any number (``5<&0``), but cannot create these. So a descriptor is trusted for what it is, never for its number:

- it is not the same open file as the process's standard input, output or error, under whatever number
  (``commands`` refuses the numbers 0, 1 and 2 themselves), nor the same as another descriptor of the same command;
- it is a pipe end of the right direction, or a listening Unix socket named as multiprocessing names it;
- on Linux, where ``/proc`` shows it, the read end of a pipe whose parent keeps writing to it
  (``commands.PIPE_FROM_PARENT``) is refused when the process that started the bundle holds no write end of it.

All of it is checked before anything reads from the descriptor. On Windows a worker takes its pipe from the parent
process it names; the handle must be a pipe there, and the parent must be another process.
"""

import os
import stat

from _oxmp_runtime.commands import LISTENER, PIPE_FROM_PARENT, PIPE_READ, PIPE_WRITE


def first_problem(descriptors):
    """Why the descriptors of a command, ``(name, fd, kind)`` each, are not what a genuine parent hands over, or
    None."""
    seen = {}
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
    return None


def problem(name, fd, kind):
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
    import fcntl

    access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    # Either end of a pipe is one-way (O_RDONLY or O_WRONLY) on Linux and macOS; O_RDWR allows for systems whose
    # pipes are two-way.
    writes = kind == PIPE_WRITE
    if access not in ((os.O_WRONLY, os.O_RDWR) if writes else (os.O_RDONLY, os.O_RDWR)):
        return "%s=%d is not the %s" % (name, fd, PIPE_WRITE if writes else PIPE_READ)
    if kind == PIPE_FROM_PARENT and parent_holds_write_end(fd) is False:
        return "%s=%d is a pipe that the process which started this one does not write to" % (name, fd)
    return None


def _identity(info):
    # Two descriptors are the same open pipe or socket when fstat() gives the same device and inode (Linux: one inode
    # per pipe; macOS and the BSDs: one per pipe end, so the same end under two numbers).
    return info.st_dev, info.st_ino


def _standard_stream(info):
    """Which standard stream (``input``, ``output``, ``error``) is the same open file as ``info`` describes, or None.

    Only pipes, FIFOs and sockets: a terminal or /dev/null (boot.occupy_standard_descriptors) is never a parent's
    pipe anyway, and comparing those would tell nothing."""
    if not (stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode)):
        return None
    for fd, stream in ((0, "input"), (1, "output"), (2, "error")):
        try:
            if _identity(os.fstat(fd)) == _identity(info):
                return stream
        except OSError:
            continue
    return None


# How far parent_holds_write_end() follows ancestors that run this same executable: a onefile bundle started without
# its parent's unpacked folder runs as two processes (PyInstaller's bootloader, then Python), and a bundle may start
# itself; a few levels cover both, and the walk ends even if process ids are reused.
MAX_SAME_EXECUTABLE_ANCESTORS = 4


def parent_holds_write_end(fd, proc="/proc"):
    """Linux: does the process that started this one hold a write end of the pipe ``fd`` reads from?

    True or False where ``/proc`` shows it; None where it cannot tell (not Linux, no ``/proc``, the parent's
    descriptors not readable by this user): then nothing is refused for it. "The process that started this one" is
    the parent, or, while the parent runs this same executable (the first process of a onefile bundle), its parent.
    A parent that has exited leaves this process to a reaper (init, a subreaper), which holds no such pipe: a worker
    or tracker that starts after its parent died is refused (under python it would run for nobody).
    """
    try:
        ours = os.readlink("%s/self/fd/%d" % (proc, fd))
        executable = _identity(os.stat("%s/self/exe" % proc))
    except OSError:
        return None
    pid = os.getppid()
    for _ in range(MAX_SAME_EXECUTABLE_ANCESTORS):
        held = _holds_write_end(proc, pid, ours)
        if held is not False:
            return held
        try:
            if _identity(os.stat("%s/%d/exe" % (proc, pid))) != executable:
                return False
            with open("%s/%d/stat" % (proc, pid)) as stat_file:
                # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
                pid = int(stat_file.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            return None
    return False


def _holds_write_end(proc, pid, link):
    """Does process ``pid`` hold, open for writing, the pipe that ``/proc/self/fd`` shows as ``link``? None: cannot
    tell (its descriptors are not readable by this user, or it is gone)."""
    folder = "%s/%d/fd" % (proc, pid)
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    for name in names:
        try:
            if os.readlink(folder + "/" + name) != link:
                continue
            with open("%s/%d/fdinfo/%s" % (proc, pid, name)) as info:
                flags = [line for line in info if line.startswith("flags:")]
        except OSError:
            continue  # closed meanwhile
        if flags and int(flags[0].split()[1], 8) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
            return True
    return False


# multiprocessing names the forkserver's socket connection.arbitrary_address("AF_UNIX"): a new file in its temporary
# folder, `listener-XXXXXXXX` in 3.8-3.12 and the first 3.13 releases (in some versions on Linux, the same name in the
# abstract namespace), `sock-XXXXXXXX` in 3.14, 3.15 and later 3.13 releases (gh-132124, a shorter path: checked in
# 3.13.5, 3.13.18, 3.14.10, 3.15.2); multiprocess's copy of each version does the same.
LISTENER_PREFIXES = ("listener-", "sock-")


def _is_listening_unix_socket(fd):
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


def windows_pipe_problem(parent_pid, handle):
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
        process = _winapi.OpenProcess(_winapi.PROCESS_DUP_HANDLE, False, parent_pid)
    except (OSError, OverflowError, ValueError):
        return "parent_pid=%d is not a process this one may take a pipe from" % parent_pid
    try:
        try:
            duplicate = _winapi.DuplicateHandle(process, handle, _winapi.GetCurrentProcess(), 0, False,
                                                _winapi.DUPLICATE_SAME_ACCESS)
        except (OSError, OverflowError, ValueError):
            return "pipe_handle=%d is not a handle of process %d" % (handle, parent_pid)
        try:
            if _winapi.GetFileType(duplicate) != getattr(_winapi, "FILE_TYPE_PIPE", 3):
                return "pipe_handle=%d is not a pipe" % handle
            if _is_a_standard_stream(duplicate):
                return "pipe_handle=%d is a standard stream" % handle
        finally:
            _winapi.CloseHandle(duplicate)
    finally:
        _winapi.CloseHandle(process)
    return None


def _is_a_standard_stream(handle):
    """True if ``handle`` is the pipe of this process's standard input, output or error, which a console program
    shares with the process that started it. A genuine parent makes a new pipe for each worker (CPython 3.8-3.15:
    ``_winapi.CreatePipe`` in ``popen_spawn_win32``; loky the same), so naming the parent's stdin would make the worker
    unpickle the app's standard input."""
    import ctypes
    import _winapi

    compare = getattr(ctypes.WinDLL("kernelbase"), "CompareObjectHandles", None)  # Windows 10 and later
    if compare is None:
        return False
    for which in (_winapi.STD_INPUT_HANDLE, _winapi.STD_OUTPUT_HANDLE, _winapi.STD_ERROR_HANDLE):
        standard = _winapi.GetStdHandle(which)
        if standard and compare(ctypes.c_void_p(handle), ctypes.c_void_p(standard)):
            return True
    return False
