"""A descriptor is trusted for what it is, not for its number (descriptors.py), tried with real processes and pipes.

Each check runs in a child Python started here, so that its standard streams and its parent are what the test makes
them: the test process is the parent that holds, or does not hold, the write end of the pipe the child is handed.
The real-bundle counterparts are in tests/test_hardening.py.
"""

import os
import socket
import subprocess
import sys

import pytest

from _oxmp_runtime import commands, descriptors

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file descriptors are POSIX")
LINUX_PROC = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux's /proc")
RUNTIME = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "runtime_hooks")

# What the child prints: descriptors.problem() for a descriptor, after `setup` (Python statements) has run.
CHECK = """
import os, sys
from _oxmp_runtime import commands, descriptors
{setup}
print(repr(descriptors.{call}))
"""


def in_child(call, setup="", pass_fds=(), stdin=None, argv_prefix=()):
    env = dict(os.environ, PYTHONPATH=RUNTIME)
    code = CHECK.format(setup=setup, call=call)
    result = subprocess.run(
        list(argv_prefix) + [sys.executable, "-c", code],
        env=env,
        pass_fds=pass_fds,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip())  # a repr of None, True, False or a str, from the child this test wrote


def pipe_with_writer_held(data=b""):
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    return read_end, write_end


@pytest.mark.parametrize("kind", [commands.PIPE_READ, commands.PIPE_WRITE])
def test_standard_input_under_another_number_is_refused(kind):
    # `app --multiprocessing-fork pipe_handle=5 5<&0`: the same open pipe as stdin, under the number 5.
    read_end, write_end = os.pipe()
    try:
        found = in_child("problem('pipe_handle', os.dup(0), %r)" % kind, stdin=read_end)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert found and "is this process's standard input under another number" in found


def test_standard_output_under_another_number_is_refused():
    found = in_child("problem('tracker_fd', os.dup(1), commands.PIPE_WRITE)")  # stdout is subprocess's pipe here
    assert found and "standard output under another number" in found


def test_a_socket_on_stdin_under_another_number_is_refused(tmp_path):
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tmp_path / "listener-a1b2c3d4"))  # named as multiprocessing names the forkserver's
    listener.listen()
    try:
        found = in_child("problem('argument 1', os.dup(0), commands.LISTENER)", stdin=listener.fileno())
    finally:
        listener.close()
    assert found and "standard input under another number" in found


def test_two_arguments_naming_one_pipe_are_refused():
    # GNU make hands both ends of its jobserver pipe to `+` recipes; a genuine parent gives each its own pipe.
    read_end, write_end = os.pipe()
    other_read, other_write = os.pipe()
    try:
        same = descriptors.first_problem(
            [("pipe_handle", read_end, commands.PIPE_READ), ("tracker_fd", write_end, commands.PIPE_WRITE)]
        )
        assert same is not None and "is the same pipe as pipe_handle=%d" % read_end in same
        # The control: two pipes of their own (in a child, whose starter is this test's Python).
        call = "first_problem([('pipe_handle', %d, commands.PIPE_READ), ('tracker_fd', %d, commands.PIPE_WRITE)])"
        assert in_child(call % (read_end, other_write), pass_fds=(read_end, other_write)) is None
    finally:
        for fd in (read_end, write_end, other_read, other_write):
            os.close(fd)


def python_is_shared():
    # The starter check knows a process of the app by the libpython it has loaded, as PyInstaller's bootloader loads
    # it; the Python running these tests stands in for the app only where it loads one too.
    with open("/proc/self/maps") as maps:
        return "libpython" in maps.read()


SHARED_PYTHON = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd") or not python_is_shared(),
    reason="needs Linux's /proc and a Python with a shared libpython",
)


@SHARED_PYTHON
def test_a_pipe_made_by_the_same_program_is_accepted():
    # The control: this test's Python made the pipe and starts the same Python, which checks it.
    read_end, write_end = pipe_with_writer_held()
    try:
        assert (
            in_child(
                "first_problem([('pipe_handle', %d, commands.PIPE_READ)])" % read_end,
                pass_fds=(read_end,),
                stdin=subprocess.DEVNULL,
            )
            is None
        )
        os.close(write_end)  # as billiard and loky close theirs once the task is written
        write_end = None
        assert (
            in_child(
                "first_problem([('pipe_handle', %d, commands.PIPE_READ)])" % read_end,
                pass_fds=(read_end,),
                stdin=subprocess.DEVNULL,
            )
            is None
        )
    finally:
        os.close(read_end)
        if write_end is not None:
            os.close(write_end)


