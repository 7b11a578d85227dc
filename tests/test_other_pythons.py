"""The core real-bundle cases built and run with each other CPython of the machine (tests/pythons.py finds them):
every start method, onedir and onefile, an argparse-first app, joblib's loky workers, refusals, the doctor.

The rest of the suite builds with the Python that runs it; this lane builds with each other supported minor version
found (pyenv, PATH, OXMP_OTHER_PYTHONS), each with its own virtualenv (PyInstaller, joblib, the checkout's oxmp
installed from its wheel). A version that is not found is skipped, saying so; with OXMP_REQUIRE_PYTHONS=1 (as in
.ci/run) a machine with none at all fails instead. Each result is compared with the same script run by the same Python.

CPython 3.14 and 3.15, where the machine has neither, come from a Debian sid chroot (tests/newer_pythons.py: on
Linux as root, made once and cached, mounted for the lane and unmounted after it, whatever happens): the same cases,
run there, each contained as outside and as the run's unprivileged user. With OXMP_REQUIRE_NEWER_PYTHONS=1 (as in
.ci/run) a machine that cannot make it fails instead of skipping. Besides the core cases, every Python gets the
command lines its own multiprocessing starts its helpers with, classified by oxmp as the bundle would; the chroot's
get multiprocess and billiard where they install, run_modules, and (3.14) the stock baseline.

The lane keeps its cost small: per Python, tests/apps/mp_matrix.py (argparse-first, no freeze_support()) onedir and
onefile (the second layout from the first's Analysis), and joblib_app onedir; the chroot's add lib_matrix and
run_modules_app onedir, and on 3.14 two stock bundles.
"""

import json
import os
import shutil
import sys
import tempfile
import time

import pytest

from _oxmp_runtime import settings
from tests import bundles, contain, newer_pythons, pythons
from tests.reporting import report
from tests.test_refusals import assert_refused
from tests.test_run_modules import HOOKSCONFIG as RUN_MODULES, PROBE, app_result, probe_result

pytestmark = [pytest.mark.pythons, pytest.mark.bundle]

POOL_SQUARES = [n * n for n in range(10)]
LAYOUTS = ["onedir", "onefile"]


class Other:
    """One other Python: its version, the Python of its virtualenv (oxmp installed), and a Builder that builds with it.

    ``chroot``: the newer Pythons' chroot where this Python is one of its, else None: its paths (``python``, ``root``)
    are then the same inside and out, and its programs run there."""

    def __init__(self, version, python, builder, root, chroot=None):
        self.version = version  # (major, minor, micro)
        self.python = python
        self.builder = builder
        self.root = root
        self.chroot = chroot
        self.apps = bundles.APPS
        if chroot is not None:  # the plain scripts, where the chroot sees them
            self.apps = os.path.join(root, "apps")
            shutil.copytree(bundles.APPS, self.apps, ignore=shutil.ignore_patterns("__pycache__"))
            contain.make_accessible(self.apps)
        self._plain = {}

    def matrix(self, layout):
        return self.builder.build("mp_matrix", onefile=layout == "onefile")

    def run(self, bundle_or_argv, *args, **kwargs):
        """A bundle (or argv) run contained, as ``bundles.run()`` does: in the chroot for one of its Pythons."""
        kwargs.setdefault("root", self.root)
        if self.chroot is not None:
            return newer_pythons.run_bundle(self.chroot, bundle_or_argv, *args, **kwargs)
        return bundles.run(bundle_or_argv, *args, **kwargs)

    def contained(self, argv, timeout=120):
        """``argv`` (this Python, unfrozen) contained, in a scratch folder: outside by process counting (the
        machine's Python may not be readable by an unprivileged user), in the chroot as the unprivileged user."""
        cwd = bundles.scratch_dir(self.root)
        if self.chroot is not None:
            return newer_pythons.run(
                self.chroot,
                argv,
                timeout=timeout,
                max_procs=48,
                cwd=cwd,
                env=self.chroot.environment(HOME=cwd, TMPDIR=cwd),
            )
        return contain.run(argv, timeout=timeout, max_procs=48, cwd=cwd, unprivileged=False, watch=True)

    def plain(self, app, *args, folder=None):
        """``<folder>/<app>.py ARGS`` run by this Python, once per session, contained."""
        key = (folder, app) + args
        if key not in self._plain:
            script = os.path.join(folder or self.apps, app + ".py")
            self._plain[key] = self.contained([self.python, script] + list(args))
        return self._plain[key]

    def has(self, module):
        """Whether this Python's virtualenv has ``module``."""
        found = self.contained(
            [self.python, "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec(%r) is None)" % module],
            timeout=60,
        )
        return found.returncode == 0


