"""The three ways oxmp gets into a build, each proven by a real bundle whose runtime sees the spec's settings."""

import sys

import pytest

from tests import bundles

pytestmark = pytest.mark.bundle

REPLACED_LOG = "Runtime hooks for multiprocessing have already been defined"
OXMP_FREEZE_SUPPORT = "_oxmp_runtime.boot.freeze_support"
AUTO = bundles.AUTO_START_METHOD


def assert_oxmp_runtime(bundle, run, start_method):
    result = run(bundle)
    assert result.returncode == 0, result
    report = bundles.only_result(result)
    assert report["start_method"] == start_method
    assert report["baked"]["start_method"] in (start_method, "auto")
    # The stock runtime hook did not run: it imports multiprocessing at start-up, sets ORIGINAL_DIR to None and
    # replaces freeze_support with its own.
    assert report["freeze_support"] == OXMP_FREEZE_SUPPORT
    assert not report["multiprocessing_imported_at_start"]
    assert not report["original_dir_is_none"]
    # The build log says why the stock hook was left out, and what oxmp's settings are.
    assert REPLACED_LOG in bundle.log
    assert "oxmp: multiprocessing settings: start_method=" in bundle.log
    return report


def test_installed_plain_command_line(builder, run):
    bundle = builder.build("probe", way=bundles.ENTRY_POINT, cli=True)
    assert_oxmp_runtime(bundle, run, AUTO)


@pytest.mark.skipif(sys.platform == "win32", reason="Windows offers only spawn")
def test_installed_spec_hooksconfig(builder, run):
    bundle = builder.build("probe", hooksconfig={"multiprocessing": {"start_method": "spawn"}})
    report = assert_oxmp_runtime(bundle, run, "spawn")
    assert report["baked"] == {
        "start_method": "spawn",
        "auto_dispatch": True,
        "sys_frozen": True,
        "defer_pyinstaller_hooks": True,
        "run_modules": [],
    }


def test_additional_hooks_dir_without_installing(builder, run):
    bundle = builder.build("probe", way=bundles.HOOKS_DIR_OPTION, cli=True)
    assert_oxmp_runtime(bundle, run, AUTO)


@pytest.mark.skipif(sys.platform == "win32", reason="Windows offers only spawn")
def test_spec_hookspath_without_installing(builder, run):
    bundle = builder.build(
        "probe",
        way=bundles.SPEC_HOOKSPATH,
        hooksconfig={"multiprocessing": {"start_method": "forkserver", "sys_frozen": False}},
    )
    report = assert_oxmp_runtime(bundle, run, "forkserver")
    assert report["baked"] == {
        "start_method": "forkserver",
        "auto_dispatch": True,
        "sys_frozen": False,
        "defer_pyinstaller_hooks": True,
        "run_modules": [],
    }


def test_stock_pyinstaller_really_differs(builder, run):
    # Guards the checks above: a stock bundle fails each of them.
    bundle = builder.build("probe", way=bundles.STOCK, cli=True)
    report = bundles.only_result(run(bundle))
    assert report["freeze_support"] != OXMP_FREEZE_SUPPORT
    assert report["multiprocessing_imported_at_start"]
    assert report["original_dir_is_none"]
    assert "baked" not in report
    assert REPLACED_LOG not in bundle.log


def test_build_hooks_without_the_runtime_hooks_fail_the_build(builder):
    # Only oxmp_hooks/hooks named: oxmp's build hooks would run with PyInstaller's runtime hooks.
    with pytest.raises(bundles.BuildFailed) as failure:
        builder.build("probe", way=bundles.BUILD_HOOKS_ONLY)
    assert "oxmp: this build runs oxmp's build hooks but not its runtime hooks" in failure.value.log
    assert bundles.HOOK_DIRS[1] in failure.value.log


def test_runtime_hooks_without_the_build_hooks_fail_the_build(builder):
    # Only runtime_hooks named: oxmp's runtime hooks would replace PyInstaller's with nothing baked for them.
    with pytest.raises(bundles.BuildFailed) as failure:
        builder.build("probe", way=bundles.RUNTIME_HOOKS_ONLY)
    assert "oxmp: this build has oxmp's runtime hooks but not its build hooks" in failure.value.log
    assert bundles.HOOK_DIRS[0] in failure.value.log
