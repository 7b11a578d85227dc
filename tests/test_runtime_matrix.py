"""The runtime matrix: onedir and onefile x every start method x what apps do with multiprocessing.

None of these apps calls freeze_support(). Each result is compared with the same app under plain `python`, run the
same way: the bundle must behave exactly like the script.
"""

import os
import sys

import pytest

from tests import bundles, contain

pytestmark = pytest.mark.bundle

METHODS = bundles.START_METHODS
SCENARIOS = {
    "pool_map": {"squares": [n * n for n in range(10)]},
    "executor": {"squares": [n * n for n in range(10)]},
    "manager": {"keys": ["a", "b"]},
    "subclass": {"doubled": 42, "exitcode": 0},
    "nested": {"sum": 30},
    "crash": {"crash_exitcode": 7, "raise_exitcode": 1},
    "maxtasks": {"distinct_pids": 6},
    "shared": {"value": 6, "queued": [10, 20, 30]},
}


_plain_cache = {}


def run_plain(bundle_root, *args):
    return run_plain_script(bundle_root, "mp_matrix", *args)


def run_plain_script(bundle_root, app, *args):
    """tests/apps/<app>.py under plain `python`, contained by process counting (the machine's Python may not be
    readable by an unprivileged user)."""
    key = (app,) + args
    if key not in _plain_cache:
        script = os.path.join(bundles.APPS, app + ".py")
        _plain_cache[key] = contain.run(
            [sys.executable, script] + list(args),
            timeout=120,
            max_procs=48,
            cwd=bundles.scratch_dir(bundle_root),
            unprivileged=False,
            watch=True,
        )
    return _plain_cache[key]


def module_level_runs(result):
    return sorted(line for line in result.stderr.splitlines() if line.startswith("MODULE-LEVEL"))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_like_plain_python(matrix, run, bundle_root, scenario, method):
    result = run(matrix, scenario, "--method", method)
    assert result.returncode == 0, result
    assert not result.bombed and not result.timed_out
    # The main block ran once: no worker ran it.
    assert result.stdout.count("MAIN-BLOCK") == 1, result
    got = bundles.only_result(result)
    assert got["start_method"] == method
    for key, value in SCENARIOS[scenario].items():
        assert got[key] == value, (key, result)

    plain = run_plain(bundle_root, scenario, "--method", method)
    assert plain.returncode == 0, plain
    assert bundles.only_result(plain) == got
    # The entry script's module-level code ran under the same names as under python (__mp_main__ in spawn and
    # forkserver workers). Not how many times: Pool.terminate() may stop a worker before it gets that far.
    assert set(module_level_runs(result)) == set(module_level_runs(plain))


def test_executor_with_a_context_per_method_leaves_the_default_alone(matrix, run, bundle_root):
    # ProcessPoolExecutor(mp_context=get_context(m)) for every method, without set_start_method().
    result = run(matrix, "executor_contexts")
    assert result.returncode == 0, result
    assert result.stdout.count("MAIN-BLOCK") == 1, result
    got = bundles.only_result(result)
    assert got["squares"] == {method: [0, 1, 4, 9, 16] for method in METHODS}
    assert got["start_method"] == bundles.AUTO_START_METHOD
    plain = run_plain(bundle_root, "executor_contexts")
    assert plain.returncode == 0, plain
    assert bundles.only_result(plain)["squares"] == got["squares"]


@pytest.mark.parametrize("method", METHODS)
def test_process_subclass_runs_in_mp_main_like_python(matrix, run, method):
    got = bundles.only_result(run(matrix, "subclass", "--method", method))
    assert got["module"] == ("__main__" if method == "fork" else "__mp_main__")


def test_no_worker_runs_a_decoy_entry_script_in_the_working_directory(matrix, run, bundle_root):
    # A file named like the entry script in the working directory must never run, whatever the start method.
    cwd = bundles.scratch_dir(bundle_root)
    marker = os.path.join(cwd, "decoy-ran")
    with open(os.path.join(cwd, "mp_matrix.py"), "w") as decoy:
        decoy.write("open(%r, 'w').close()\nprint('DECOY')\n" % marker)
    for method in METHODS:
        result = run(matrix, "pool_map", "--method", method, cwd=cwd)
        assert result.returncode == 0, result
        assert "DECOY" not in result.stdout + result.stderr
        assert not os.path.exists(marker)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks and PATH lookup of a POSIX executable")
@pytest.mark.parametrize("how", ["symlink", "PATH", "relative"])
def test_workers_find_the_bundle_however_it_was_started(matrix, run, bundle_root, how):
    cwd = bundles.scratch_dir(bundle_root)
    env = None
    if how == "symlink":
        link = os.path.join(cwd, "linked-app")
        os.symlink(matrix.exe, link)
        argv = [link]
    elif how == "PATH":
        env = {"PATH": os.path.dirname(matrix.exe) + os.pathsep + os.environ.get("PATH", "")}
        argv = [os.path.basename(matrix.exe)]
    else:
        argv = [os.path.relpath(matrix.exe, cwd)]
    for method in bundles.NEW_PROCESS_START_METHODS:
        result = run(argv, "pool_map", "--method", method, cwd=cwd, env=env)
        assert result.returncode == 0, result
        assert bundles.only_result(result)["squares"] == SCENARIOS["pool_map"]["squares"]
        assert result.stdout.count("MAIN-BLOCK") == 1