@pytest.fixture(scope="module")
def found():
    pythons_found = pythons.find_pythons()
    if not pythons_found and os.environ.get(pythons.REQUIRE_ENV) == "1":
        pytest.fail(
            "no other CPython %s-%s found (pyenv, PATH, %s), and %s=1 requires one"
            % (
                pythons.version_name(pythons.OLDEST),
                pythons.version_name(pythons.NEWEST),
                pythons.NAMES_ENV,
                pythons.REQUIRE_ENV,
            )
        )
    return pythons_found


@pytest.fixture(scope="module")
def cache():
    """The virtualenvs' cache, held from the first Python set up until this file is done."""
    cache = pythons.Cache()
    yield cache
    cache.unlock()


@pytest.fixture(scope="module")
def chroot(bundle_root, request):
    """The newer Pythons' chroot, mounted (the session's bundle folder shared) until this file is done, or None where
    this machine cannot make it (a failure with OXMP_REQUIRE_NEWER_PYTHONS=1)."""
    problem = newer_pythons.unavailable()
    if problem:
        if os.environ.get(newer_pythons.REQUIRE_ENV) == "1":
            pytest.fail(
                "cannot make the chroot of CPython %s (%s), and %s=1 requires it"
                % (", ".join(map(pythons.version_name, newer_pythons.VERSIONS)), problem, newer_pythons.REQUIRE_ENV)
            )
        yield None
        return
    with newer_pythons.Chroot().session(shared=[bundle_root]) as entered, newer_pythons.terminated_as_interrupted():
        report(
            request.config,
            "Other Pythons: the chroot of CPython %s: made in %.0f s (0: cached)"
            % (", ".join(map(pythons.version_name, newer_pythons.VERSIONS)), entered.make_seconds),
        )
        yield entered
    assert not newer_pythons.mounts_under(entered.root)


@pytest.fixture(scope="module", params=pythons.other_versions(), ids=pythons.version_name)
def other(request, found, cache, bundle_root):
    """One other Python, set up; its wall time (set-up, builds and runs) is reported when its tests are done. A
    version the machine lacks comes from the chroot, where it has one."""
    started = time.monotonic()
    entered = None
    if request.param in found:
        executable, version = found[request.param]
    elif request.param in newer_pythons.VERSIONS and request.getfixturevalue("chroot") is not None:
        entered = request.getfixturevalue("chroot")
        described = entered.describe(request.param)
        assert described is not None, "the chroot has no python%s" % pythons.version_name(request.param)
        executable, version = described
    else:
        pytest.skip(
            "Python %s: not found on this machine (pyenv, PATH or %s)%s"
            % (
                pythons.version_name(request.param),
                pythons.NAMES_ENV,
                ", and no chroot: %s" % newer_pythons.unavailable() if request.param in newer_pythons.VERSIONS else "",
            )
        )
    cache.lock()
    root = tempfile.mkdtemp(dir=bundle_root, prefix="python-%s-" % pythons.version_name(version))
    os.chmod(root, 0o755)
    if entered is None:
        python = builder_python = cache.python_with_oxmp(executable, version, bundle_root)
        stock = None
    else:
        chroot_cache = newer_pythons.Cache(entered)
        chroot_cache._wheel = cache.oxmp_wheel(bundle_root)  # one wheel per session, in the shared folder
        python = chroot_cache.python_with_oxmp(executable, version, bundle_root)
        builder_python = entered.launcher(python)
        stock = entered.launcher(chroot_cache.set_up(executable, version)[1])
    set_up = time.monotonic() - started
    builder = bundles.Builder(root, stock_python=lambda: stock, python=builder_python, share_analysis=True)
    yield Other(version, python, builder, root, entered)
    report(
        request.config,
        "Other Pythons: %s%s: %.0f s in all (set-up %.0f s; builds %s)"
        % (
            ".".join(map(str, version)),
            " (chroot)" if entered else "",
            time.monotonic() - started,
            set_up,
            ", ".join(
                "%s %s %.0f s" % (bundle.name, "onefile" if bundle.onefile else "onedir", bundle.build_seconds)
                for bundle in builder._built.values()
                if isinstance(bundle, bundles.Bundle)
            ),
        ),
    )


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
    result = other.run(other.matrix(layout), "pool_map", "--method", method)
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
    result = other.run(other.matrix(layout), "executor")
    assert result.returncode == 0, result
    assert result.stdout.count("MAIN-BLOCK") == 1, result
    got = bundles.only_result(result)
    # What `python app.py` uses with this Python (the default changed in 3.14 on Linux).
    assert got == {"squares": POOL_SQUARES, "start_method": settings.python_start_method(sys.platform, other.version)}
    assert bundles.only_result(other.plain("mp_matrix", "executor")) == got