@SHARED_PYTHON
def test_a_pipe_handed_over_by_another_program_is_refused():
    # A shell of the same user between this test (which made the pipe and holds its write end) and the checking
    # Python: the process that started the checker is the shell, not a process of the app.
    read_end, write_end = pipe_with_writer_held(b"orders")
    shell = ("sh", "-c", '"$@"; exit $?', "sh")
    try:
        found = in_child(
            "first_problem([('pipe_handle', %d, commands.PIPE_READ)])" % read_end,
            pass_fds=(read_end,),
            argv_prefix=shell,
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    assert found and "pipe_handle=%d was not made by this app: the process that started this one" % read_end in found


@SHARED_PYTHON
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root, to start another user")
def test_a_starter_of_another_user_is_refused():
    # What an orphan finds when init or a subreaper of another user adopted it: its /proc entries are not readable,
    # and its real user id is not this process's (a genuine parent's is: a child inherits it).
    found = in_child("starter_problem()", argv_prefix=("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"))
    assert found and "is not this app's" in found


def test_a_named_fifo_is_refused(tmp_path):
    fifo = str(tmp_path / "ctl.fifo")
    os.mkfifo(fifo)
    for flags in (os.O_RDWR, os.O_RDONLY | os.O_NONBLOCK):
        fd = os.open(fifo, flags)
        try:
            found = descriptors.problem("pipe_handle", fd, commands.PIPE_READ)
        finally:
            os.close(fd)
        if sys.platform.startswith(descriptors.ONE_WAY_PIPES):
            assert found == "pipe_handle=%d is a named FIFO, not a pipe" % fd


@LINUX_PROC
def test_a_pipe_opened_for_reading_and_writing_is_refused():
    # The same anonymous pipe, opened again read-write through /proc: not as os.pipe() opens either end.
    read_end, write_end = os.pipe()
    both = os.open("/proc/self/fd/%d" % read_end, os.O_RDWR)
    try:
        assert descriptors.problem("pipe_handle", read_end, commands.PIPE_READ) is None
        assert descriptors.problem("tracker_fd", write_end, commands.PIPE_WRITE) is None
        for kind in (commands.PIPE_READ, commands.PIPE_WRITE):
            found = descriptors.problem("fd", both, kind)
            assert found == "fd=%d is not the %s, as os.pipe() opens it" % (both, kind)
    finally:
        for fd in (read_end, write_end, both):
            os.close(fd)


# --- starter_problem() on a /proc of the test's making: what each process runs, and who started whom ---------------


@pytest.fixture
def proc(tmp_path):
    """A /proc with `self` running bin/app, and add(pid, program, ppid, python) for more processes."""
    root = tmp_path / "proc"
    programs = tmp_path / "bin"
    programs.mkdir()
    for program in ("app", "sh"):
        (programs / program).write_text(program)

    def add(pid, program, ppid=1, python=False):
        folder = root / str(pid)
        folder.mkdir(parents=True)
        (folder / "exe").symlink_to(programs / program)
        (folder / "stat").write_text("%s (%s) S %d 1 1 0 -1\n" % (pid, program, ppid))
        library = "/b/_MEIxyz/libpython3.11.so.1.0" if python else "/b/_MEIxyz/libz.so.1"
        (folder / "maps").write_text("7f0-7f1 r-xp 00000000 08:01 42 %s\n7f2-7f3 rw-p 0 00:00 0 \n" % library)
        (folder / "status").write_text("Name:\t%s\nUid:\t1000\t1000\t1000\t1000\n" % program)

    add("self", "app", python=True)
    add.root, add.programs = str(root), programs
    return add


def test_the_apps_own_python_process_is_the_starter(proc):
    proc(100, "app", python=True)
    assert descriptors.starter_problem(proc.root, parent=100) is None


def test_a_onefile_launcher_is_looked_through(proc):
    # The first process of a onefile bundle runs the same executable without Python: its own parent counts.
    proc(100, "app", ppid=50)
    proc(50, "sh")
    assert "(pid 50) is not this app's" in descriptors.starter_problem(proc.root, parent=100)
    proc(60, "app", ppid=100)
    assert "(pid 100) is not this app's" not in (descriptors.starter_problem(proc.root, parent=60) or "")
    proc(200, "app", python=True)
    proc(210, "app", ppid=200)
    assert descriptors.starter_problem(proc.root, parent=210) is None


def test_another_program_or_a_gone_parent_is_refused(proc):
    proc(100, "sh")
    assert (
        descriptors.starter_problem(proc.root, parent=100) == "the process that started this one (pid 100) is "
        "not this app's"
    )
    assert "(pid 4242)" in descriptors.starter_problem(proc.root, parent=4242)  # gone: a reaper has it now


def test_an_app_replaced_while_it_ran_is_accepted(proc):
    # The parent runs the app's old file, deleted by an update: /proc's link reads "PATH (deleted)". Cannot tell.
    proc(100, "app", python=True)
    (proc.programs / "old").write_text("old")
    link = os.path.join(proc.root, "100", "exe")
    os.remove(link)
    os.symlink(str(proc.programs / "app") + " (deleted)", link)
    with open(link, "w") as target:  # what the link's target stands for: another file than the app's
        target.write("old app")
    assert descriptors.starter_problem(proc.root, parent=100) is None


def test_without_proc_or_outside_the_namespace_nothing_is_refused(proc, tmp_path):
    assert descriptors.starter_problem(str(tmp_path / "none")) is None
    assert descriptors.starter_problem(proc.root, parent=0) is None
