"""What PyInstaller's own multiprocessing tests check, on oxmp bundles: apps written for stock PyInstaller keep it."""

import pytest

from tests import bundles

pytestmark = pytest.mark.bundle

METHODS = bundles.START_METHODS


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def app(builder, request):
    return builder.build("main_module_code", onefile=request.param == "onefile")


@pytest.mark.parametrize("method", METHODS)
def test_main_module_code_in_process(app, run, method):
    # PyInstaller's test_multiprocessing_main_module_code_in_process: in the worker, __main__.__loader__.get_code()
    # returns the entry script's code (the names it uses include the worker's target and the app's own calls).
    result = run(app, method)
    assert result.returncode == 0, result
    got = bundles.only_result(result)
    assert got["exitcode"] == 0
    assert {"process_function", "freeze_support", "set_start_method"} <= set(got["names"]), got


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def no_main_block(builder, request):
    return builder.build("no_main_block", onefile=request.param == "onefile")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scenario", ["process", "pool"])
def test_script_without_main_block(no_main_block, run, scenario, method):
    # PyInstaller's test_multiprocess_spawn_process and test_multiprocess_spawn_pool (there with spawn only): the
    # script calls freeze_support() and then starts processes at module level. A worker runs its module-level code, to
    # find its targets, and stops at freeze_support(), as a stock worker does: under plain python, the worker would go
    # on and fail (set_start_method() again, a process started while bootstrapping).
    result = run(no_main_block, scenario, method)
    assert result.returncode == 0, result
    assert not result.bombed and not result.timed_out, result
    assert "Traceback" not in result.stderr, result
    assert result.stdout.count("In main") == 1, result
    if scenario == "process":
        assert "In subprocess" in result.stdout and "exitcode 0" in result.stdout, result
    else:
        assert "in pool" in result.stdout, result
    if method != "fork":  # the worker (or the forkserver) did run the script's module-level code
        assert result.stderr.count("MODULE-LEVEL") >= 2, result