# --- joblib's loky workers ------------------------------------------------------------------------------------------


def test_joblib_loky_workers(other):
    bundle = other.builder.build("joblib_app")
    result = other.run(bundle, timeout=120)
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
    assert_refused(other.run(other.matrix(layout), "--multiprocessing-fork", "pipe_handle=abc", timeout=10))


HELPER_FLAGS = ["-B", "-S", "-I"]  # what multiprocessing passes to a bundle's helpers


def test_helper_injection_is_refused_and_nothing_runs(other):
    cwd = bundles.scratch_dir(other.root)
    code = "from multiprocessing.resource_tracker import main;main(0); open('PWNED', 'w')"
    assert_refused(other.run(other.matrix("onedir"), *HELPER_FLAGS, "-c", code, cwd=cwd, timeout=10))
    assert not os.path.exists(os.path.join(cwd, "PWNED"))


# Python 3.12+ warns (SyntaxWarning, on stderr) when it parses a string with an invalid escape, older ones under -W:
# the refusal's parse of the helper's code keeps it to one line on every version.
def test_helper_code_with_an_invalid_escape_is_refused_in_one_line(other):
    code = r"from multiprocessing.resource_tracker import main;main('\d')"
    assert_refused(other.run(other.matrix("onedir"), *HELPER_FLAGS, "-c", code, timeout=10))


# --- The doctor -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_doctor_passes_the_bundle(other, layout):
    bundle = other.matrix(layout)
    result = other.contained([other.python, "-m", "oxmp_hooks", "doctor", "--json", bundle.exe], timeout=180)
    assert result.returncode == 0, result
    got = json.loads(result.stdout)
    assert got["passed"] is True and got["oxmp"] is True, got
    assert got["build"]["python"] == "%d.%d.%d" % other.version, got
    assert got["bundle"]["layout"] == layout, got
    assert got["smoke_tests"] and all(test["passed"] for test in got["smoke_tests"]), got


# --- The helpers' command lines in this version's own forms ---------------------------------------------------------

