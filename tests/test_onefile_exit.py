"""A onefile app that used spawn or forkserver exits cleanly: no traceback, no helper left running, 20 runs in a row.

A onefile bundle deletes its unpacked files as soon as the app's process exits; a resource tracker or forkserver
still starting or cleaning up then fails (stock PyInstaller: see test_stock_baseline.py).
"""

import sys

import pytest

pytestmark = [pytest.mark.bundle, pytest.mark.skipif(sys.platform == "win32", reason="no helper processes on Windows")]

RUNS = 20


@pytest.fixture(scope="module")
def quick_exit(builder):
    return builder.build("quick_exit", onefile=True)


@pytest.mark.parametrize("args", [["spawn"], ["spawn", "lock-only"], ["forkserver"], ["forkserver", "lock-only"]],
                         ids=" ".join)
def test_clean_exit_every_time(quick_exit, run, args):
    for attempt in range(RUNS):
        result = run(quick_exit, *args, linger=0.5)
        assert result.returncode == 0, (attempt, result)
        assert result.stderr == "", (attempt, result)
        assert result.leftovers == [], (attempt, result)
