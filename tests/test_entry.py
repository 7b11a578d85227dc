"""Unit tests of _oxmp_runtime/entry.py: the entry scripts found by name, and where their code lies.

The real case (an app and its workers importing the entry script by name, every start method, onedir and onefile) is
tests/test_entry_import.py.
"""

import importlib
import os
import sys

import pytest

from _oxmp_runtime import entry
from tests.test_boot import bundled_entry_script
from tests.test_startup import rthook_names

SCRIPT = """
import sys
RUNS = getattr(sys, "_oxmp_test_runs", 0) + 1
sys._oxmp_test_runs = RUNS
MAIN_BLOCK_RAN = False

def square(x):
    return x * x

if __name__ == "__main__":
    MAIN_BLOCK_RAN = True
"""

NAME = "oxmp_test_entry_app"  # no module of that name anywhere


@pytest.fixture
def clean_imports(monkeypatch):
    """sys.meta_path, sys.path and the test's modules restored after the test."""
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, NAME, raising=False)
    monkeypatch.setattr(sys, "_oxmp_test_runs", 0, raising=False)
    yield
    sys.modules.pop(NAME, None)
    importlib.invalidate_caches()


def test_the_records_code_files_name_the_scripts():
    meipass = os.path.join(os.sep, "bundle", "_internal")
    (app, tool) = entry.entry_scripts(meipass, ["_oxmp/entry/app.code", "_oxmp/entry/my.tool.code"])
    assert (app.name, app.main_path, app.code_path) == (
        "app",
        os.path.join(meipass, "app.py"),
        os.path.join(meipass, "_oxmp", "entry", "app.code"),
    )
    assert (tool.name, tool.main_path) == ("my.tool", os.path.join(meipass, "my.tool.py"))


def test_each_analysis_of_a_spec_writes_its_own_entry_code(tmp_path, monkeypatch):
    # A spec with two Analyses whose scripts have the same name (one/app.py, two/app.py): the build writes each one's
    # code in a folder of its Analysis, and each bundle gets its own, as _oxmp/entry/app.code.
    from PyInstaller.config import CONF

    from oxmp_hooks import baked, build
    from tests.test_deferred_hooks import FakeAnalysis, FakeHookAPI

    workpath = tmp_path / "build"
    monkeypatch.setitem(CONF, "workpath", str(workpath))
    datas = {}
    for number, folder in enumerate(["one", "two"]):
        script = tmp_path / folder / "app.py"
        script.parent.mkdir()
        script.write_text("WHICH = %r\n" % folder)
        analysis = FakeAnalysis(str(tmp_path), {})
        analysis.inputs = [str(script)]
        analysis.tocfilename = str(workpath / ("Analysis-%02d.toc" % number))
        datas[folder] = build.write_datas(FakeHookAPI("multiprocessing", analysis), str(workpath))
    for folder, entries in datas.items():
        (code_file,) = [path for path, destination in entries if destination == baked.ENTRY_CODE_DIR]
        assert os.path.basename(code_file) == "app.code"
        namespace = {}
        exec(entry.read_code(code_file), namespace)
        assert namespace["WHICH"] == folder


def install_finder(meipass):
    """The runtime hook's entry-script finder, last on sys.meta_path, as the hook puts it at every start."""
    sys.meta_path.append(rthook_names()["entry_script_finder"](str(meipass)))


def test_the_entry_script_imports_by_name_without_its_main_block(tmp_path, clean_imports):
    script = bundled_entry_script(tmp_path, SCRIPT, name=NAME)
    install_finder(tmp_path)
    module = importlib.import_module(NAME)
    assert module.__name__ == NAME and module.__file__ == script.main_path
    assert module.square(7) == 49 and module.RUNS == 1 and not module.MAIN_BLOCK_RAN
    assert importlib.import_module(NAME) is module and sys._oxmp_test_runs == 1  # imported once
    assert isinstance(module.__loader__, entry.EntryScriptLoader) and module.__spec__.origin == script.main_path


def test_a_module_of_that_name_found_elsewhere_wins(tmp_path, clean_imports):
    bundled_entry_script(tmp_path, SCRIPT, name=NAME)
    own = tmp_path / "own"
    own.mkdir()
    (own / (NAME + ".py")).write_text("OWN = True\n")
    sys.path.insert(0, str(own))
    install_finder(tmp_path)
    module = importlib.import_module(NAME)
    assert module.OWN and not hasattr(module, "square")


def test_the_finder_loads_nothing_for_other_names(tmp_path, clean_imports, monkeypatch):
    bundled_entry_script(tmp_path, SCRIPT, name=NAME)
    monkeypatch.delitem(sys.modules, "_oxmp_runtime.entry")
    finder = rthook_names()["entry_script_finder"](str(tmp_path))
    assert finder.find_spec("numpy") is None and finder.find_spec(NAME, path=[str(tmp_path)]) is None
    assert "_oxmp_runtime.entry" not in sys.modules  # nothing of oxmp's loaded for a name that is no entry script
    assert finder.find_spec(NAME).name == NAME
    # Not a top-level module name: never a path out of the bundle's folder.
    assert entry.find_spec(str(tmp_path), "../" + NAME) is None


def test_run_path_is_runpys_for_the_code_elsewhere(tmp_path, clean_imports):
    import runpy

    text = "import sys\nFILE, ARGV0, NAME = __file__, sys.argv[0], __name__\nMAIN = sys.modules[__name__]\n"
    script = bundled_entry_script(tmp_path, text, name=NAME)
    plain_file = tmp_path / "plain.py"
    plain_file.write_text(text)
    frozen = entry.run_path(script.main_path, entry.read_code(script.code_path), "__mp_main__")
    plain = runpy.run_path(str(plain_file), run_name="__mp_main__")
    assert (frozen["FILE"], frozen["ARGV0"], frozen["NAME"]) == (script.main_path, script.main_path, "__mp_main__")
    assert (plain["FILE"], plain["ARGV0"], plain["NAME"]) == (str(plain_file), str(plain_file), "__mp_main__")
    assert sorted(frozen) == sorted(plain)
    assert frozen["MAIN"].__name__ == "__mp_main__"  # the temporary module, as runpy's
    assert "__mp_main__" not in sys.modules or sys.modules["__mp_main__"] is not frozen["MAIN"]