# Run by the other Python, unfrozen, with oxmp installed: records the command lines its multiprocessing starts the
# resource tracker and the forkserver with (the tracker really starts; the forkserver is stopped at its spawn), and
# classifies each with oxmp's commands.classify(), as a bundle would at start-up.
HELPER_FORMS = r"""
import json, os, sys
import multiprocessing
from multiprocessing import forkserver, resource_tracker, util
import oxmp_hooks
commands = oxmp_hooks.runtime_module("commands")

class Stop(Exception):
    pass

seen = []
real_spawn = util.spawnv_passfds

def spawnv_passfds(path, args, passfds):
    argv = [os.fsdecode(arg) for arg in args]  # the executable may be bytes (3.12+)
    seen.append((argv, list(passfds)))
    if "forkserver" in " ".join(argv):
        raise Stop()
    return real_spawn(path, args, passfds)

util.spawnv_passfds = spawnv_passfds
resource_tracker.ensure_running()
ways = [{}, {"on_error": "warn"}] if sys.version_info >= (3, 15) else [{}]
for options in ways:
    multiprocessing.set_forkserver_preload(["__main__"], **options)
    try:
        forkserver.ensure_running()
    except Stop:
        pass
found = []
for argv, passfds in seen:
    command = commands.classify(argv, sys.platform)
    found.append({"code": argv[argv.index("-c") + 1], "after_code": argv[argv.index("-c") + 2:], "passfds": passfds,
                  "kind": command.kind, "module": command.module, "args": [repr(arg) for arg in command.args],
                  "kwargs": sorted(command.kwargs), "sys_argv": command.kwargs.get("sys_argv"),
                  "descriptors": [list(item) for item in command.descriptors], "reason": command.reason})
print("RESULT " + json.dumps(found))
"""


def test_helper_command_lines_of_this_version_are_accepted(other):
    script = os.path.join(other.root, "helper_forms.py")
    with open(script, "w") as file:
        file.write(HELPER_FORMS)
    os.chmod(script, 0o644)
    result = other.contained([other.python, script, "--an", "argument"])
    assert result.returncode == 0, result
    tracker, *forkservers = bundles.only_result(result)
    assert tracker["kind"] == "helper" and tracker["module"] == "multiprocessing.resource_tracker", tracker
    assert tracker["code"] == "from multiprocessing.resource_tracker import main;main(%s)" % tracker["args"][0]
    assert [row[1] for row in tracker["descriptors"]] == tracker["passfds"][-1:], tracker
    assert len(forkservers) == (2 if other.version >= (3, 15) else 1), forkservers
    for forkserver in forkservers:
        assert forkserver["kind"] == "helper" and forkserver["module"] == "multiprocessing.forkserver", forkserver
        # Every descriptor the parent passes is one classify() names, and the other way round.
        assert sorted(row[1] for row in forkserver["descriptors"]) == sorted(forkserver["passfds"]), forkserver
        if other.version >= (3, 14):
            # 3.14.4+: the parent's argv follows the code (sys_argv=sys.argv[1:]); a short-lived authkey pipe.
            assert forkserver["code"].startswith("import sys; from multiprocessing.forkserver import main; main(")
            assert forkserver["after_code"] == forkserver["sys_argv"] == [script, "--an", "argument"], forkserver
            assert {"main_path", "sys_path", "sys_argv", "authkey_r"} <= set(forkserver["kwargs"]), forkserver
    if other.version >= (3, 15):
        # set_forkserver_preload(on_error=...) other than the default adds it to the command line.
        assert [("on_error" in forkserver["kwargs"]) for forkserver in forkservers] == [False, True], forkservers


# --- multiprocess and billiard, where they install ------------------------------------------------------------------


@pytest.mark.parametrize("library", ["multiprocess", "billiard"])
@pytest.mark.parametrize("method", bundles.START_METHODS)
def test_library_pool_under_each_start_method(other, library, method):
    if other.chroot is None:
        pytest.skip("the lane installs multiprocess and billiard for the chroot's Pythons only")
    if not other.has(library):
        pytest.skip("%s does not install on Python %s" % (library, pythons.version_name(other.version)))
    plain = other.plain("lib_matrix", library, "pool_map", "--method", method)
    if plain.returncode != 0:
        # Where the library does not support the version (multiprocess 0.70.19 on 3.15: dill reads co_lnotab, which
        # 3.15 removed), python fails as well: nothing for a bundle to match.
        errors = [line for line in plain.stderr.splitlines() if "Error: " in line] or [
            "exit status %d" % plain.returncode
        ]
        pytest.skip(
            "%s fails under python %s too: %s" % (library, pythons.version_name(other.version), errors[-1][:200])
        )
    result = other.run(other.builder.build("lib_matrix"), library, "pool_map", "--method", method, timeout=120)
    assert result.returncode == 0, result
    assert not result.bombed and not result.timed_out, result
    assert result.stdout.count("MAIN-BLOCK") == 1, result
    assert "Traceback" not in result.stderr, result
    got = bundles.only_result(result)
    assert got["start_method"] == method, got
    assert bundles.only_result(plain) == got


