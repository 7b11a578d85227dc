"""The doctor's gate (``_oxmp_runtime.doctor.gate_opens``), directly: only a regular file of this user's, that no one
else may write to, with the token in it, opens it, and nothing at the gate's path makes it wait.

Each case has its control: the same folder with a genuine gate opens. A gate that blocked would stop the test at the
alarm (``no_waiting``) instead of hanging it. The same on real bundles: tests/test_doctor.py.
"""

import os
import signal
import sys

import pytest

from _oxmp_runtime import doctor

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, owners and modes are POSIX's")

TOKEN = "0123456789abcdef" * 2


class Blocked(Exception):
    pass


@pytest.fixture
def no_waiting():
    """Run the test under a 10 s alarm: a blocked open() or read() raises Blocked instead of waiting for ever."""

    def alarm(signum, frame):
        raise Blocked("the gate blocked")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def genuine_gate(folder):
    # As the host doctor writes it: a new file, mode 0600.
    path = os.path.join(folder, doctor.DOCTOR_GATE)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as gate:
        gate.write(TOKEN)
    return path


def test_genuine_gate_opens(tmp_path, no_waiting):
    path = genuine_gate(str(tmp_path))
    assert doctor.gate_opens(path, TOKEN)
    assert not doctor.gate_opens(path, "f" * 32)


def test_fifo_neither_blocks_nor_opens(tmp_path, no_waiting):
    path = os.path.join(str(tmp_path), doctor.DOCTOR_GATE)
    os.mkfifo(path, 0o600)
    assert not doctor.gate_opens(path, TOKEN)
    os.unlink(path)
    assert doctor.gate_opens(genuine_gate(str(tmp_path)), TOKEN)  # the control


def test_fifo_with_a_writer_that_sends_the_token_does_not_open(tmp_path, no_waiting):
    # A FIFO whose other end is held open, the token waiting in it: still not a regular file.
    path = os.path.join(str(tmp_path), doctor.DOCTOR_GATE)
    os.mkfifo(path, 0o600)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(path, os.O_WRONLY)
    try:
        os.write(writer, TOKEN.encode())
        assert not doctor.gate_opens(path, TOKEN)
    finally:
        os.close(writer)
        os.close(reader)


def test_gate_through_proc_self_cwd(tmp_path, monkeypatch, no_waiting):
    if not os.path.isdir("/proc/self/cwd"):
        pytest.skip("no /proc")
    monkeypatch.chdir(str(tmp_path))
    os.mkfifo(doctor.DOCTOR_GATE, 0o600)
    monkeypatch.setenv(doctor.DOCTOR_ENV, "%s:/proc/self/cwd" % TOKEN)
    assert not doctor.requested()
    os.unlink(doctor.DOCTOR_GATE)
    genuine_gate(str(tmp_path))
    assert doctor.requested()  # the control: a genuine gate there opens


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_gate_that_others_may_write_does_not_open(tmp_path, mode):
    path = genuine_gate(str(tmp_path))
    os.chmod(path, mode)
    assert not doctor.gate_opens(path, TOKEN)
    os.chmod(path, 0o644)  # readable by others is fine: the token is for one run only
    assert doctor.gate_opens(path, TOKEN)


def test_link_and_second_name_do_not_open(tmp_path):
    folder = str(tmp_path)
    target = os.path.join(folder, "elsewhere")
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600), "w") as other:
        other.write(TOKEN)
    gate = os.path.join(folder, doctor.DOCTOR_GATE)
    os.symlink(target, gate)
    assert not doctor.gate_opens(gate, TOKEN)
    os.unlink(gate)
    os.link(target, gate)
    assert not doctor.gate_opens(gate, TOKEN)
    os.unlink(target)
    assert doctor.gate_opens(gate, TOKEN)  # the control: the same file, with one name left


def test_folder_is_not_a_gate(tmp_path):
    os.mkdir(os.path.join(str(tmp_path), doctor.DOCTOR_GATE), 0o700)
    assert not doctor.gate_opens(os.path.join(str(tmp_path), doctor.DOCTOR_GATE), TOKEN)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a file away needs root")
def test_gate_of_another_user_does_not_open(tmp_path):
    path = genuine_gate(str(tmp_path))
    os.chown(path, 65534, 65534)
    assert not doctor.gate_opens(path, TOKEN)
    os.chown(path, os.geteuid(), os.getegid())
    assert doctor.gate_opens(path, TOKEN)


def test_device_does_not_open(no_waiting):
    assert not doctor.gate_opens(os.devnull, TOKEN)
