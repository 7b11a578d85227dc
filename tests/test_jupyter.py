"""A Jupyter kernel embedded in a bundle: jupyter_client's KernelManager starts ipykernel's native kernel as
`sys.executable -m ipykernel_launcher -f CONNECTION_FILE`, which with `run_modules: ["ipykernel_launcher"]` the bundle
runs as python would; the app runs a cell and gets its result, on loopback, with the kernel's debugger (debugpy's
files collected), onedir and onefile. A "python3" kernel spec installed on the machine wins over the native kernel,
under python as in the bundle, and the app then starts that spec's interpreter; an app that looks in no kernel folder
keeps to its own. The control: the same app without the setting cannot start its kernel (the bundle starts the app
again instead).
"""

import json
import os
import sys

import pytest

from tests import bundles, contain

pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.bundle

HOOKSCONFIG = {"multiprocessing": {"run_modules": ["ipykernel_launcher"]}}

# A "python3" kernel spec as another installation leaves it in Jupyter's folders, with its own interpreter: here a
# shell that says it started, and exits.
FOREIGN_SPEC = {
    "argv": ["/bin/sh", "-c", "echo FOREIGN-KERNEL-STARTED >&2; exit 3", "{connection_file}"],
    "display_name": "Python 3 (another installation)",
    "language": "python",
}


def build(builder, hooksconfig, onefile=False):
    # What any PyInstaller bundle of a kernel needs, oxmp or not: jupyter_client finds its kernel provisioners through
    # its entry points (its metadata goes in the bundle); debugpy (the kernel's debugger) runs its vendored pydevd from
    # files that PyInstaller does not collect, and pydevd imports xmlrpc.server, which the analysis cannot see there
    # (without either, the kernel runs with no debugger).
    return builder.build(
        "jupyter_app",
        hooksconfig,
        onefile=onefile,
        metadata=["jupyter_client"],
        data_files=["debugpy"],
        submodules=["xmlrpc.server"],
    )


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def jupyter_app(builder, request):
    return build(builder, HOOKSCONFIG, onefile=request.param == "onefile")


def under_python(cwd, env=None):
    """The control: tests/apps/jupyter_app.py under plain python, in ``cwd``, with ``env`` added."""
    return contain.run(
        [sys.executable, os.path.join(bundles.APPS, "jupyter_app.py")],
        timeout=240,
        max_procs=64,
        env=dict(os.environ, **(env or {})),
        cwd=cwd,
        unprivileged=False,
        watch=True,
    )


def the_kernel_was_this_program(found):
    # Started as tools start a module, with this program (the bundle, or python) as the interpreter.
    return found["kernel_command"][:3] == [found["executable"], "-m", "ipykernel_launcher"]


def test_a_kernel_runs_a_cell(jupyter_app, run, bundle_root):
    result = run(jupyter_app, timeout=240, max_procs=64)
    assert result.returncode == 0 and not result.timed_out and not result.bombed, result
    found = bundles.only_result(result)
    assert found["status"] == "ok" and found["outputs"] == ["2"], result
    assert found["ip"] == "127.0.0.1"
    assert the_kernel_was_this_program(found), found
    assert found["debugger"] is True, found  # debugpy works in the bundle's kernel
    assert "Traceback" not in result.stderr and "oxmp: refusing" not in result.stderr, result
    plain = bundles.only_result(under_python(bundles.scratch_dir(bundle_root)))
    assert {key: found[key] for key in ("status", "outputs", "debugger")} == {
        key: plain[key] for key in ("status", "outputs", "debugger")
    }, plain


def test_an_installed_python3_spec_wins_unless_the_app_keeps_to_its_own(jupyter_app, run, bundle_root):
    cwd = bundles.scratch_dir(bundle_root)
    spec_dir = os.path.join(cwd, "jupyter", "kernels", "python3")
    os.makedirs(spec_dir)
    with open(os.path.join(spec_dir, "kernel.json"), "w") as spec:
        json.dump(FOREIGN_SPEC, spec)
    contain.make_accessible(cwd)
    installed = {"JUPYTER_PATH": os.path.join(cwd, "jupyter")}
    # KernelManager(kernel_name="python3") starts the installed spec's interpreter, not this program: as under python.
    for result in (run(jupyter_app, env=installed, cwd=cwd, timeout=240, max_procs=64), under_python(cwd, installed)):
        assert result.returncode == 1 and not result.timed_out and not result.bombed, result
        assert "FOREIGN-KERNEL-STARTED" in result.stderr and "Kernel died before replying" in result.stderr, result
    # KernelSpecManager(kernel_dirs=[]): the native kernel, this program, whatever is installed.
    own = dict(installed, JUPYTER_APP_OWN_KERNEL="1")
    for result in (run(jupyter_app, env=own, cwd=cwd, timeout=240, max_procs=64), under_python(cwd, own)):
        assert result.returncode == 0 and "FOREIGN-KERNEL-STARTED" not in result.stderr, result
        found = bundles.only_result(result)
        assert found["status"] == "ok" and found["outputs"] == ["2"] and the_kernel_was_this_program(found), found


def test_without_the_setting_the_kernel_is_the_app_again(builder, run):
    bundle = build(builder, None)
    result = run(bundle, timeout=240, max_procs=64)
    assert result.returncode == 1 and not result.timed_out and not result.bombed, result
    assert 'APP-STARTED-WITH ["-m", "ipykernel_launcher", "-f", ' in result.stderr, result
    assert "Kernel died before replying" in result.stderr, result
    assert "RESULT" not in result.stdout