# --- run_modules ----------------------------------------------------------------------------------------------------


def chroot_only(other):
    if other.chroot is None:
        pytest.skip("run on the chroot's Pythons (the rest of the suite runs it with the test run's)")


def test_a_listed_module_runs_as_under_python(other):
    chroot_only(other)
    bundle = other.builder.build("run_modules_app", RUN_MODULES, modules=[PROBE])
    args = ["-B", "-s", "-m", PROBE, "one", "-c", "print('x')"]
    result = other.run(bundle, *args, stdin=b"from stdin\n")
    assert result.returncode == 0 and result.stderr == "", result
    got = probe_result(result.stdout)
    assert got["name"] == "__main__" and got["main_is_me"] and got["frozen"] and got["spec"] == PROBE, got
    assert got["args"] == ["one", "-c", "print('x')"], got
    assert "APP " not in result.stdout, result
    status = other.run(bundle, "-m", PROBE, "--exit", "3")
    assert status.returncode == 3 and "oxmp:" not in status.stderr, status
    started = other.run(bundle, "--start-helper")
    assert app_result(started)["helper"]["returncode"] == 7, started
    # Any other -m, and -c, stays the app's.
    assert app_result(other.run(bundle, "-c", "print('PWNED')")) == {"app_args": ["-c", "print('PWNED')"]}


# --- Stock PyInstaller on 3.14: what breaks without oxmp ------------------------------------------------------------


def stock_on_3_14(other):
    if other.version[:2] != (3, 14) or other.chroot is None:
        pytest.skip("the stock baseline runs on the chroot's CPython 3.14")


# The app as a new user writes it: a Pool under the default start method, no freeze_support(), no argparse.
NEW_USER_POOL = """
import multiprocessing, os

def square(x):
    return x * x

if __name__ == "__main__":
    print("MAIN-BLOCK", os.getpid(), flush=True)
    with multiprocessing.Pool(2) as pool:
        print("RESULT {\\"squares\\": %s}" % pool.map(square, range(10)), flush=True)
"""


def test_stock_baseline_default_start_method_without_freeze_support_runs_the_main_block_again(other):
    # Built with stock PyInstaller, the forkserver (3.14's default on Linux) is the bundle started again: the main
    # block runs more than once, and the app fails. Contained: it may also relaunch until stopped.
    stock_on_3_14(other)
    with open(os.path.join(other.apps, "new_user_pool.py"), "w") as script:
        script.write(NEW_USER_POOL)
    builder = bundles.Builder(
        other.root, stock_python=other.builder.stock_python, apps_dir=other.apps, python=other.builder.python
    )
    result = other.run(builder.build("new_user_pool", way=bundles.STOCK), timeout=20, max_procs=16)
    assert result.stdout.count("MAIN-BLOCK") >= 2, result
    assert result.returncode != 0 or result.bombed or result.timed_out, result
    assert "RESULT" not in result.stdout, result
    # The same app under plain python, and under oxmp: the main block once, and the result.
    plain = other.plain("new_user_pool")
    assert plain.stdout.count("MAIN-BLOCK") == 1 and bundles.only_result(plain) == {"squares": POOL_SQUARES}, plain
    fixed = other.run(builder.build("new_user_pool", name="new_user_pool-oxmp"), timeout=60)
    assert fixed.stdout.count("MAIN-BLOCK") == 1, fixed
    assert bundles.only_result(fixed) == {"squares": POOL_SQUARES}, fixed


def test_stock_baseline_spawn_without_freeze_support_relaunches_until_stopped(other):
    stock_on_3_14(other)
    bundle = other.builder.build("no_freeze_support", way=bundles.STOCK)
    result = other.run(bundle, timeout=10, max_procs=16)
    assert result.bombed or result.timed_out or result.peak_procs >= 16 or "Resource temporarily" in result.stderr, (
        result
    )
    assert result.stdout.count("MAIN-BLOCK") >= 3, result
