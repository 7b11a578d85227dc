"""A onefile app that used spawn or forkserver exits cleanly: no traceback, no helper left running, 20 runs in a row.

A onefile bundle deletes its unpacked files as soon as the app's process exits; a resource tracker or forkserver
still starting or cleaning up then fails (stock PyInstaller: see test_stock_baseline.py).
"""

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = [pytest.mark.bundle, pytest.mark.skipif(sys.platform == "win32", reason="no helper processes on Windows")]

RUNS = 20
# Runs side by side, each contained on its own: the same 20 exits in less time, and a busier machine, whose delays
# widen the window in which a helper outlives the app.
AT_ONCE = 4


@pytest.fixture(scope="module")
def quick_exit(builder):
    return builder.build("quick_exit", onefile=True)


@pytest.mark.parametrize(
    "args", [["spawn"], ["spawn", "lock-only"], ["forkserver"], ["forkserver", "lock-only"]], ids=" ".join
)
def test_clean_exit_every_time(quick_exit, run, args):
    with ThreadPoolExecutor(AT_ONCE) as pool:
        results = list(pool.map(lambda attempt: run(quick_exit, *args, linger=0.5), range(RUNS)))
    for attempt, result in enumerate(results):
        assert result.returncode == 0, (attempt, result)
        assert result.stderr == "", (attempt, result)
        assert result.leftovers == [], (attempt, result)
