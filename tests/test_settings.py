"""Unit tests of the settings' one description (settings.py, runtime side) and of the build-time validation."""

import subprocess
import sys

import pytest

from _oxmp_runtime import settings
from oxmp_hooks import config
from tests import pythons as pythons_found


def start_method_of(python):
    """(sys.platform, (major, minor), multiprocessing.get_start_method()) of the CPython ``python``."""
    code = "import multiprocessing, sys; print(sys.platform, *sys.version_info[:2], multiprocessing.get_start_method())"
    platform, major, minor, method = subprocess.check_output(
        [python, "-I", "-c", code], universal_newlines=True, timeout=60
    ).split()
    return platform, (int(major), int(minor)), method


def test_auto_is_what_each_python_uses():
    # `auto` stands for what `python app.py` uses: asked of this Python, and of every other CPython the machine has
    # (tests/pythons.py), each its own witness of its version's rule.
    pythons = [sys.executable] + [executable for executable, _ in pythons_found.find_pythons().values()]
    for python in pythons:
        platform, version, method = start_method_of(python)
        assert settings.resolve_start_method("auto", platform, version) == method, (python, version)


def test_encode_decode_round_trip():
    values = {
        "start_method": "forkserver",
        "auto_dispatch": False,
        "sys_frozen": True,
        "defer_pyinstaller_hooks": False,
        "run_modules": ("ipykernel_launcher",),
    }
    record = settings.Baked(values, ["app.py", "sub dir/other, app.py"], {"pyinstaller": "6.22.3", "oxmp": "9.8.7"})
    assert settings.Baked.decode(record.encode()) == record
    assert settings.Baked.decode("") == settings.Baked(settings.DEFAULTS, [], {})
    assert settings.Baked.decode("garbage\nunknown=1\n") == settings.Baked(settings.DEFAULTS, [], {})


@pytest.mark.parametrize(
    "env, platform, value, warned",
    [
        (None, "linux", None, False),
        ("", "linux", None, False),
        ("spawn", "linux", "spawn", False),
        ("none", "linux", "none", False),
        ("auto", "win32", "auto", False),
        ("thread", "linux", None, True),
        ("fork", "win32", None, True),
        ("Spawn", "linux", None, True),
    ],
)
def test_start_method_override(env, platform, value, warned):
    got, warning = settings.start_method_override(env, platform)
    assert got == value
    assert bool(warning) == warned
    if warned:
        assert repr(env) in warning and "OXMP_START_METHOD" in warning


def test_valid_settings():
    assert config.validate(None, "linux") == (settings.DEFAULTS, [])
    assert config.validate({}, "linux") == (settings.DEFAULTS, [])
    values, errors = config.validate({"start_method": "forkserver", "auto_dispatch": False}, "darwin")
    assert errors == []
    assert values == dict(settings.DEFAULTS, start_method="forkserver", auto_dispatch=False)  # the rest defaults


@pytest.mark.parametrize(
    "section, platform, expected",
    [
        ({"start_methd": "spawn"}, "linux", ["'start_methd'", "did you mean 'start_method'", "auto_dispatch"]),
        ({"multiprocessing_start_method": "spawn"}, "linux", ["PyOxidizer's name", "'start_method'"]),
        ({"multiprocessing_auto_dispatch": False}, "linux", ["PyOxidizer's name", "'auto_dispatch'"]),
        (
            {"colour": 1},
            "linux",
            ["'colour'", "valid keys: start_method, auto_dispatch, sys_frozen, defer_pyinstaller_hooks, run_modules"],
        ),
        ({"defer_pyinstaller_hooks": "no"}, "linux", ['["defer_pyinstaller_hooks"]', "is str ('no')", "expected bool"]),
        ({"defer_pyinstaler_hooks": False}, "linux", ["did you mean 'defer_pyinstaller_hooks'"]),
        ({"auto_dispatch": "yes"}, "linux", ['["auto_dispatch"]', "is str ('yes')", "expected bool"]),
        ({"sys_frozen": 1}, "linux", ['["sys_frozen"]', "is int (1)", "expected bool"]),
        ({"start_method": True}, "linux", ['["start_method"]', "is bool (True)", "expected str"]),
        ({"start_method": "thread"}, "linux", ["'thread'", "allowed values: auto, none, fork, forkserver, spawn"]),
        ({"start_method": "fork"}, "win32", ["'fork'", "Windows cannot run", "spawn"]),
        ({"start_method": "forkserver"}, "win32", ["'forkserver'", "Windows cannot run"]),
        (["start_method"], "linux", ["must be a dict, not list"]),
    ],
)
def test_invalid_settings_are_explained(section, platform, expected):
    _, errors = config.validate(section, platform)
    assert len(errors) == 1, errors
    for fragment in expected:
        assert fragment in errors[0], (fragment, errors[0])


def test_every_problem_is_reported_at_once():
    _, errors = config.validate({"start_method": "x", "auto_dispatch": "y", "z": 1}, "linux")
    assert len(errors) == 3


def test_build_log_line():
    line = config.describe(settings.DEFAULTS, "linux", (3, 11))
    assert line == (
        "oxmp: multiprocessing settings: start_method=auto (fork on Linux with Python 3.11, as python "
        "uses), auto_dispatch=True, sys_frozen=True, defer_pyinstaller_hooks=True, run_modules=none"
    )
    assert "start_method=auto (spawn on Windows with Python 3.13, " in config.describe(
        settings.DEFAULTS, "win32", (3, 13)
    )
    assert "start_method=auto (forkserver on Linux with Python 3.14, " in config.describe(
        settings.DEFAULTS, "linux", (3, 14)
    )
    # Where `none` and `auto` differ: what the log says they stand for (at run time, both set nothing).
    assert "start_method=none (the interpreter's default), " in config.describe(
        dict(settings.DEFAULTS, start_method="none"), "linux", (3, 11)
    )
