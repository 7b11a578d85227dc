"""What a release ships: the sdist and the wheel built from it, as `python -m build` makes them.

The sdist is built from the checkout's tracked files by the build backend that pyproject.toml names (installed apart,
as pip installs it to build); the wheel is built by pip from the unpacked sdist, so the sdist holds what the wheel
needs. The wheel holds exactly the package folders' tracked files: the expected list comes from `git ls-files`, not from
a list written here. The metadata is parsed as an index reads it: README as the long description, in Markdown.
"""

import email.parser
import fnmatch
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

import oxmp_hooks
from tests import bundles

# Building takes seconds and may fetch the build backend, as `pip install .` does: it goes with the slow tests.
slow = pytest.mark.bundle

# The folders whose tracked files are the package, installed (the wheel) where they are in the checkout.
PACKAGE_FOLDERS = ("oxmp_hooks", "runtime_hooks")
# Names of tracked files in those folders that are not installed (fnmatch patterns): none so far.
NOT_INSTALLED = ()
# What the sdist has besides the package: how to build it, and what the index shows.
SDIST_BUILD_FILES = ("pyproject.toml", "README.md", "PKG-INFO")


def pyproject():
    try:
        import tomllib
    except ImportError:  # before Python 3.11: the parser pip carries
        from pip._vendor import tomli as tomllib
    with open(os.path.join(bundles.REPO, "pyproject.toml"), "rb") as text:
        return tomllib.load(text)


def tracked_files():
    """The checkout's tracked files that exist (a file deleted but not yet committed is not), '/'-separated."""
    if not os.path.isdir(os.path.join(bundles.REPO, ".git")) and not os.path.isfile(os.path.join(bundles.REPO, ".git")):
        pytest.skip("not a git checkout: the expected files come from git ls-files")
    listed = subprocess.check_output(["git", "-C", bundles.REPO, "ls-files", "-z"]).decode("utf-8").split("\0")
    return sorted(name for name in listed if name and os.path.isfile(os.path.join(bundles.REPO, name)))


def expected_wheel_files():
    # The source tree is the installed tree (no package-dir): the wheel holds the folders' tracked files as they are.
    return sorted(
        name
        for name in tracked_files()
        if name.split("/")[0] in PACKAGE_FOLDERS
        and not any(fnmatch.fnmatch(os.path.basename(name), pattern) for pattern in NOT_INSTALLED)
    )


