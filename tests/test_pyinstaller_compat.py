"""What PyInstaller's own multiprocessing tests check, on oxmp bundles: apps written for stock PyInstaller keep it."""

import sys

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
