"""The build-time check that a bundle accepts the command lines its own multiprocessing emits (oxmp_hooks/selfcheck.py).

Run with the Python that runs the tests, which is the one a bundle built here contains.
"""

import importlib.util
import sys

import pytest

from oxmp_hooks import runtime_module, selfcheck

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="no resource tracker or forkserver on Windows")


# Those installed: the test extra installs billiard on Python 3.10+ only.
LIBRARIES = tuple(name for name in ("multiprocessing", "multiprocess", "billiard") if importlib.util.find_spec(name))


def test_this_pythons_command_lines_are_captured_and_accepted():
    lines = selfcheck.emitted_command_lines(libraries=LIBRARIES, loky=selfcheck.LOKY_TRACKERS[0])
    names = [what for what, _, _ in lines]
    if sys.platform == "win32":
        assert names == [library + " spawn worker" for library in LIBRARIES]
    else:
        assert names == [
            "%s %s" % (library, what) for library in LIBRARIES for what in ("spawn worker", "tracker", "forkserver")
        ] + ["loky tracker"]
        assert any("from multiprocessing.forkserver import main; main(" in arg for arg in lines[2][2][1:])
        if "billiard" in LIBRARIES:
            assert any("from billiard.semaphore_tracker import main;main(" in arg for arg in lines[7][2][1:])
    assert selfcheck.problems(libraries=LIBRARIES, loky=selfcheck.LOKY_TRACKERS[0]) == []
    assert getattr(sys, "frozen", None) is None  # left as it was


@POSIX_ONLY
def test_a_form_oxmp_does_not_know_fails_the_build(monkeypatch):
    # As if a new CPython release had changed the resource tracker's form: oxmp's table no longer knows it.
    commands = runtime_module("commands")
    monkeypatch.setattr(
        commands,
        "HELPERS",
        {key: value for key, value in commands.HELPERS.items() if key[0] != "multiprocessing.resource_tracker"},
    )
    found = selfcheck.problems()
    assert len(found) == 1 and found[0].startswith("multiprocessing tracker: ") and "unknown helper" in found[0]
    with pytest.raises(SystemExit) as failure:
        selfcheck.check()
    assert "ERROR: oxmp: this Python starts multiprocessing's processes with command lines" in str(failure.value)


def test_only_libraries_the_bundle_collects_are_checked():
    # An app's `try: import billiard` without billiard installed (or with billiard excluded) leaves a node without a
    # file in the graph: the build must not try to import billiard to check it (it crashed the build on Python 3.8,
    # where the test extra has no billiard).
    from PyInstaller.lib.modulegraph.modulegraph import ExcludedModule, MissingModule, Package

    from oxmp_hooks import collect

    package = Package("multiprocess")
    package.filename = "/site-packages/multiprocess/__init__.py"
    nodes = {"multiprocess": package, "billiard": MissingModule("billiard"), "loky": ExcludedModule("loky")}

    class Graph:
        find_node = staticmethod(nodes.get)

    assert [
        name for name in ("multiprocess", "billiard", "loky", "multiprocessing") if collect.collected(Graph, name)
    ] == ["multiprocess"]