def build_sdist(source, outdir, scratch):
    """Build the sdist of ``source`` with pyproject.toml's build backend, installed apart into ``scratch``."""
    system = pyproject()["build-system"]
    backend = os.path.join(scratch, "backend")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--target", backend] + system["requires"])
    module, _, attribute = system["build-backend"].partition(":")
    call = (
        "import importlib, sys; sys.path.insert(0, %r); backend = importlib.import_module(%r)%s; "
        "print(backend.build_sdist(%r))" % (backend, module, "." + attribute if attribute else "", outdir)
    )
    name = (
        subprocess.check_output([sys.executable, "-I", "-c", call], cwd=source, universal_newlines=True)
        .strip()
        .splitlines()[-1]
    )
    return os.path.join(outdir, name)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(sdist path, wheel path): the sdist from a copy of the tracked files (as a clean checkout of a tag has them),
    the wheel from the unpacked sdist."""
    scratch = str(tmp_path_factory.mktemp("packaging"))
    source = os.path.join(scratch, "source")
    for name in tracked_files():
        os.makedirs(os.path.dirname(os.path.join(source, name)), exist_ok=True)
        shutil.copy2(os.path.join(bundles.REPO, name), os.path.join(source, name))
    dist = os.path.join(scratch, "dist")
    sdist = build_sdist(source, dist, scratch)
    unpacked = os.path.join(scratch, "unpacked")
    with tarfile.open(sdist) as archive:
        # Python 3.12+ (and 3.8.17+) take a filter, and warn without one.
        archive.extractall(unpacked, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (top,) = os.listdir(unpacked)
    subprocess.check_call(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", dist, os.path.join(unpacked, top)]
    )
    (wheel,) = glob.glob(os.path.join(dist, "*.whl"))
    return sdist, wheel


@pytest.fixture(scope="module")
def wheel(built):
    with zipfile.ZipFile(built[1]) as archive:
        yield archive


def package_names(wheel):
    return sorted(name for name in wheel.namelist() if ".dist-info/" not in name)


def dist_info(wheel, name):
    (path,) = [path for path in wheel.namelist() if path.endswith(".dist-info/" + name)]
    return wheel.read(path).decode("utf-8")


def readme():
    with open(os.path.join(bundles.REPO, "README.md"), encoding="utf-8") as text:
        return text.read()


@slow
def test_wheel_holds_exactly_the_package_folders_tracked_files(wheel):
    names = package_names(wheel)
    assert names == expected_wheel_files()
    # What the list above leaves out by construction, said outright.
    for name in names:
        assert name.split("/")[0] not in ("tests", "benchmarks", "examples", "docs"), name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name


# Every file the wheel installs, by name: what users run. A new file is added here on purpose; a tool that only the
# test suite or the maintainers use belongs in tests/ or docs/ instead.
WHEEL_FILES = sorted(
    [
        "oxmp_hooks/%s" % name
        for name in (
            "__init__.py",
            "__main__.py",
            "baked.py",
            "build.py",
            "collect.py",
            "config.py",
            "deferred.py",
            "selfcheck.py",
            "hooks/_this_package.py",
            "hooks/hook-inspect.py",
            "hooks/hook-multiprocessing.py",
            "hooks/hook-pkgutil.py",
            "tools/__init__.py",
            "tools/bundle_info.py",
            "tools/cgroup.py",
            "tools/cli.py",
            "tools/contain.py",
            "tools/doctor.py",
            "tools/junit.py",
            "tools/keeper.py",
        )
    ]
    + [
        "runtime_hooks/%s" % name
        for name in (
            "rthooks.dat",
            "rthooks/pyi_rth_oxmp_deferred.py",
            "rthooks/pyi_rth_oxmp_multiprocessing.py",
            "pre_find_module_path/hook-_oxmp_runtime.py",
        )
    ]
    + [
        "runtime_hooks/_oxmp_runtime/%s.py" % name
        for name in (
            "__init__",
            "after_import",
            "boot",
            "commands",
            "cpython",
            "deferred",
            "descriptors",
            "doctor",
            "entry",
            "libraries",
            "messages",
            "pyinstaller",
            "settings",
        )
    ]
)


def test_the_wheels_files_are_the_listed_ones():
    # The checkout's side of it, fast: the package folders' tracked files are the list above.
    assert expected_wheel_files() == WHEEL_FILES


@slow
def test_wheel_holds_only_the_listed_files(wheel):
    assert package_names(wheel) == WHEEL_FILES


@slow
def test_wheel_holds_no_test_harness(wheel):
    # Switching users, opening folders to them, and a runner's test-only options are the test suite's business
    # (tests/contain.py): none of it ships.
    for name in package_names(wheel):
        if name.endswith(".py"):
            text = wheel.read(name).decode("utf-8")
            for word in ("setuid", "make_accessible", "stderr_closed", "UnprivilegedUser", "from tests"):
                assert word not in text, (name, word)


@slow
def test_wheel_declares_the_entry_points(wheel):
    text = dist_info(wheel, "entry_points.txt")
    assert "[pyinstaller40]\nhook-dirs = oxmp_hooks:get_hook_dirs" in text
    assert "[console_scripts]\noxmp-doctor = oxmp_hooks.tools.doctor:main" in text


@slow
def test_wheel_is_pure_python_for_every_platform(wheel, built):
    assert os.path.basename(built[1]) == "oxmp-%s-py3-none-any.whl" % oxmp_hooks.__version__
    assert "Root-Is-Purelib: true" in dist_info(wheel, "WHEEL")


def check_metadata(text):
    """The core metadata an index reads (the wheel's METADATA, the sdist's PKG-INFO)."""
    metadata = email.parser.Parser().parsestr(text)
    project = pyproject()["project"]
    assert metadata["Name"] == "oxmp"
    assert metadata["Version"] == oxmp_hooks.__version__  # the one place the version is written
    assert metadata["Summary"] == project["description"] and "\n" not in metadata["Summary"]
    assert metadata["Requires-Python"] == project["requires-python"]
    assert "pyinstaller>=6.0" in metadata.get_all("Requires-Dist")
    assert set(metadata.get_all("Classifier")) == set(project["classifiers"])
    # The project page renders the README: Markdown, and all of it.
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().strip() == readme().strip()
    return metadata


@slow
def test_wheel_metadata_renders_the_readme(wheel):
    check_metadata(dist_info(wheel, "METADATA"))


@slow
def test_sdist_holds_what_builds_the_wheel_and_the_same_metadata(built, wheel):
    sdist, _ = built
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
        (pkg_info,) = [
            member
            for member in archive.getmembers()
            if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO")
        ]
        metadata = check_metadata(archive.extractfile(pkg_info).read().decode("utf-8"))
    assert os.path.basename(sdist) == "oxmp-%s.tar.gz" % metadata["Version"]
    for name in SDIST_BUILD_FILES:
        assert name in names
    # Every package file comes from the sdist's own copy of it (the wheel was built from the sdist alone).
    sources = set(name for name in tracked_files() if name.split("/")[0] in PACKAGE_FOLDERS)
    assert sources - set(names) == set(), "the sdist lacks package files"
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


# Prose may name versions: release notes, and sample output in the documentation.
VERSION_MAY_APPEAR_IN = ("CHANGELOG.md", "docs/")


def test_the_version_is_written_in_one_place():
    # oxmp_hooks/__init__.py: pyproject.toml reads it (dynamic), and so do the build (baked.py) and the doctor.
    # A second copy, in code, configuration or a test, would go stale at the next release.
    quoted = ['"%s"' % oxmp_hooks.__version__, "'%s'" % oxmp_hooks.__version__]
    found = []
    for name in tracked_files():
        if name.startswith(VERSION_MAY_APPEAR_IN):
            continue
        try:
            with open(os.path.join(bundles.REPO, name), encoding="utf-8") as text:
                content = text.read()
        except (UnicodeDecodeError, OSError):
            continue  # not text
        if any(version in content for version in quoted):
            found.append(name)
    assert found == ["oxmp_hooks/__init__.py"]


def test_the_source_tree_is_the_installed_tree():
    # No remap: a checkout's hook folders, named by path, are the installed ones (`get_hook_dirs()`), file for file.
    assert "package-dir" not in pyproject().get("tool", {}).get("setuptools", {})
    import oxmp_hooks

    assert [os.path.relpath(folder, bundles.REPO).replace(os.sep, "/") for folder in oxmp_hooks.get_hook_dirs()] == [
        "oxmp_hooks/hooks",
        "runtime_hooks",
    ]


def test_code_parses_as_python_3_8():
    # Only one Python runs here; the grammar of the oldest supported one is checked instead.
    import ast

    sources = glob.glob(os.path.join(bundles.REPO, "oxmp_hooks", "**", "*.py"), recursive=True)
    sources += glob.glob(os.path.join(bundles.REPO, "runtime_hooks", "**", "*.py"), recursive=True)
    assert len(sources) > 10
    for source in sources:
        with open(source, encoding="utf-8") as text:
            ast.parse(text.read(), source, feature_version=(3, 8))
