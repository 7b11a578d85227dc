"""Who failed: a worker whose entry script fails at module level, and a module of `run_modules` that raises, are
reported as python reports them, not as a failure of oxmp's runtime hook.

oxmp runs workers and listed modules from inside its runtime hook; an exception let out of it would reach PyInstaller's
bootloader, which ends python's traceback with `Failed to execute script 'pyi_rth_oxmp_multiprocessing' due to
unhandled exception!`. Each case runs under plain python too: the same exit status, the same last line, a traceback
that starts where the library's or module's code does and names no file of oxmp's. (The `run_modules` cases are in
tests/test_run_modules.py, with that file's bundle.)
"""

import sys

import pytest

from _oxmp_runtime import boot
from tests import bundles
from tests.test_runtime_matrix import run_plain_script

BOOTLOADER_LINE = "Failed to execute script"


def raised_through(module_names):
    """A ValueError raised through one frame of each module named, the last raising, as dispatch() catches it."""
    step = None
    for name in reversed(module_names):
        namespace = {"__name__": name, "next_step": step}
        exec("def step():\n    if next_step is None:\n        raise ValueError('x')\n    next_step()\n", namespace)
        step = namespace["step"]
    try:
        step()
    except ValueError as error:
        error.__traceback__ = error.__traceback__.tb_next  # from the first module's frame: this one's is not part
        return error


def frame_modules(traceback):
    found = []
    while traceback is not None:
        found.append(traceback.tb_frame.f_globals["__name__"])
        traceback = traceback.tb_next
    return found


def test_the_traceback_starts_at_the_first_frame_not_oxmps():
    error = raised_through(
        ["_oxmp_runtime.boot", "_oxmp_runtime.boot", "multiprocessing.spawn", "_oxmp_runtime.pyinstaller", "app"]
    )
    assert frame_modules(boot._without_oxmp_frames(error.__traceback__)) == [
        "multiprocessing.spawn",
        "_oxmp_runtime.pyinstaller",
        "app",
    ]
    # A failure of oxmp's own keeps every frame: nothing else to show.
    error = raised_through(["_oxmp_runtime.boot", "_oxmp_runtime.commands"])
    assert boot._without_oxmp_frames(error.__traceback__) is error.__traceback__


def test_an_exception_exits_with_status_1_after_pythons_report(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "excepthook", lambda *args: reported.append(args))
    error = raised_through(["_oxmp_runtime.boot", "runpy", "tool"])
    with pytest.raises(SystemExit) as exited:
        boot.exit_as_python_would(error)
    assert exited.value.code == 1
    ((kind, value, traceback),) = reported
    assert (kind, value) == (ValueError, error) and frame_modules(traceback)[0] == "runpy"


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def worker_fails(builder, request):
    return builder.build("worker_fails", onefile=request.param == "onefile")


def frames(stderr):
    return [line.strip() for line in stderr.splitlines() if line.startswith('  File "')]


def assert_reported_as_python_does(result, plain, script):
    """The process's own report on stderr: python's last line, no line of the bootloader's; a traceback that starts
    at the library's or module's first frame, as python's does, and ends at the line of ``script`` that raised."""
    assert result.stderr.splitlines()[-1:] == plain.stderr.splitlines()[-1:], (result, plain)
    assert BOOTLOADER_LINE not in result.stderr and "pyi_rth" not in result.stderr, result
    if "Traceback" in plain.stderr:
        assert result.stderr.count("Traceback (most recent call last):") == 1, result
        found = frames(result.stderr)
        assert "_oxmp_runtime" not in found[0], result
        assert found[-1].startswith('File "%s.py", line ' % script), result
        assert frames(plain.stderr)[-1].endswith("/" + found[-1][len('File "') :]), (result, plain)  # same line


@pytest.mark.bundle
@pytest.mark.parametrize("method", bundles.NEW_PROCESS_START_METHODS)
@pytest.mark.parametrize("failure", ["raise", "interrupt"])
def test_module_level_failure_in_a_worker(worker_fails, run, bundle_root, method, failure):
    result = run(worker_fails, method, failure)
    plain = run_plain_script(bundle_root, "worker_fails", method, failure)
    assert result.returncode == plain.returncode == 0, (result, plain)
    assert not result.timed_out and not result.bombed, result
    # The worker's exit status as its parent sees it: 1 for the exception, SIGINT's for the interrupt (spawn).
    assert bundles.only_result(result) == bundles.only_result(plain), (result, plain)
    assert "WORKER-RAN" not in result.stdout
    assert_reported_as_python_does(result, plain, "worker_fails")
