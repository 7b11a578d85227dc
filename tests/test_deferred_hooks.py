"""PyInstaller's runtime hooks for inspect and pkgutil run at the module's first import (`defer_pyinstaller_hooks`).

Real bundles: the app that never imports inspect or pkgutil starts without them, with or without multiprocessing;
PyInstaller's own functional tests of what those hooks fix give plain python's answers, deferred and at start-up; an
app and its workers see the same with and without deferral. Unit tests: the installed PyInstaller's hooks are
versions oxmp has checked, no other hook folder competes for these modules, and the runtime runs the compiled code when
it should.
"""

import json
import os
import shutil
import sys

import pytest

from _oxmp_runtime import deferred as runtime
from oxmp_hooks import deferred
from tests import bundles, contain
from tests.test_hooks_contrib import pyinstaller40_hook_dirs, runtime_hook_modules

HOOK_DIRS = bundles.HOOK_DIRS  # oxmp's build hooks, and its runtime hooks

DEFER_OFF = {"multiprocessing": {"defer_pyinstaller_hooks": False}}
OXMP_RTHOOK = "pyi_rth_oxmp_deferred.py"  # one file for both modules
LOG_LINE = "oxmp: multiprocessing settings: "
METHODS = bundles.NEW_PROCESS_START_METHODS


# --- The digest list and the hook folders ---------------------------------------------------------------------------


def test_the_installed_pyinstallers_hooks_are_versions_oxmp_has_checked():
    # Fails when a new PyInstaller ships a different hook: read it, and if it still only imports and patches its
    # module, add its digest to oxmp_hooks/deferred.py CHECKED. Until then oxmp runs it at start-up, as before.
    import PyInstaller

    for module_name in deferred.MODULES:
        paths = deferred.pyinstaller_hook_files(module_name)
        assert paths, "PyInstaller %s has no runtime hook for %s any more" % (PyInstaller.__version__, module_name)
        for path in paths:
            known = deferred.CHECKED.get((module_name, os.path.basename(path)), {})
            assert deferred.digest(path) in known, "PyInstaller %s ships a %s that oxmp has not checked (sha256 %s)" % (
                PyInstaller.__version__,
                os.path.basename(path),
                deferred.digest(path),
            )


def test_when_to_run(tmp_path):
    checked = deferred.pyinstaller_hook_files("inspect")
    changed = tmp_path / os.path.basename(checked[0])
    changed.write_bytes(open(checked[0], "rb").read() + b"\nimport ctypes\n")
    on, off = {"defer_pyinstaller_hooks": True}, {"defer_pyinstaller_hooks": False}
    assert deferred.when_to_run(on, "inspect", checked) == runtime.AT_FIRST_IMPORT
    assert deferred.when_to_run(off, "inspect", checked) == runtime.AT_START
    assert deferred.when_to_run(on, "inspect", [str(changed)]) == runtime.AT_START
    assert deferred.when_to_run(on, "inspect", checked + [str(changed)]) == runtime.AT_START
    # The file of one module is not a checked version of the other's.
    assert deferred.when_to_run(on, "pkgutil", checked) == runtime.AT_START
    # Line endings do not matter (a checkout on Windows).
    crlf = tmp_path / "crlf" / os.path.basename(checked[0])
    crlf.parent.mkdir()
    crlf.write_bytes(open(checked[0], "rb").read().replace(b"\n", b"\r\n"))
    assert deferred.when_to_run(on, "inspect", [str(crlf)]) == runtime.AT_FIRST_IMPORT


def test_no_other_hook_folder_competes_for_inspect_or_pkgutil():
    # oxmp's hook-inspect.py and hook-pkgutil.py would replace another build hook for the same module, and another
    # folder's runtime hook for it could be read before oxmp's.
    import PyInstaller

    folders = [(name, folder) for name, dirs in pyinstaller40_hook_dirs().items() for folder in dirs]
    folders.append(("pyinstaller", os.path.join(os.path.dirname(PyInstaller.__file__), "hooks")))
    assert "oxmp" in {name for name, _ in folders}
    for name, folder in folders:
        for module_name in deferred.MODULES:
            has_build_hook = any(
                os.path.isfile(os.path.join(folder, sub, "hook-%s.py" % module_name)) for sub in ("", "stdhooks")
            )
            assert has_build_hook == (folder == HOOK_DIRS[0]), (name, folder, module_name)
            if name not in ("oxmp", "pyinstaller"):
                assert module_name not in runtime_hook_modules(folder), (name, folder)


# --- The build hooks, with a fake PyInstaller hook API --------------------------------------------------------------


