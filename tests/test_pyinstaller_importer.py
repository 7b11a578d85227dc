"""Unit test of the PyInstaller 6.10 importer fix: runpy.run_path() of a code file inside the bundle reads the file.

The real case (a spawn or forkserver worker running the entry script) is covered by the runtime matrix under tox's
PyInstaller 6.10 environment; here a stand-in for 6.10's path hook shows the mechanism on any PyInstaller.
"""

import runpy
import sys

import pytest

from _oxmp_runtime import pyinstaller


class PyiFrozenImporter:
    """Like PyInstaller 6.10.0's: its path hook accepts every path, files included."""

    def __init__(self, path):
        self.path = path

    @classmethod
    def path_hook(cls, path):
        return cls(path)

    def find_spec(self, fullname, target=None):
        return None


@pytest.fixture
def path_hook_of_6_10():
    saved_hooks, saved_cache = list(sys.path_hooks), dict(sys.path_importer_cache)
    sys.path_hooks.insert(0, PyiFrozenImporter.path_hook)
    yield
    sys.path_hooks[:] = saved_hooks
    sys.path_importer_cache.clear()
    sys.path_importer_cache.update(saved_cache)


def test_run_path_of_a_file_fails_with_the_6_10_path_hook(path_hook_of_6_10, tmp_path):
    script = tmp_path / "app.py"
    script.write_text("ANSWER = 42\n")
    with pytest.raises(ImportError, match="__main__"):
        runpy.run_path(str(script), run_name="__mp_main__")


def test_run_path_of_a_file_works_once_fixed(path_hook_of_6_10, tmp_path):
    script = tmp_path / "app.py"
    script.write_text("ANSWER = 42\n")
    hooks = list(sys.path_hooks)
    pyinstaller.let_run_path_read_files([str(script)])
    assert runpy.run_path(str(script), run_name="__mp_main__")["ANSWER"] == 42
    # The path hooks are untouched: PyInstaller's importer finds its fallback finder by looking for its own hook there.
    assert sys.path_hooks == hooks
    assert isinstance(sys.path_hooks[0](str(tmp_path)), PyiFrozenImporter)
