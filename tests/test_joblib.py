"""joblib's default (loky) backend in a bundle: its workers and resource tracker are dispatched, the app never runs
again in them, and the entry script's function runs in worker processes.

loky does not use multiprocessing's start methods: its workers are always fresh processes of the bundle.
"""

import joblib  # noqa: F401  (the [test] extra: the bundle is built from the environment that runs the tests)
import pytest

from tests import bundles

pytestmark = pytest.mark.bundle


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def joblib_app(builder, request):
    return builder.build("joblib_app", onefile=request.param == "onefile")


def test_parallel_with_the_loky_backend(joblib_app, run):
    result = run(joblib_app, timeout=120)
    assert result.returncode == 0, result
    assert not result.timed_out and not result.bombed, result
    # The main block ran once: no worker ran the app.
    assert result.stdout.count("MAIN-BLOCK") == 1, result
    assert bundles.only_result(result) == {"squares": [i * i for i in range(10)], "ran_in_main_process": False}
    assert "Traceback" not in result.stderr and "oxmp: refusing" not in result.stderr, result