class FakeHookAPI:
    """What oxmp's build hooks use of PyInstaller's hook API."""

    def __init__(self, module_name, analysis):
        self.__name__ = module_name
        self.analysis = analysis
        self.module_graph = analysis.graph
        self.imports, self.datas = [], []

    def add_imports(self, *names):
        self.imports += names

    def add_datas(self, datas):
        self.datas += datas


class FakeAnalysis:
    def __init__(self, workpath, hooksconfig):
        self.hooksconfig = hooksconfig
        self.inputs = [os.path.join(workpath, "app.py")]
        self.tocfilename = os.path.join(workpath, "Analysis-00.toc")
        self.graph = self  # the module graph: only its add_script() is used
        self.scripts = []

    def add_script(self, path):
        self.scripts.append(path)


@pytest.mark.parametrize("hooksconfig, when", [({}, runtime.AT_FIRST_IMPORT), (DEFER_OFF, runtime.AT_START)])
def test_build_hooks_write_the_code_and_the_record_once(tmp_path, monkeypatch, hooksconfig, when):
    import marshal

    from PyInstaller.config import CONF

    from oxmp_hooks import baked

    monkeypatch.setitem(CONF, "workpath", str(tmp_path))
    analysis = FakeAnalysis(str(tmp_path), hooksconfig)
    hook_apis = [FakeHookAPI(module_name, analysis) for module_name in deferred.MODULES]
    for hook_api in hook_apis:
        deferred.hook(hook_api)
    record_entries = [entry for hook_api in hook_apis for entry in hook_api.datas if entry[1] == "_oxmp"]
    assert len(set(record_entries)) == 1  # one record, written once for every hook that asks
    with open(record_entries[0][0], encoding="utf-8") as text:
        record = runtime_settings().Baked.decode(text.read())
    assert record.settings["defer_pyinstaller_hooks"] is (when == runtime.AT_FIRST_IMPORT)
    assert record.entry_code == ["_oxmp/entry/app.code"]
    for hook_api in hook_apis:
        assert hook_api.imports == ["_oxmp_runtime.deferred"]
        (code_entry,) = [entry for entry in hook_api.datas if entry[1] == runtime.CODE_DIR]
        # When to run them is in the file's name, which oxmp's runtime hook for the module looks for.
        assert os.path.basename(code_entry[0]) == "%s.%s.marshal" % (hook_api.__name__, when)
        with open(code_entry[0], "rb") as code_file:
            codes = marshal.loads(code_file.read())
        paths = deferred.pyinstaller_hook_files(hook_api.__name__)
        assert [code.co_filename for code in codes] == [os.path.basename(path) for path in paths]
        assert set(paths) <= set(analysis.scripts)  # their imports are collected, as a runtime hook's
    assert baked.validated_settings(hook_apis[0])["defer_pyinstaller_hooks"] is (when == runtime.AT_FIRST_IMPORT)


def runtime_settings():
    from _oxmp_runtime import settings

    return settings


# --- The runtime, outside a bundle ----------------------------------------------------------------------------------


@pytest.fixture
def fake_bundle(tmp_path, monkeypatch):
    """A folder as sys._MEIPASS, and a module `oxmp_fake_patched` that a fake PyInstaller hook patches."""
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "meipass"), raising=False)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "oxmp_fake_patched.py").write_text("patched = False\n")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    hook = tmp_path / "pyi_rth_fake.py"
    hook.write_text(
        "def _pyi_rthook():\n    import oxmp_fake_patched\n\n    oxmp_fake_patched.patched = True\n\n\n"
        "_pyi_rthook()\ndel _pyi_rthook\n"
    )
    meta_path = list(sys.meta_path)
    outdir = os.path.join(sys._MEIPASS, *runtime.CODE_DIR.split("/")[:-1])  # as the build's datas place it
    yield lambda when: deferred.write_code("oxmp_fake_patched", when, [str(hook)], outdir)
    sys.modules.pop("oxmp_fake_patched", None)
    sys.meta_path[:] = meta_path


def test_runtime_runs_the_hook_at_first_import(fake_bundle):
    fake_bundle(runtime.AT_FIRST_IMPORT)
    runtime.run("oxmp_fake_patched")
    assert "oxmp_fake_patched" not in sys.modules
    import oxmp_fake_patched

    assert oxmp_fake_patched.patched is True
    assert not [finder for finder in sys.meta_path if type(finder).__name__ == "_AfterImport"]


def test_runtime_runs_the_hook_at_once_when_so_built(fake_bundle):
    fake_bundle(runtime.AT_START)
    runtime.run("oxmp_fake_patched")
    assert sys.modules["oxmp_fake_patched"].patched is True


