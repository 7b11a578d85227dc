"""The same apps built with stock PyInstaller fail in exactly the ways oxmp's tests check for.

This guards the tests themselves: each check below is one that an oxmp test asserts the opposite of, so a test that
could not fail would show up here. Every run is contained; the relaunch loops end at the process cap or time limit.
"""

import errno
import os
import sys

import pytest

from tests import bundles

pytestmark = [pytest.mark.bundle, pytest.mark.skipif(sys.platform == "win32", reason="POSIX start methods")]

CAP_REACHED = os.strerror(errno.EAGAIN)  # what fork() fails with at the process cap


def test_spawn_without_freeze_support_relaunches_until_stopped(builder, run):
    bundle = builder.build("no_freeze_support", way=bundles.STOCK)
    result = run(bundle, timeout=10, max_procs=16)
    # It stops only at the cap: the watchdog kills it, or fork() fails (EAGAIN) once the process limit is reached.
    # The watchdog samples, so it may see fewer than the cap; and it sees nothing where there is no /proc (macOS).
    assert result.bombed or result.timed_out or result.peak_procs >= 16 or CAP_REACHED in result.stderr, result
    # The main block ran in workers, which started workers of their own. Not how many times: on a busy machine the
    # cap is reached while most of the processes have not got that far yet.
    assert result.stdout.count("MAIN-BLOCK") >= 3, result


def test_argparse_app_rejects_the_worker_arguments(builder, run):
    bundle = builder.build("mp_matrix", way=bundles.STOCK)
    result = run(bundle, "pool_map", "--method", "spawn", timeout=10, max_procs=16)
    assert result.returncode != 0
    assert "unrecognized arguments: --multiprocessing-fork" in result.stderr


def test_helper_command_text_is_executed(builder, run, bundle_root):
    cwd = bundles.scratch_dir(bundle_root)
    bundle = builder.build("stock_style", way=bundles.STOCK)
    code = "from multiprocessing.resource_tracker import main;open('PWNED', 'w')"
    run(bundle, "-B", "-S", "-I", "-c", code, cwd=cwd, timeout=10)
    assert os.path.exists(os.path.join(cwd, "PWNED"))


def test_onefile_helpers_fail_at_exit(builder, run):
    bundle = builder.build("quick_exit", way=bundles.STOCK, onefile=True)
    failures = sum("Traceback" in run(bundle, "spawn", "lock-only", linger=0.5).stderr for _ in range(6))
    assert failures >= 1
