"""Is a file descriptor (POSIX) or handle (Windows) named on a command line what a genuine parent hands over?

A worker or helper reads its orders from descriptors its parent passed: a pickle on the worker's pipe, REGISTER lines
on a resource tracker's pipe, connections on the forkserver's socket. Whoever merely runs the app (a shell, a service
that passes user data on stdin) can name a descriptor on the command line but cannot create these: the standard
streams are refused by ``commands`` already, and this module checks that every other one is a pipe end of the right
direction, or a listening Unix socket, before anything reads from it. On Windows a worker takes its pipe from the
parent process it names; the handle must be a pipe there, and the parent must be another process.
"""

import os
import stat

from _oxmp_runtime.commands import LISTENER, PIPE_READ, PIPE_WRITE


def problem(name, fd, kind):
    """Why descriptor ``fd`` (argument ``name``) is not a ``kind`` (a ``commands.DESCRIPTOR_KINDS``), or None."""
    try:
        mode = os.fstat(fd).st_mode
    except (OSError, OverflowError, ValueError):
        return "%s=%d is not an open file descriptor" % (name, fd)
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
    wanted = {PIPE_READ: (os.O_RDONLY, os.O_RDWR), PIPE_WRITE: (os.O_WRONLY, os.O_RDWR)}[kind]
    if access not in wanted:
        return "%s=%d is not the %s" % (name, fd, kind)
    return None


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
