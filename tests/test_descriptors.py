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
    result = subprocess.run(list(argv_prefix) + [sys.executable, "-c", code], env=env, pass_fds=pass_fds,
                            stdin=stdin, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip())  # a repr of None, True, False or a str, from the child this test wrote


def pipe_with_writer_held(data=b""):
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    return read_end, write_end


@pytest.mark.parametrize("kind", [commands.PIPE_READ, commands.PIPE_FROM_PARENT])
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


def test_a_pipe_of_its_own_is_accepted():
    # The control: a pipe that is not a standard stream, its write end held by the parent (this test).
    read_end, write_end = pipe_with_writer_held()
    try:
        assert in_child("problem('pipe_handle', %d, commands.PIPE_FROM_PARENT)" % read_end, pass_fds=(read_end,),
                        stdin=subprocess.DEVNULL) is None
    finally:
        os.close(read_end)
        os.close(write_end)


def test_two_arguments_naming_one_pipe_are_refused():
    # GNU make hands both ends of its jobserver pipe to `+` recipes; a genuine parent gives each its own pipe.
    read_end, write_end = os.pipe()
    other_read, other_write = os.pipe()
    try:
        same = descriptors.first_problem([("pipe_handle", read_end, commands.PIPE_READ),
                                          ("tracker_fd", write_end, commands.PIPE_WRITE)])
        assert same is not None and "is the same pipe as pipe_handle=%d" % read_end in same
        assert descriptors.first_problem([("pipe_handle", read_end, commands.PIPE_READ),
                                          ("tracker_fd", other_write, commands.PIPE_WRITE)]) is None
    finally:
        for fd in (read_end, write_end, other_read, other_write):
            os.close(fd)


@LINUX_PROC
def test_the_parent_holds_the_write_end():
    read_end, write_end = pipe_with_writer_held(b"orders")
    try:
        assert in_child("parent_holds_write_end(%d)" % read_end, pass_fds=(read_end,)) is True
    finally:
        os.close(read_end)
        os.close(write_end)


@LINUX_PROC
def test_a_pipe_written_by_someone_else_is_refused():
    # The write end is held by a sibling (here a sleeping process this test started), not by the parent: what a
    # shell hands over with `5< <(cat payload)`, or a wrapper that got the pipe from elsewhere.
    read_end, write_end = os.pipe()
    sibling = subprocess.Popen(["sleep", "60"], pass_fds=(write_end,))
    os.close(write_end)
    try:
        assert in_child("parent_holds_write_end(%d)" % read_end, pass_fds=(read_end,)) is False
        found = in_child("problem('pipe_handle', %d, commands.PIPE_FROM_PARENT)" % read_end, pass_fds=(read_end,))
        assert found and "does not write to" in found
        # loky's worker pipe: its parent closes its end once the task is written, so no one need hold it.
        assert in_child("problem('--pipe', %d, commands.PIPE_READ)" % read_end, pass_fds=(read_end,)) is None
    finally:
        sibling.kill()
        sibling.wait()
        os.close(read_end)


@LINUX_PROC
def test_the_first_process_of_a_onefile_bundle_is_looked_through():
    # A onefile bundle started without its parent's unpacked folder runs as two processes of one executable: the
    # pipe's writer is the grandparent. Here: this test (writer) -> Python -> the same Python (checks).
    read_end, write_end = pipe_with_writer_held()
    middle = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], pass_fds=(%d,)))" % read_end
    try:
        assert in_child("parent_holds_write_end(%d)" % read_end, pass_fds=(read_end,),
                        argv_prefix=(sys.executable, "-c", middle)) is True
        # Through another program (a shell that keeps the pipe but does not write to it), the starter is that one.
        shell = ("sh", "-c", '"$@"; exit $?', "sh")
        assert in_child("parent_holds_write_end(%d)" % read_end, pass_fds=(read_end,), argv_prefix=shell) is False
    finally:
        os.close(read_end)
        os.close(write_end)


def test_without_proc_nothing_is_refused(tmp_path):
    read_end, write_end = os.pipe()
    os.close(write_end)
    try:
        assert descriptors.parent_holds_write_end(read_end, proc=str(tmp_path)) is None
        if not os.path.isdir("/proc/self/fd"):
            assert descriptors.problem("pipe_handle", read_end, commands.PIPE_FROM_PARENT) is None
    finally:
        os.close(read_end)
