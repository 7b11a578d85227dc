"""A Jupyter kernel embedded in a bundle: jupyter_client's KernelManager starts ipykernel's native kernel as
`sys.executable -m ipykernel_launcher -f CONNECTION_FILE`, which with `run_modules: ["ipykernel_launcher"]` the bundle
runs as python would; the app runs a cell and gets its result, on loopback, onedir and onefile. The control: the same
app without the setting cannot start its kernel (the bundle starts the app again instead).
"""

import sys

import pytest

from tests import bundles

pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.bundle

HOOKSCONFIG = {"multiprocessing": {"run_modules": ["ipykernel_launcher"]}}


def build(builder, hooksconfig, onefile=False):
    # What any PyInstaller bundle of a kernel needs, oxmp or not: jupyter_client finds its kernel provisioners through
    # its entry points (its metadata goes in the bundle), and debugpy (the kernel's optional debugger) reads its
    # vendored pydevd from files that PyInstaller does not collect; without it, ipykernel runs with no debugger.
    return builder.build("jupyter_app", hooksconfig, onefile=onefile, metadata=["jupyter_client"], excludes=["debugpy"])


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def jupyter_app(builder, request):
    return build(builder, HOOKSCONFIG, onefile=request.param == "onefile")


def test_a_kernel_runs_a_cell(jupyter_app, run):
    result = run(jupyter_app, timeout=240, max_procs=64)
    assert result.returncode == 0 and not result.timed_out and not result.bombed, result
    found = bundles.only_result(result)
    assert found["status"] == "ok" and found["outputs"] == ["2"], result
    assert found["ip"] == "127.0.0.1"
    # The kernel was this bundle, started as tools start a module.
    assert found["kernel_command"][:3] == [found["executable"], "-m", "ipykernel_launcher"], found
    assert "Traceback" not in result.stderr and "oxmp: refusing" not in result.stderr, result


def test_without_the_setting_the_kernel_is_the_app_again(builder, run):
    bundle = build(builder, None)
    result = run(bundle, timeout=240, max_procs=64)
    assert result.returncode == 1 and not result.timed_out and not result.bombed, result
    assert 'APP-STARTED-WITH ["-m", "ipykernel_launcher", "-f", ' in result.stderr, result
    assert "Kernel died before replying" in result.stderr, result
    assert "RESULT" not in result.stdout
