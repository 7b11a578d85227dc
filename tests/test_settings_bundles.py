"""Each setting, baked into a real bundle, does at run time what settings.py says."""

import sys

import pytest

from _oxmp_runtime import settings
from tests import bundles

pytestmark = pytest.mark.bundle

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="Windows offers only spawn")

# A spawned worker shares the app's stdout and stderr on POSIX. On Windows it inherits no handles, so when they are
# pipes (as in these runs) what a worker prints may never arrive.
WORKER_OUTPUT_ARRIVES = sys.platform != "win32"


def probe(builder, run, section=None, *args, env=None):
    bundle = builder.build("probe", hooksconfig={"multiprocessing": section} if section is not None else None)
    result = run(bundle, *args, env=env)
    assert result.returncode == 0, result
    return bundles.only_result(result), result


def test_auto_is_what_python_uses(builder, run):
    report, _ = probe(builder, run, {})
    assert report["start_method"] == bundles.AUTO_START_METHOD == bundles.interpreter_start_method()


@POSIX_ONLY
@pytest.mark.parametrize("method", settings.POSIX_START_METHODS)
def test_fixed_start_method(builder, run, method):
    report, _ = probe(builder, run, {"start_method": method})
    assert report["start_method"] == method


@POSIX_ONLY
def test_environment_override_none_undoes_the_baked_method(builder, run):
    # `none` at run time: the interpreter's default again, whatever the bundle was built with (`auto` and `none` both
    # set nothing, so a baked `none` would show nothing `auto` does not). The baked method differs from that default,
    # and is what the bundle uses without the override (test_fixed_start_method).
    default = bundles.interpreter_start_method()
    baked = "forkserver" if default == "fork" else "fork"
    report, result = probe(builder, run, {"start_method": baked}, env={"OXMP_START_METHOD": "none"})
    assert report["start_method"] == default, result


@POSIX_ONLY
def test_default_is_soft_the_apps_set_start_method_wins(builder, run):
    report, _ = probe(builder, run, {"start_method": "fork"}, "set", "spawn")
    assert report["start_method"] == "spawn"
    # get_context(x) works for every method, whatever the default.
    assert report["contexts"] == {method: method for method in report["all_start_methods"]}


@POSIX_ONLY
def test_environment_override(builder, run):
    report, result = probe(builder, run, {"start_method": "fork"}, env={"OXMP_START_METHOD": "spawn"})
    assert report["start_method"] == "spawn"
    assert "oxmp" not in result.stderr


@POSIX_ONLY
def test_bad_environment_override_warns_once_and_is_ignored(builder, run):
    report, result = probe(builder, run, {"start_method": "forkserver"}, env={"OXMP_START_METHOD": "threads"})
    assert report["start_method"] == "forkserver"
    warnings = [line for line in result.stderr.splitlines() if "OXMP_START_METHOD" in line]
    assert len(warnings) == 1, result
    assert "'threads'" in warnings[0] and "fork, forkserver, spawn" in warnings[0]


@pytest.mark.parametrize("setting", [True, False])
def test_sys_frozen(builder, run, setting):
    # PyInstaller sets sys.frozen itself; a runtime hook of the app's, run before oxmp's, takes it away (as another
    # freezer might not set it). On, oxmp makes it truthy again; off, oxmp leaves it as it found it.
    bundle = builder.build(
        "probe", hooksconfig={"multiprocessing": {"sys_frozen": setting}}, runtime_hooks=["rth_unfreeze"]
    )
    result = run(bundle)
    assert result.returncode == 0, result
    report = bundles.only_result(result)
    assert report["baked"]["sys_frozen"] is setting
    assert report["frozen"] is setting


def test_multiprocessing_is_not_imported_at_start_up(builder, run):
    # The app never imports multiprocessing in this run: oxmp's runtime hook must not either.
    result = run(builder.build("probe"), "lazy-only")
    assert bundles.only_result(result) == {"multiprocessing_imported_at_start": False}


@pytest.mark.parametrize("onefile", [False, True], ids=["onedir", "onefile"])
def test_auto_dispatch_off_without_freeze_support_fails_instead_of_relaunching(builder, run, onefile):
    # The worker runs the app's main block (auto_dispatch is off), which starts a worker again: oxmp stops that
    # second start and says why, where stock PyInstaller relaunches without end (see test_stock_baseline.py).
    bundle = builder.build(
        "no_freeze_support", hooksconfig={"multiprocessing": {"auto_dispatch": False}}, onefile=onefile
    )
    result = run(bundle, timeout=30)
    assert not result.bombed and not result.timed_out, result
    assert result.returncode == 0, result
    assert bundles.only_result(result) == {"exitcode": 1}
    if WORKER_OUTPUT_ARRIVES:
        # The app, its worker, and (it may get that far) its resource tracker, a helper started with the app's
        # executable: each runs the main block once, and none starts anything else.
        assert 2 <= result.stdout.count("MAIN-BLOCK") <= 3, result
        assert "auto_dispatch is off" in result.stderr
    assert result.peak_procs <= 4, result


@POSIX_ONLY
@pytest.mark.parametrize("method", bundles.NEW_PROCESS_START_METHODS)
def test_auto_dispatch_off_with_freeze_support_works(builder, run, method):
    bundle = builder.build("stock_style", hooksconfig={"multiprocessing": {"auto_dispatch": False}})
    result = run(bundle, "--method", method)
    assert result.returncode == 0, result
    assert bundles.only_result(result) == {"cubes": [0, 1, 8, 27, 64]}
    if WORKER_OUTPUT_ARRIVES:
        assert "oxmp" not in result.stderr  # the workers dispatched: nothing to warn about


@pytest.mark.parametrize("onefile", [False, True], ids=["onedir", "onefile"])
def test_apps_written_for_stock_pyinstaller_keep_working(builder, run, onefile):
    bundle = builder.build("stock_style", onefile=onefile)
    for method in bundles.START_METHODS:
        result = run(bundle, "--method", method)
        assert result.returncode == 0, result
        assert result.stdout.count("MAIN-BLOCK") == 1
        assert bundles.only_result(result) == {"cubes": [0, 1, 8, 27, 64]}
