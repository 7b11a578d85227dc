"""The wheel users install: the source tree's two hook folders as they are, nothing else."""

import glob
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests import bundles


# Building the wheel takes seconds and may fetch the build backend: it goes with the slow tests.
slow = pytest.mark.bundle


@pytest.fixture(scope="module")
def wheel(bundle_root):
    # From a copy, so that the build leaves nothing in the checkout.
    source = os.path.join(bundles.scratch_dir(bundle_root), "source")
    shutil.copytree(bundles.REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".tox", ".venv*", "build", "dist", "*.egg-info", "__pycache__"))
    outdir = bundles.scratch_dir(bundle_root)
    subprocess.check_call([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", outdir,
                           source])
    (name,) = glob.glob(os.path.join(outdir, "oxmp-*.whl"))
    return zipfile.ZipFile(name)


@pytest.fixture(scope="module")
def wheel_names(wheel):
    return wheel.namelist()


def source_files(*folders):
    """The files of the checkout's folders, as paths in a wheel (no caches)."""
    names = set()
    for folder in folders:
        for root, dirs, files in os.walk(os.path.join(bundles.REPO, folder)):
            dirs[:] = [name for name in dirs if name != "__pycache__"]
            for name in files:
                names.add(os.path.relpath(os.path.join(root, name), bundles.REPO).replace(os.sep, "/"))
    return names


@slow
def test_wheel_holds_the_source_tree_as_it_is(wheel_names):
    # No remap: what a checkout names (hook folders given by path) is what an installed oxmp has.
    package = {name for name in wheel_names if not name.split("/")[0].endswith(".dist-info")}
    assert package == source_files("oxmp_hooks", "runtime_hooks")
    for name in ("oxmp_hooks/hooks/hook-multiprocessing.py", "runtime_hooks/rthooks.dat",
                 "runtime_hooks/rthooks/pyi_rth_oxmp_multiprocessing.py",
                 "runtime_hooks/pre_find_module_path/hook-_oxmp_runtime.py", "runtime_hooks/_oxmp_runtime/boot.py"):
        assert name in package


@slow
def test_wheel_holds_the_tools_apart_and_no_test_harness(wheel, wheel_names):
    for name in ("oxmp_hooks/__main__.py", "oxmp_hooks/tools/doctor.py", "oxmp_hooks/tools/bundle_info.py",
                 "oxmp_hooks/tools/contain.py", "runtime_hooks/_oxmp_runtime/doctor.py"):
        assert name in wheel_names
    # Switching users and opening folders to them is the test suite's business (tests/contain.py).
    for name in wheel_names:
        if name.endswith(".py"):
            text = wheel.read(name).decode()
            assert "setuid" not in text and "make_accessible" not in text, name


@slow
def test_wheel_adds_no_other_top_level_name(wheel_names):
    top_level = {name.split("/")[0] for name in wheel_names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"oxmp_hooks", "runtime_hooks"}


@slow
def test_wheel_declares_the_pyinstaller40_entry_point(wheel, wheel_names):
    (entry_points,) = [name for name in wheel_names if name.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[pyinstaller40]\nhook-dirs = oxmp_hooks:get_hook_dirs" in text


def test_code_parses_as_python_3_8():
    # Only one Python runs here; the grammar of the oldest supported one is checked instead.
    import ast

    sources = glob.glob(os.path.join(bundles.REPO, "oxmp_hooks", "**", "*.py"), recursive=True)
    sources += glob.glob(os.path.join(bundles.REPO, "runtime_hooks", "**", "*.py"), recursive=True)
    assert len(sources) > 10
    for source in sources:
        with open(source, encoding="utf-8") as text:
            ast.parse(text.read(), source, feature_version=(3, 8))