def test_runtime_runs_the_hook_at_once_if_the_module_is_imported(fake_bundle):
    fake_bundle(runtime.AT_FIRST_IMPORT)
    import oxmp_fake_patched

    runtime.run("oxmp_fake_patched")
    assert oxmp_fake_patched.patched is True


def test_runtime_says_when_the_code_is_missing(fake_bundle, capsys):
    runtime.run("oxmp_fake_patched")
    assert "PyInstaller's runtime hook for oxmp_fake_patched is missing" in capsys.readouterr().err


# --- Real bundles ---------------------------------------------------------------------------------------------------


def included_runtime_hooks(bundle):
    # The file names: PyInstaller 6.0 logs each hook's full path, later versions its name and then its folder.
    return [
        os.path.basename(line.split("'")[1]) for line in bundle.log.splitlines() if "Including run-time hook '" in line
    ]


def assert_deferred_build(bundle):
    hooks = included_runtime_hooks(bundle)
    assert OXMP_RTHOOK in hooks and "pyi_rth_inspect.py" not in hooks, hooks
    assert "pyi_rth_pkgutil.py" not in hooks, hooks


@pytest.mark.bundle
def test_an_app_without_multiprocessing_starts_without_inspect_or_pkgutil(builder, run):
    bundle = builder.build("deferred_probe")
    assert_deferred_build(bundle)
    assert "defer_pyinstaller_hooks=True" in bundle.log
    assert "pyi_rth_oxmp_multiprocessing.py" not in included_runtime_hooks(bundle)
    report = bundles.only_result(run(bundle))
    assert report["imported_at_start"] == []
    assert report["multiprocessing_bundled"] is False
    # Nothing of oxmp's before the app imports inspect or pkgutil, and then no module of oxmp's that would bring
    # multiprocessing in: only the deferral and its import hook.
    assert report["oxmp_modules_at_start"] == []
    assert report["oxmp_modules"] == ["_oxmp_runtime", "_oxmp_runtime.after_import", "_oxmp_runtime.deferred"]
    assert as_source_names(report["source_file"]) == os.path.join("json", "decoder.py")
    assert {"decoder", "encoder", "scanner"} <= set(report["json_modules"])


@pytest.mark.bundle
def test_deferral_off_runs_pyinstallers_hooks_at_start(builder, run):
    bundle = builder.build("deferred_probe", hooksconfig=DEFER_OFF)
    assert "defer_pyinstaller_hooks=False" in bundle.log
    report = bundles.only_result(run(bundle))
    # PyInstaller's hooks import both at start, and zipfile where its inspect hook does (not 6.0's).
    assert report["imported_at_start"][:2] == ["inspect", "pkgutil"]
    assert report["oxmp_modules_at_start"] == ["_oxmp_runtime", "_oxmp_runtime.deferred"]
    assert as_source_names(report["source_file"]) == os.path.join("json", "decoder.py")
    assert {"decoder", "encoder", "scanner"} <= set(report["json_modules"])


@pytest.mark.bundle
def test_deferred_from_a_checkout_that_is_not_installed(builder, run):
    # The hook folder named on the command line, and no multiprocessing: oxmp's build hooks for inspect and pkgutil
    # load the package themselves.
    bundle = builder.build("deferred_probe", way=bundles.HOOKS_DIR_OPTION, cli=True)
    assert_deferred_build(bundle)
    report = bundles.only_result(run(bundle))
    assert report["imported_at_start"] == []
    assert as_source_names(report["source_file"]) == os.path.join("json", "decoder.py")


@pytest.mark.bundle
def test_a_bad_setting_fails_the_build_without_multiprocessing_too(builder):
    with pytest.raises(bundles.BuildFailed) as failure:
        builder.build("deferred_probe", hooksconfig={"multiprocessing": {"defer_pyinstaller_hooks": "no"}})
    assert '["defer_pyinstaller_hooks"] is str' in failure.value.log


