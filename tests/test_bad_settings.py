"""Bad settings in a spec file fail the real build with a clear message, a non-zero exit and no traceback."""

import sys

import pytest

from tests import bundles

pytestmark = pytest.mark.bundle


@pytest.mark.parametrize(
    "section, expected",
    [
        ({"start_methd": "spawn"}, "did you mean 'start_method'"),
        ({"multiprocessing_start_method": "spawn"}, "'multiprocessing_start_method' is PyOxidizer's name"),
        ({"auto_dispatch": "yes"}, "[\"auto_dispatch\"] is str ('yes'), expected bool"),
        ({"start_method": "thread"}, "allowed values: auto, none, fork, forkserver, spawn"),
    ],
    ids=["unknown-key", "pyoxidizer-name", "wrong-type", "bad-value"],
)
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
