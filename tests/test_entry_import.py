"""`import <entry script's name>` in a bundle, as under python: in the app and in its workers, every start method,
onedir and onefile (tests/apps/import_self.py, compared with the same script under plain `python`).

Servers and task queues import the entry script by name (`uvicorn.run("app:api", workers=2)` imports `app` in each
worker). The entry script's module-level code runs as a module of that name, its main block does not; a module of
that name that the bundle collected wins; and nothing in the bundle is read as source (a `<name>.py` of compiled code
where the path finder looks failed with "source code string cannot contain null bytes").
"""

import os
import sys

import pytest

from tests import bundles
from tests.test_runtime_matrix import run_plain_script

pytestmark = pytest.mark.bundle

METHODS = bundles.START_METHODS
APP = "import_self"


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def app(builder, request):
    # Excluded: the script's static import of itself would make PyInstaller collect it as a module of the bundle.
    return builder.build(APP, onefile=request.param == "onefile", excludes=[APP])


def imported_lines(result):
    return sorted(line for line in result.stderr.splitlines() if line.startswith("IMPORTED"))


@pytest.mark.parametrize("method", METHODS)
def test_import_by_name_like_plain_python(app, run, bundle_root, method):
    cwd = bundles.scratch_dir(bundle_root)
    with open(os.path.join(cwd, APP + ".py"), "w") as decoy:  # the working directory is not where python looks
        decoy.write("print('DECOY')\n")
    result = run(app, "--method", method, cwd=cwd, timeout=120)
    assert result.returncode == 0, result
    assert not result.bombed and not result.timed_out
    assert result.stdout.count("MAIN-BLOCK") == 1, result  # neither import ran the main block
    assert "DECOY" not in result.stdout + result.stderr
    got = bundles.only_result(result)
    assert got["start_method"] == method
    expected = {"name": APP, "file": APP + ".py", "is_main": False, "main_block_ran": False, "square": 49}
    assert got["worker"] == expected, result
    assert got["app"] == expected, result
    assert got["again"] and got["exitcode"] == 0
    assert "LOADER EntryScriptLoader" in result.stdout

    plain = run_plain_script(bundle_root, APP, "--method", method)
    assert plain.returncode == 0, plain
    assert bundles.only_result(plain) == got
    # The module-level code ran under the same names as under python: __main__, the module's name, and __mp_main__
    # in spawn and forkserver workers.
    assert imported_lines(result) == imported_lines(plain)


def test_no_entry_script_code_where_a_finder_looks(app):
    if app.onefile:
        pytest.skip("the onedir layout shows the files")
    top = os.path.dirname(app.exe)
    for folder, _, files in os.walk(top):
        for name in files:
            base, suffix = os.path.splitext(name)
            assert not (base == APP and suffix in (".py", ".pyc")), os.path.join(folder, name)


@pytest.mark.parametrize("method", METHODS)
def test_the_bundles_own_module_of_that_name_wins(builder, run, method):
    # Built without the exclusion: PyInstaller collects the script as module `import_self` of the bundle (its static
    # import), and that module is the one imported, as a package named like the script would be under python.
    bundle = builder.build(APP)
    result = run(bundle, "--method", method, timeout=120)
    assert result.returncode == 0, result
    got = bundles.only_result(result)
    assert got["app"]["name"] == got["worker"]["name"] == APP and not got["app"]["main_block_ran"]
    assert "LOADER EntryScriptLoader" not in result.stdout and "LOADER None" not in result.stdout, result


@pytest.mark.skipif(sys.platform == "win32", reason="fork: stock PyInstaller's spawn workers need freeze_support()")
def test_stock_pyinstaller_cannot_import_the_entry_script(builder, run):
    # The same app built by stock PyInstaller: the module is not there, in the app or in its forked worker.
    bundle = builder.build(APP, way=bundles.STOCK, excludes=[APP])
    result = run(bundle, "--method", "fork", timeout=60, max_procs=16)
    got = bundles.only_result(result)
    assert got["app"]["error"].startswith("ModuleNotFoundError"), result
    assert got["worker"]["error"].startswith("ModuleNotFoundError"), result