# PyInstaller's functional tests, as one app. Its spec collects html/__init__.py's source as data, as PyInstaller's
# test_source_utf8_emoji collects its module's, so that inspect.getsource() has a source to read.
SCENARIOS_SPEC = """\
a = Analysis([os.path.join(SPECPATH, "pyi_rthook_scenarios.py")], datas=[({source!r}, "html")],
             hooksconfig={hooksconfig!r})
pyz = PYZ(a.pure)
"""
# Keys whose answers are plain python's on every PyInstaller oxmp supports. (Frames of modules in base_library.zip
# resolve only from PyInstaller 6.8: those are compared between deferred and start-up bundles only.)
PLAIN_PYTHON_KEYS = [
    "stack_modules",
    "getsourcefile",
    "getsource_first_line",
    "traceback_modules",
    "traceback_files",
    "iter_modules_json",
    "iter_modules_json_prefix",
    "iter_modules_xml_dom",
    "iter_modules_module_path",
    "iter_modules_module_path_subdir",
    "iter_modules_top_level_has_json",
    "robust_to_global_inspect",
]
# File names in the bundle's folder: PyInstaller 6.0-6.11 name the compiled file, as the module's __file__ then was.
FILE_KEYS = ["getsourcefile", "traceback_files"]


def as_source_names(value):
    if isinstance(value, list):
        return [as_source_names(item) for item in value]
    return value[:-1] if value.endswith(".pyc") else value


def scenarios_bundle(builder, bundle_root, hooksconfig, onefile):
    import html

    name = "scenarios_%s_%s" % ("deferred" if not hooksconfig else "at_start", "onefile" if onefile else "onedir")
    folder = os.path.join(bundle_root, name + "-source")
    if not os.path.isdir(folder):
        os.makedirs(folder)
        shutil.copy(os.path.join(bundles.APPS, "pyi_rthook_scenarios.py"), folder)
        spec = SCENARIOS_SPEC.format(source=html.__file__, hooksconfig=hooksconfig or {})
        spec += (bundles.ONEFILE_TEMPLATE if onefile else bundles.ONEDIR_TEMPLATE).format(name=name)
        with open(os.path.join(folder, name + ".spec"), "w") as spec_file:
            spec_file.write(spec)
    return builder.build_spec(os.path.join(folder, name + ".spec"))


_plain = {}


def plain_python_scenarios(bundle_root):
    if not _plain:
        script = os.path.join(bundles.APPS, "pyi_rthook_scenarios.py")
        result = contain.run(
            [sys.executable, script],
            timeout=60,
            max_procs=8,
            cwd=bundles.scratch_dir(bundle_root),
            unprivileged=False,
            watch=True,
        )
        _plain.update(bundles.only_result(result))
    return _plain


@pytest.mark.bundle
@pytest.mark.parametrize(
    "hooksconfig, onefile",
    [(None, False), (DEFER_OFF, False), (None, True)],
    ids=["deferred", "at-start", "deferred-onefile"],
)
def test_pyinstallers_functional_tests_pass(builder, run, bundle_root, hooksconfig, onefile):
    bundle = scenarios_bundle(builder, bundle_root, hooksconfig, onefile)
    result = run(bundle)
    assert result.returncode == 0, result
    frozen = bundles.only_result(result)
    plain = plain_python_scenarios(bundle_root)
    for key in PLAIN_PYTHON_KEYS:
        answer = as_source_names(frozen[key]) if key in FILE_KEYS else frozen[key]
        assert answer == plain[key], (key, frozen[key], plain[key])


@pytest.mark.bundle
def test_deferred_and_start_up_hooks_give_the_same_answers(builder, run, bundle_root):
    answers = [
        bundles.only_result(run(scenarios_bundle(builder, bundle_root, hooksconfig, False)))
        for hooksconfig in (None, DEFER_OFF)
    ]
    assert answers[0] == answers[1]


@pytest.mark.bundle
@pytest.mark.parametrize("method", METHODS)
def test_the_app_and_its_workers_see_the_same_with_and_without_deferral(builder, run, method):
    reports = {}
    for label, hooksconfig in (("deferred", None), ("at start", DEFER_OFF)):
        bundle = builder.build("deferred_workers", hooksconfig=hooksconfig)
        result = run(bundle, method)
        assert result.returncode == 0, result
        reports[label] = bundles.only_result(result)
        assert reports[label]["exitcode"] == 0
        assert reports[label]["app"]["getsourcefile"] == "_pyi_getsourcefile"
        assert reports[label]["app"]["source_file_in_bundle"]
    assert reports["deferred"]["imported_at_start"] == []
    assert reports["deferred"]["app"] == reports["at start"]["app"]
    assert reports["deferred"]["worker"]["getsourcefile"] == reports["at start"]["worker"]["getsourcefile"]
    assert reports["deferred"]["worker"]["json_modules"] == reports["at start"]["worker"]["json_modules"]
    assert (
        reports["deferred"]["worker"]["source_file_in_bundle"] == reports["at start"]["worker"]["source_file_in_bundle"]
    )
    print(json.dumps(reports))  # what a worker sees depends on the order of the runtime hooks: shown with -s
