"""Real libraries that start processes, in bundles, as new users write them (no freeze_support()), onedir and
onefile, each compared with the same script under plain `python`:

- uvicorn with `workers=2` (spawn workers that import the entry script by name): it answers HTTP, and stops cleanly
  on SIGINT to the process group (Ctrl-C) and on SIGTERM to the process its user started, leaving no process and,
  onefile, no unpacked folder behind;
- Hypercorn with `config.workers = 2` (spawn workers that import the entry script by name), as uvicorn;
- dask.distributed's `LocalCluster(processes=True)` under every start method (onefile: spawn, its default);
- dask.distributed's `SubprocessCluster`, which starts its scheduler and workers as `sys.executable -m dask spec`
  (`run_modules: ["dask"]`, with the hidden imports the build names), each worker a nanny's spawn process;
- PyTorch's `DataLoader(num_workers=2)` under every start method, onedir (marker `torch`; a large bundle, built only
  where torch is installed: `pip install torch`).

Servers listen on 127.0.0.1 only. Each library's bundle is built once per layout, for all its cases.
"""

import importlib.util
import os
import socket
import sys

import pytest

from tests import bundles
from tests.test_runtime_matrix import module_level_runs, run_plain_script

pytestmark = pytest.mark.bundle

METHODS = bundles.START_METHODS


def needs(module):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason="%s is not installed" % module)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_clean_run(result):
    assert result.returncode == 0, result
    assert not result.timed_out and not result.bombed, result
    assert result.stdout.count("MAIN-BLOCK") == 1, result  # no worker ran the main block
    assert "Traceback" not in result.stderr and "oxmp: refusing" not in result.stderr, result
    assert not result.leftovers, result  # every process of the app had exited with it


def assert_like_plain_python(result, bundle_root, app, *args):
    plain = run_plain_script(bundle_root, app, *args)
    assert plain.returncode == 0, plain
    assert bundles.only_result(plain) == bundles.only_result(result), plain
    assert set(module_level_runs(result)) == set(module_level_runs(plain))
    return plain


def unpacked_folders(folder):
    return [name for name in os.listdir(folder) if name.startswith("_MEI")]


# --- ASGI servers with worker processes: uvicorn, Hypercorn -----------------------------------------------------------

SERVERS = [
    pytest.param((server, layout), id="%s-%s" % (server, layout), marks=needs(server))
    for server in ("uvicorn", "hypercorn")
    for layout in ("onedir", "onefile")
]


@pytest.fixture(scope="module", params=SERVERS)
def server_app(builder, request):
    server, layout = request.param
    # asgi_server.py: the ASGI app and the thread that asks the server, then stops it, beside the script.
    return server + "_app", builder.build(server + "_app", onefile=layout == "onefile", modules=("asgi_server",))


@pytest.mark.parametrize("stop", ["INT", "TERM"])
def test_server_workers_serve_and_stop_cleanly(server_app, run, bundle_root, stop):
    app, bundle = server_app
    cwd = bundles.scratch_dir(bundle_root)
    # TMPDIR: where a onefile bundle unpacks, so that what it leaves there can be seen.
    result = run(bundle, str(free_port()), stop, cwd=cwd, env={"TMPDIR": cwd}, timeout=120)
    assert_clean_run(result)
    assert "STOPPED" in result.stdout, result  # the server's run() returned: the signal stopped it as it should
    # Both workers answered, processes that imported the entry script by name.
    assert bundles.only_result(result) == {"workers_answered": 2, "modules": [app], "served_by_workers": True}
    assert unpacked_folders(cwd) == []
    plain = assert_like_plain_python(result, bundle_root, app, str(free_port()), stop)
    assert "STOPPED" in plain.stdout


# --- dask.distributed -----------------------------------------------------------------------------------------------

# Every start method onedir; onefile with dask's default, spawn (each case starts four processes of a large bundle).
DASK_CASES = [("onedir", method) for method in METHODS] + [("onefile", "spawn")]


@needs("distributed")
@pytest.mark.parametrize("layout, method", DASK_CASES)
def test_dask_local_cluster_with_worker_processes(builder, run, bundle_root, layout, method):
    dask_app = builder.build("dask_app", onefile=layout == "onefile")
    cwd = bundles.scratch_dir(bundle_root)
    result = run(dask_app, method, cwd=cwd, env={"TMPDIR": cwd}, timeout=180)
    assert_clean_run(result)
    squares = [n * n for n in range(10)]
    assert bundles.only_result(result) == {"squares": squares, "workers": 2, "in_other_processes": True}
    assert unpacked_folders(cwd) == []
    assert_like_plain_python(result, bundle_root, "dask_app", method)


# --- dask's SubprocessCluster: `sys.executable -m dask spec ...` -----------------------------------------------------

# What a bundle that runs `-m dask` needs, besides the setting: dask's command line finds distributed's commands
# through entry points and imports their modules by name (the build names them when the bundle lacks them).
DASK_RUN_MODULES = {"multiprocessing": {"run_modules": ["dask"]}}
DASK_CLI_SUBMODULES = ["distributed.cli"]


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def dask_subprocess_app(builder, request):
    return builder.build(
        "dask_subprocess_app", DASK_RUN_MODULES, onefile=request.param == "onefile", submodules=DASK_CLI_SUBMODULES
    )


@needs("distributed")
@pytest.mark.skipif(sys.platform == "win32", reason="SubprocessCluster does not run on Windows (distributed#7434)")
def test_dask_subprocess_cluster(dask_subprocess_app, run, bundle_root):
    cwd = bundles.scratch_dir(bundle_root)
    result = run(dask_subprocess_app, cwd=cwd, env={"TMPDIR": cwd}, timeout=180)
    assert_clean_run(result)
    squares = [n * n for n in range(10)]
    assert bundles.only_result(result) == {"squares": squares, "workers": 2, "in_other_processes": True}
    assert unpacked_folders(cwd) == []
    assert "oxmp: run_modules: `-m dask`" not in dask_subprocess_app.log  # nothing the build would name is missing
    assert_like_plain_python(result, bundle_root, "dask_subprocess_app")


# --- PyTorch --------------------------------------------------------------------------------------------------------


@pytest.mark.torch
@needs("torch")
@pytest.mark.parametrize("method", METHODS)
def test_torch_data_loader_with_worker_processes(builder, run, bundle_root, method):
    # Onedir only: torch alone is some 750 MB, and a onefile layout of it would show nothing the other libraries do not.
    torch_app = builder.build("torch_app")
    result = run(torch_app, method, timeout=300)
    assert_clean_run(result)
    squares = [n * n for n in range(8)]
    assert bundles.only_result(result) == {"squares": squares, "in_other_processes": True, "workers": 2}
    assert_like_plain_python(result, bundle_root, "torch_app", method)
