"""The core real-bundle cases built and run with each other CPython of the machine (tests/pythons.py finds them):
every start method, onedir and onefile, an argparse-first app, joblib's loky workers, refusals, the doctor.

The rest of the suite builds with the Python that runs it; this lane builds with each other supported minor version
found (pyenv, PATH, OXMP_OTHER_PYTHONS), each with its own virtualenv (PyInstaller, joblib, the checkout's oxmp
installed from its wheel). A version that is not found is skipped, saying so; with OXMP_REQUIRE_PYTHONS=1 (as in
.ci/run) a machine with none at all fails instead. Each result is compared with the same script run by the same Python.

The lane keeps its cost small: per Python, tests/apps/mp_matrix.py (argparse-first, no freeze_support()) onedir and
onefile (the second layout from the first's Analysis), and joblib_app onedir.
"""

import json
import os
import sys
import tempfile
import time

import pytest

from _oxmp_runtime import settings as schema
from tests import bundles, contain, pythons
from tests.test_refusals import assert_refused
from tests.reporting import report

pytestmark = [pytest.mark.pythons, pytest.mark.bundle]

POOL_SQUARES = [n * n for n in range(10)]
LAYOUTS = ["onedir", "onefile"]


class Other:
    """One other Python: its version, the Python of its virtualenv (oxmp installed), and a Builder that builds with it."""

    def __init__(self, version, python, builder, root):
        self.version = version  # (major, minor, micro)
        self.python = python
        self.builder = builder
        self.root = root
        self._plain = {}

    def matrix(self, layout):
        return self.builder.build("mp_matrix", onefile=layout == "onefile")

    def plain(self, app, *args, folder=bundles.APPS):
        """``<folder>/<app>.py ARGS`` run by this Python, once per session, contained by process counting."""
        key = (folder, app) + args
        if key not in self._plain:
            script = os.path.join(folder, app + ".py")
            self._plain[key] = contain.run([self.python, script] + list(args), timeout=120, max_procs=48,
                                           cwd=bundles.scratch_dir(self.root), unprivileged=False, watch=True)
        return self._plain[key]


@pytest.fixture(scope="module")
def found():
    pythons_found = pythons.find_pythons()
    if not pythons_found and os.environ.get(pythons.REQUIRE_ENV) == "1":
        pytest.fail("no other CPython %s-%s found (pyenv, PATH, %s), and %s=1 requires one" % (
            pythons.version_name(pythons.OLDEST), pythons.version_name(pythons.NEWEST), pythons.NAMES_ENV,
            pythons.REQUIRE_ENV))
    return pythons_found


@pytest.fixture(scope="module")
def cache():
    """The virtualenvs' cache, held from the first Python set up until this file is done."""
    cache = pythons.Cache()
    yield cache
    cache.unlock()


@pytest.fixture(scope="module", params=pythons.other_versions(), ids=pythons.version_name)
def other(request, found, cache, bundle_root):
    """One other Python, set up; its wall time (set-up, builds and runs) is reported when its tests are done."""
    if request.param not in found:
        pytest.skip("Python %s: not found on this machine (pyenv, PATH or %s)" % (
            pythons.version_name(request.param), pythons.NAMES_ENV))
    executable, version = found[request.param]
    started = time.monotonic()
    cache.lock()
    root = tempfile.mkdtemp(dir=bundle_root, prefix="python-%s-" % pythons.version_name(version))
    os.chmod(root, 0o755)
    python = cache.python_with_oxmp(executable, version, bundle_root)
    set_up = time.monotonic() - started
    builder = bundles.Builder(root, python=python, share_analysis=True)
    yield Other(version, python, builder, root)
    report(request.config, "Other Pythons: %s: %.0f s in all (set-up %.0f s; builds %s)" % (
        ".".join(map(str, version)), time.monotonic() - started, set_up,
        ", ".join("%s %s %.0f s" % (bundle.name, "onefile" if bundle.onefile else "onedir", bundle.build_seconds)
                  for bundle in builder._built.values() if isinstance(bundle, bundles.Bundle))))


def test_lane_finds_the_other_pythons(found):
    # The lane looks at real Pythons: whatever it found is the version it says, and never the test run's own.
    for minor, (executable, version) in found.items():
        assert version[:2] == minor != sys.version_info[:2]
        assert pythons.describe(executable) == (executable, version)


