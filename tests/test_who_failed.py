"""Who failed: a worker whose entry script fails at module level, and a module of `run_modules` that raises, are
reported as python reports them, not as a failure of oxmp's runtime hook.

oxmp runs workers and listed modules from inside its runtime hook; an exception let out of it would reach PyInstaller's
bootloader, which ends python's traceback with `Failed to execute script 'pyi_rth_oxmp_multiprocessing' due to
unhandled exception!`. Each case runs under plain python too: the same exit status, the same last line, a traceback
that starts where the library's or module's code does and names no file of oxmp's. (The `run_modules` cases are in
tests/test_run_modules.py, with that file's bundle.)
"""

import pytest

from tests import bundles
from tests.test_runtime_matrix import run_plain_script

pytestmark = pytest.mark.bundle

BOOTLOADER_LINE = "Failed to execute script"


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
        assert frames(plain.stderr)[-1].endswith("/" + found[-1][len('File "'):]), (result, plain)  # same line


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
