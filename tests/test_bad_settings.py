"""Bad settings in a spec file fail the real build with a clear message, a non-zero exit and no traceback."""

import os
import sys

import pytest

from tests import bundles

pytestmark = pytest.mark.bundle


@pytest.mark.parametrize("section, expected", [
    ({"start_methd": "spawn"}, "did you mean 'start_method'"),
    ({"multiprocessing_start_method": "spawn"}, "'multiprocessing_start_method' is PyOxidizer's name"),
    ({"auto_dispatch": "yes"}, "[\"auto_dispatch\"] is str ('yes'), expected bool"),
    ({"start_method": "thread"}, "allowed values: auto, none, fork, forkserver, spawn"),
], ids=["unknown-key", "pyoxidizer-name", "wrong-type", "bad-value"])
def test_bad_setting_fails_the_build(builder, section, expected):
    with pytest.raises(bundles.BuildFailed) as failure:
        builder.build("probe", hooksconfig={"multiprocessing": section})
    assert failure.value.returncode != 0
    assert "ERROR: oxmp: invalid multiprocessing settings in the spec file" in failure.value.log
    assert expected in failure.value.log
    assert "Traceback" not in failure.value.log


@pytest.mark.skipif(sys.platform != "win32", reason="a start method Windows cannot run fails only a Windows build")
def test_fork_fails_a_windows_build(builder):
    with pytest.raises(bundles.BuildFailed) as failure:
        builder.build("probe", hooksconfig={"multiprocessing": {"start_method": "fork"}})
    assert "Windows cannot run" in failure.value.log
    assert "Traceback" not in failure.value.log


class AnalysisWithHookFolders:
    def __init__(self, hookspath):
        self.hookspath = hookspath


@pytest.mark.parametrize("pairs", [False, True], ids=["folders (PyInstaller 6.0-6.8)", "(folder, priority) pairs"])
def test_the_runtime_hooks_folder_must_be_among_the_hook_folders(pairs):
    from oxmp_hooks import HOOKS_DIR, RUNTIME_HOOKS_DIR, baked

    def analysis(*folders):
        return AnalysisWithHookFolders([(folder, -1000) if pairs else folder for folder in folders])

    baked.check_runtime_hooks_folder(analysis(HOOKS_DIR, RUNTIME_HOOKS_DIR))
    baked.check_runtime_hooks_folder(analysis(RUNTIME_HOOKS_DIR + os.sep))
    with pytest.raises(SystemExit) as failure:
        baked.check_runtime_hooks_folder(analysis(HOOKS_DIR))
    assert "--additional-hooks-dir %s" % RUNTIME_HOOKS_DIR in str(failure.value)