def test_a_python_named_explicitly_is_found(found, monkeypatch):
    if not found:
        pytest.skip("no other Python to name")
    minor, (executable, version) = sorted(found.items())[0]
    # Only what OXMP_OTHER_PYTHONS names: what is not a CPython (here a shell) is passed over.
    monkeypatch.setenv(pythons.NAMES_ENV, os.pathsep.join(["/bin/sh", executable]))
    monkeypatch.setenv("PYENV_ROOT", os.path.join(tempfile.gettempdir(), "no-such-pyenv-root"))
    monkeypatch.setenv("PATH", "")
    assert pythons.find_pythons() == {minor: (executable, version)}


# --- Start methods, onedir and onefile, an argparse-first app -------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("method", bundles.START_METHODS)
def test_pool_under_each_start_method(other, layout, method):
    # mp_matrix parses its arguments with argparse before anything else: a worker that reached the app would fail on
    # its worker arguments, or print MAIN-BLOCK again.
    result = bundles.run(other.matrix(layout), "pool_map", "--method", method, root=other.root)
    assert result.returncode == 0, result
    assert not result.bombed and not result.timed_out, result
    assert result.stdout.count("MAIN-BLOCK") == 1, result
    got = bundles.only_result(result)
    assert got == {"squares": POOL_SQUARES, "start_method": method}, result
    plain = other.plain("mp_matrix", "pool_map", "--method", method)
    assert plain.returncode == 0, plain
    assert bundles.only_result(plain) == got


@pytest.mark.parametrize("layout", LAYOUTS)
def test_executor_with_the_default_start_method(other, layout):
    result = bundles.run(other.matrix(layout), "executor", root=other.root)
    assert result.returncode == 0, result
    assert result.stdout.count("MAIN-BLOCK") == 1, result
    got = bundles.only_result(result)
    # What `python app.py` uses with this Python (the default changed in 3.14 on Linux).
    assert got == {"squares": POOL_SQUARES, "start_method": schema.python_start_method(sys.platform, other.version)}
    assert bundles.only_result(other.plain("mp_matrix", "executor")) == got


# --- joblib's loky workers ------------------------------------------------------------------------------------------

def test_joblib_loky_workers(other):
    bundle = other.builder.build("joblib_app")
    result = bundles.run(bundle, timeout=120, root=other.root)
    assert result.returncode == 0, result
    assert not result.timed_out and not result.bombed, result
    assert result.stdout.count("MAIN-BLOCK") == 1, result
    got = bundles.only_result(result)
    assert got == {"squares": POOL_SQUARES, "ran_in_main_process": False}, result
    assert "Traceback" not in result.stderr and "oxmp: refusing" not in result.stderr, result
    assert bundles.only_result(other.plain("joblib_app")) == got


# --- Refusals: one line on stderr, exit status 2, nothing of the app run --------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_malformed_worker_command_line_is_refused(other, layout):
    assert_refused(bundles.run(other.matrix(layout), "--multiprocessing-fork", "pipe_handle=abc", timeout=10,
                               root=other.root))


HELPER_FLAGS = ["-B", "-S", "-I"]  # what multiprocessing passes to a bundle's helpers


def test_helper_injection_is_refused_and_nothing_runs(other):
    cwd = bundles.scratch_dir(other.root)
    code = "from multiprocessing.resource_tracker import main;main(0); open('PWNED', 'w')"
    assert_refused(bundles.run(other.matrix("onedir"), *HELPER_FLAGS, "-c", code, cwd=cwd, timeout=10))
    assert not os.path.exists(os.path.join(cwd, "PWNED"))


# Python 3.12+ warns (SyntaxWarning, on stderr) when it parses a string with an invalid escape, older ones under -W:
# the refusal's parse of the helper's code keeps it to one line on every version.
def test_helper_code_with_an_invalid_escape_is_refused_in_one_line(other):
    code = r"from multiprocessing.resource_tracker import main;main('\d')"
    assert_refused(bundles.run(other.matrix("onedir"), *HELPER_FLAGS, "-c", code, timeout=10, root=other.root))


# --- The doctor -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_doctor_passes_the_bundle(other, layout):
    bundle = other.matrix(layout)
    result = contain.run([other.python, "-m", "oxmp_hooks", "doctor", "--json", bundle.exe], timeout=180,
                         max_procs=48, cwd=bundles.scratch_dir(other.root), unprivileged=False, watch=True)
    assert result.returncode == 0, result
    got = json.loads(result.stdout)
    assert got["passed"] is True and got["oxmp"] is True, got
    assert got["build"]["python"] == "%d.%d.%d" % other.version, got
    assert got["bundle"]["layout"] == layout, got
    assert got["smoke_tests"] and all(test["passed"] for test in got["smoke_tests"]), got
