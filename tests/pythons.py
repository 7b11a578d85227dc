"""The machine's other CPythons, for the lane that builds and runs bundles with each (tests/test_other_pythons.py).

Found, never named by a path in the project (``find_pythons()``), in this order, one per minor version:

- ``OXMP_OTHER_PYTHONS``: executables separated by ``os.pathsep``, named explicitly;
- pyenv's versions: ``$(pyenv root)/versions/*/bin/python3.X`` (``PYENV_ROOT``, else ``pyenv root``, else pyenv's
  default root ``~/.pyenv``);
- ``python3.X`` on ``PATH``.

Each candidate is asked what it is; only CPython 3.8 and later counts (oxmp supports 3.8+), and not the minor version
that runs the tests (the rest of the suite covers it). A version of ``tests/newer_pythons.VERSIONS`` (3.14, 3.15) that
none of these has comes from a Debian sid chroot instead, where the machine can make one (that module).

Each Python gets a virtualenv in a cache folder outside the checkout (``OXMP_PYTHONS_CACHE``, default
``~/.cache/oxmp-other-pythons``), with PyInstaller, pyinstaller-hooks-contrib and joblib no newer than the test run's
(pip picks the newest of them that supports that Python), made once and kept while what it was made for stays the
same. Each session installs the wheel of the checkout into it (non-editable, built from a copy of the checkout), and
holds the cache meanwhile: another session with the same cache waits.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

from tests import cache_lock, wine

NAMES_ENV = "OXMP_OTHER_PYTHONS"
CACHE_ENV = "OXMP_PYTHONS_CACHE"
REQUIRE_ENV = "OXMP_REQUIRE_PYTHONS"  # "1": a machine without any other Python fails the lane instead of skipping it
DEFAULT_CACHE = os.path.join("~", ".cache", "oxmp-other-pythons")
OLDEST = (3, 8)
NEWEST = (3, 15)  # the newest minor version oxmp supports: the lane looks for every one from OLDEST to here
SUPPORTED = [(3, minor) for minor in range(OLDEST[1], NEWEST[1] + 1)]
SETUP_FORMAT = 1  # bump when the set-up changes in a way that needs fresh virtualenvs

EXECUTABLE = re.compile(r"python3\.\d+$")
ASK = "import platform, sys; print(platform.python_implementation(), sys.executable, *sys.version_info[:3])"


def other_versions():
    """The minor versions the lane looks for: every supported one but the test run's."""
    return [version for version in SUPPORTED if version != sys.version_info[:2]]


def version_name(version):
    return "%d.%d" % tuple(version[:2])


def candidates():
    """Executables that may be CPythons, in the order they are preferred."""
    found = [path for path in os.environ.get(NAMES_ENV, "").split(os.pathsep) if path]
    root = pyenv_root()
    if root:
        found += sorted(
            path
            for path in glob.glob(os.path.join(root, "versions", "*", "bin", "python3.*"))
            if EXECUTABLE.search(path)
        )
    for version in SUPPORTED:
        path = shutil.which("python" + version_name(version))
        if path:
            found.append(path)
    return found


def pyenv_root():
    if os.environ.get("PYENV_ROOT"):
        return os.environ["PYENV_ROOT"]
    if shutil.which("pyenv"):
        process = subprocess.run(
            ["pyenv", "root"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True
        )
        if process.returncode == 0 and process.stdout.strip():
            return process.stdout.strip()
    default = os.path.expanduser(os.path.join("~", ".pyenv"))  # pyenv's own default
    return default if os.path.isdir(default) else None


def describe(path):
    """(executable, (major, minor, micro)) of a CPython, or None for anything else (or a shim that does not run)."""
    try:
        process = subprocess.run(
            [path, "-c", ASK], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = process.stdout.split()
    if process.returncode != 0 or len(words) != 5 or words[0] != "CPython":
        return None
    return words[1], tuple(int(word) for word in words[2:])


def find_pythons():
    """{(major, minor): (executable, full version)} for every other supported CPython found, first found first."""
    wanted = set(other_versions())
    found = {}
    for path in candidates():
        described = describe(path)
        if described is None:
            continue
        executable, version = described
        if version[:2] in wanted and version[:2] not in found:
            found[version[:2]] = (executable, version)
    return found


def requirements():
    """What each virtualenv gets besides oxmp: no newer than the test run's, so that pip picks for an older Python the
    newest release that supports it."""
    return [name + bound for name, bound in bounded(["pyinstaller", "pyinstaller-hooks-contrib", "joblib"])]


def bounded(distributions):
    """(name, version bounds) of each of ``distributions``: no newer than the test run's (PyInstaller 6.0 or later)."""
    result = []
    for distribution in distributions:
        version = wine.installed_version(distribution)
        bounds = [
            bound
            for bound in (">=6.0" if distribution == "pyinstaller" else "", "<=" + version if version else "")
            if bound
        ]
        result.append((distribution, ",".join(bounds)))
    return result


class Cache:
    """The virtualenvs of the other Pythons, held by one session at a time."""

    def __init__(self, folder=None):
        self.folder = os.path.abspath(os.path.expanduser(folder or os.environ.get(CACHE_ENV) or DEFAULT_CACHE))
        self._lock = cache_lock.CacheLock(self.folder)
        self._wheel = None

    def lock(self):
        """Hold the cache for this session (again: nothing)."""
        self._lock.acquire()

    def unlock(self):
        self._lock.release()

    def oxmp_wheel(self, scratch):
        """The wheel of the checkout, built once per session from a copy (the build leaves nothing in the checkout)."""
        if self._wheel is None:
            self._wheel = wine.build_oxmp_wheel(scratch)
        return self._wheel

    def python_with_oxmp(self, executable, version, scratch):
        """The Python of ``executable``'s virtualenv (made if needed), with the checkout's oxmp installed."""
        venv = os.path.join(self.folder, "venv-" + version_name(version))
        python = (
            os.path.join(venv, "Scripts", "python.exe")
            if sys.platform == "win32"
            else os.path.join(venv, "bin", "python")
        )
        state = {"format": SETUP_FORMAT, "python": executable, "version": list(version), "requirements": requirements()}
        stamp = os.path.join(venv, "oxmp-lane.json")
        if wine._read_json(stamp) != state:
            shutil.rmtree(venv, ignore_errors=True)
            _check([executable, "-m", "venv", venv])
            _check([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + state["requirements"])
            wine._write_json(stamp, state)
        _check(install_wheel_command(python, self.oxmp_wheel(scratch)))
        return python


def install_wheel_command(python: str, wheel: str) -> list:
    """The command that installs ``wheel`` alone into ``python``'s environment, over whatever version it holds."""
    return [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-index",
        "--no-deps",
        "--force-reinstall",
        wheel,
    ]


def _check(argv):
    process = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if process.returncode != 0:
        raise RuntimeError("%s exited with %d:\n%s" % (" ".join(argv), process.returncode, process.stdout[-3000:]))
