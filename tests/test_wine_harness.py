"""The Windows lane's harness decisions that need no Wine (tests/wine.py)."""

import pytest

from tests import contain, wine

PYTHON_SAYS = (
    'Traceback (most recent call last):\n  File "multiprocessing\\\\popen_spawn_win32.py", line 76, in '
    "__init__\nOSError: [WinError 1359] Internal error\n"
)
BOOTLOADER_SAYS = "[PYI-8:ERROR] Failed to create child process!\nCreateProcessW: Internal error.\n"


def result(returncode=1, stderr="", timed_out=False, bombed=False, stdout="", peak_procs=1):
    return contain.Result(["app.exe"], returncode, stdout, stderr, 1.0, timed_out, bombed, peak_procs=peak_procs)


@pytest.mark.parametrize("stderr", [PYTHON_SAYS, BOOTLOADER_SAYS])
def test_a_process_wine_could_not_start_is_a_start_failure(stderr):
    assert wine.wine_start_failure(result(stderr=stderr))


def test_a_program_wine_could_not_start_is_a_start_failure():
    assert wine.wine_start_failure(result(peak_procs=0))  # exit status 1, nothing printed, never seen running


@pytest.mark.parametrize(
    "run",
    [
        result(returncode=0, stderr=PYTHON_SAYS),  # the program handled it and succeeded
        result(stderr="OSError: [WinError 5] Access is denied\n"),
        result(returncode=2, stderr="oxmp: refused: ...\n"),
        result(stderr="[PYI-8:ERROR] Failed to create child process!\nCreateProcessW: Access is denied.\n"),
        result(stderr=PYTHON_SAYS, timed_out=True),  # a hang or a relaunch loop is never run again
        result(stderr=PYTHON_SAYS, bombed=True),
        result(peak_procs=1),  # a windowed program that failed silently: it was seen running
        result(peak_procs=0, stdout="started\n"),
        result(returncode=2, peak_procs=0),
    ],
    ids=[
        "succeeded",
        "other-error",
        "refusal",
        "other-bootloader-error",
        "timed-out",
        "bombed",
        "silent-but-seen",
        "printed",
        "other-status",
    ],
)
def test_other_failures_are_not(run):
    assert not wine.wine_start_failure(run)
