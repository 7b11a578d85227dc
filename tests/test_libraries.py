"""multiprocessing's forks in bundles: multiprocess (pathos, datasets) and billiard (Celery).

The same app (tests/apps/lib_matrix.py, no freeze_support()) under every start method, onedir and onefile, compared
with the same script under plain `python`; and oxmp's settings applied to each library's default start method.
"""

import importlib.util
import sys

import pytest

from tests import bundles
from tests.test_runtime_matrix import module_level_runs, run_plain_script

pytestmark = pytest.mark.bundle

METHODS = bundles.START_METHODS


def library_params(*cases):
    """Cases of one library or another, skipped where that library is not installed (the test extra installs
    billiard on Python 3.10+ only: the release with the fix for spawn workers needs it)."""
    return [
        pytest.param(
            *case,
            id="-".join(case),
            marks=pytest.mark.skipif(importlib.util.find_spec(case[0]) is None, reason="%s is not installed" % case[0]),
        )
        for case in cases
    ]


CASES = library_params(
    ("multiprocess", "pool_map"),
    ("multiprocess", "lambda"),
    ("multiprocess", "process"),
    ("billiard", "pool_map"),
    ("billiard", "process"),
)


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def app(builder, request):
    return builder.build("lib_matrix", onefile=request.param == "onefile")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("library, scenario", CASES)
def test_like_plain_python(app, run, bundle_root, library, scenario, method):
    # Started from a shell of its own user, as from a terminal, so that /proc shows the bundle its ancestors.
    result = run(app, library, scenario, "--method", method, timeout=120, wrapper=bundles.SHELL_PARENT)
    assert result.returncode == 0, result
    assert not result.bombed and not result.timed_out
    assert result.stdout.count("MAIN-BLOCK") == 1, result  # no worker ran the main block
    assert "Traceback" not in result.stderr, result
    got = bundles.only_result(result)
    assert got["start_method"] == method

    plain = run_plain_script(bundle_root, "lib_matrix", library, scenario, "--method", method)
    assert plain.returncode == 0, plain
    assert bundles.only_result(plain) == got
    assert set(module_level_runs(result)) == set(module_level_runs(plain))


@pytest.mark.skipif(sys.platform == "win32", reason="Windows offers only spawn")
@pytest.mark.parametrize("library", library_params(("multiprocess",), ("billiard",)))
def test_settings_apply_to_the_library(builder, run, library):
    # start_method set in the spec, then overridden at run time: each library's default follows, as multiprocessing's.
    bundle = builder.build("lib_matrix", hooksconfig={"multiprocessing": {"start_method": "spawn"}})
    assert bundles.only_result(run(bundle, library, "pool_map"))["start_method"] == "spawn"
    overridden = run(bundle, library, "pool_map", env={"OXMP_START_METHOD": "forkserver"})
    assert bundles.only_result(overridden)["start_method"] == "forkserver"


@pytest.mark.parametrize("library", library_params(("multiprocess",), ("billiard",)))
def test_the_librarys_own_freeze_support_is_harmless(app, run, library):
    method = "spawn"
    result = run(app, library, "process", "--method", method, "--freeze-support", timeout=120)
    assert result.returncode == 0, result
    assert result.stdout.count("MAIN-BLOCK") == 1, result
    assert bundles.only_result(result)["doubled"] == 42
