"""CPython 3.14 and 3.15 for the lane of other Pythons (tests/test_other_pythons.py), from a Debian sid chroot.

Debian's development suite (sid) carries both; they need its C library, so they run in a chroot made with
debootstrap from the Debian archive the machine's apt already uses. That needs Linux, root, apt's sources, and
debootstrap (``.ci/run`` installs it). What is made once and kept, under ``OXMP_NEWER_PYTHONS_CACHE`` (default
``~/.cache/oxmp-newer-pythons``):

- ``sid/``: the chroot (minbase, with python3.X, python3.X-venv, libpython3.X for PyInstaller, and binutils for its
  objdump), remade when what it was made for changes (``sid.json``);
- in it, ``/opt/oxmp-lane/venv-3.X`` with PyInstaller, pyinstaller-hooks-contrib and joblib no newer than the test
  run's, and multiprocess and billiard where they install (the checkout's wheel is added each session), and
  ``stock-3.X`` with the same PyInstaller alone, for the stock baseline;
- ``bin/``: host scripts that run a program of the chroot in the caller's folder (``Chroot.launcher()``), so that a
  ``tests.bundles.Builder`` builds with a Python of the chroot as with any other.

A session mounts /proc, /dev, /dev/shm (multiprocessing's semaphores), a tmpfs on /tmp, and the session's bundle
folder at the same path as outside (``Chroot.session()``): a path under it means the same inside and out. The mounts
are undone when the session ends, also when a test fails or the run is interrupted, and ones a killed run left are
undone before the next one (and by ``python -m tests.newer_pythons unmount``). The cache is held by one session at a
time.

Every run of a program in the chroot is contained as outside (``run()``): oxmp's runner (own session, a keeper that
kills every descendant, a time limit, a process-count watchdog), the app's process entering the chroot and switching
to the run's unprivileged user before it starts, so that RLIMIT_NPROC binds.

``python -m tests.newer_pythons set-up`` makes or checks the chroot and its virtualenvs (``.ci/run`` calls it, and
fails when it cannot); ``unmount`` undoes leftover mounts.
"""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time

from tests import cache_lock, contain, pythons, wine

VERSIONS = [(3, 14), (3, 15)]
CACHE_ENV = "OXMP_NEWER_PYTHONS_CACHE"
REQUIRE_ENV = "OXMP_REQUIRE_NEWER_PYTHONS"  # "1": a machine that cannot make the chroot fails the lane
DEFAULT_CACHE = os.path.join("~", ".cache", "oxmp-newer-pythons")
SUITE = "sid"
CHROOT_FORMAT = 1  # bump when the chroot must be made anew
PACKAGES = ["binutils", "ca-certificates"] + [
    package % pythons.version_name(version)
    for version in VERSIONS
    for package in ("python%s", "python%s-venv", "libpython%s")
]
LANE = "/opt/oxmp-lane"  # the virtualenvs, inside the chroot
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Libraries the lane tests where they install for the version (each on its own: one that does not install is left
# out), no newer than the test run's.
OPTIONAL = ("multiprocess", "billiard")
# The host's pip settings that also hold inside (PIP_FIND_LINKS and PIP_CERT name host paths).
PIP_DROPPED = ("PIP_FIND_LINKS", "PIP_CERT")


def unavailable():
    """Why this machine cannot make or enter the chroot, or None."""
    if not sys.platform.startswith("linux"):
        return "not Linux"
    if os.geteuid() != 0:
        return "not root (debootstrap, chroot and mounts need it)"
    for tool in ("debootstrap", "chroot", "mount", "umount"):
        if not shutil.which(tool):
            return "no %s on PATH" % tool
    if not debian_mirror():
        return "no Debian archive in apt's sources"
    return None


def debian_mirror():
    """The Debian archive apt's sources name first (deb822 or one-line format), or None."""
    for path, word in (("/etc/apt/sources.list.d/debian.sources", "URIs:"), ("/etc/apt/sources.list", "deb")):
        try:
            with open(path, encoding="utf-8") as sources:
                for line in sources:
                    fields = line.split()
                    if len(fields) >= 2 and fields[0] == word and "security" not in fields[1]:
                        return fields[1]
        except OSError:
            continue
    return None


def mounts_under(root):
    """Mount points at or under ``root`` in the order they were mounted (a mount after the one it is on), from this
    process's mount table."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as table:
        for line in table:
            # The kernel writes a space as \040, a backslash as \134 (octal escapes).
            point = re.sub(r"\\([0-7]{3})", lambda escape: chr(int(escape.group(1), 8)), line.split()[4])
            if point == root or point.startswith(root + os.sep):
                found.append(point)
    return found


class Chroot:
    """The chroot of the cache folder ``folder``: made, mounted, and its programs run."""

    def __init__(self, folder=None):
        folder = folder or os.environ.get(CACHE_ENV) or DEFAULT_CACHE
        # The real path: mount points are compared with it, and a bind mount's source must not move.
        self.folder = os.path.realpath(os.path.expanduser(folder))
        self.root = os.path.join(self.folder, SUITE)
        self._lock = cache_lock.CacheLock(self.folder)
        self.make_seconds = None  # how long this session's make() took: 0 when the chroot was there

    # --- Making it ------------------------------------------------------------------------------------------------

    def state(self):
        return {"format": CHROOT_FORMAT, "suite": SUITE, "mirror": debian_mirror(), "packages": PACKAGES}

    def made(self):
        return wine._read_json(self.root + ".json") == self.state() and all(
            os.path.exists(self.inside_to_host("/usr/bin/python" + pythons.version_name(version)))
            for version in VERSIONS
        )

    def make(self):
        """debootstrap the chroot (again, if it was made for something else); returns the seconds it took, 0 if
        it was there."""
        if self.made():
            self.make_seconds = 0.0
            return 0.0
        started = time.monotonic()
        self.unmount_all()
        if os.path.exists(self.root):
            shutil.rmtree(self.root)  # nothing is mounted under it: unmount_all() checked
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.root + ".json")
        # debootstrap does not check the Release file's Valid-Until (a dated snapshot's has passed); nothing below
        # uses apt-get inside, which would.
        _check(
            ["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), SUITE, self.root, debian_mirror()]
        )
        wine._write_json(self.root + ".json", self.state())
        self.make_seconds = time.monotonic() - started
        return self.make_seconds

    def copy_host_settings(self):
        """What pip and name lookups need inside: the host's pip configuration, CA bundle and resolver."""
        for source, target in (
            (os.path.expanduser("~/.config/pip/pip.conf"), "/root/.config/pip/pip.conf"),
            ("/etc/pip.conf", "/etc/pip.conf"),
            ("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt"),
            ("/etc/resolv.conf", "/etc/resolv.conf"),
        ):
            if os.path.isfile(source):
                host = self.inside_to_host(target)
                os.makedirs(os.path.dirname(host), exist_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    os.remove(host)  # a dangling link (resolv.conf) would be written through
                shutil.copyfile(source, host)

    # --- Mounts ---------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def mounted(self, shared=()):
        """/proc, /dev, /dev/shm, a tmpfs on /tmp, and each folder of ``shared`` at its own path inside; all undone
        on leaving, whatever happened meanwhile."""
        self.unmount_all()  # a killed run's
        made_dirs = []
        try:
            for source, point in (("/proc", "/proc"), ("/dev", "/dev"), ("/dev/shm", "/dev/shm")):
                os.makedirs(self.inside_to_host(point), exist_ok=True)
                _check(["mount", "--bind", source, self.inside_to_host(point)])
            _check(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", self.inside_to_host("/tmp")])
            for folder in shared:
                folder = os.path.realpath(folder)
                point = self.inside_to_host(folder)
                made_dirs += _makedirs(point)
                _check(["mount", "--bind", folder, point])
            yield self
        finally:
            self.unmount_all()
            for path in reversed(made_dirs):  # empty once unmounted; under /tmp they went with the tmpfs
                with contextlib.suppress(OSError):
                    os.rmdir(path)

    def unmount_all(self):
        """Undo every mount under the chroot, deepest first; raise if one stays."""
        for point in reversed(mounts_under(self.root)):
            if subprocess.run(["umount", point], stderr=subprocess.DEVNULL).returncode != 0:
                # Busy (a process still inside): detach it now; the kernel frees it when the last one leaves.
                subprocess.run(["umount", "--lazy", point], stderr=subprocess.DEVNULL)
        left = mounts_under(self.root)
        if left:
            raise RuntimeError("could not unmount %s" % ", ".join(left))

    @contextlib.contextmanager
    def session(self, shared=()):
        """Hold the cache, make the chroot if needed, and mount it (``mounted()``) until the session ends."""
        self._lock.acquire()
        try:
            self.make()
            self.copy_host_settings()
            with self.mounted(shared):
                yield self
        finally:
            self._lock.release()

    # --- Paths and programs ---------------------------------------------------------------------------------------

    def inside_to_host(self, path):
        return os.path.join(self.root, path.lstrip(os.sep))

    def environment(self, **extra):
        """A small clean environment for programs of the chroot: the host's proxy and pip settings that hold there."""
        env = {"PATH": PATH, "HOME": "/root", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp"}
        env.update(
            (key, value)
            for key, value in os.environ.items()
            if (key.startswith("PIP_") and key not in PIP_DROPPED) or key.lower().endswith("_proxy")
        )
        env.update(extra)
        return env

    def launcher(self, program):
        """A host script that runs ``program`` (a path inside) in the chroot, as root, in the caller's folder (one
        that exists inside too: under a shared folder), with ``environment()``."""
        folder = os.path.join(self.folder, "bin")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, program.strip(os.sep).replace(os.sep, "_"))
        env = " ".join(_sh_quote("%s=%s" % item) for item in sorted(self.environment().items()))
        script = (
            "#!/bin/sh\n# %s inside the chroot %s (tests/newer_pythons.py)\n"
            'exec env -i %s %s %s /bin/sh -c \'cd "$1" && shift && exec "$@"\' sh "$(pwd -P)" %s "$@"\n'
            % (program, self.root, env, _sh_quote(shutil.which("chroot")), _sh_quote(self.root), _sh_quote(program))
        )
        if not os.path.isfile(path) or open(path).read() != script:
            with open(path, "w") as file:
                file.write(script)
            os.chmod(path, 0o755)
        return path

    def describe(self, version):
        """(path inside, (major, minor, micro)) of the chroot's python3.X, or None."""
        program = "/usr/bin/python" + pythons.version_name(version)
        if not os.path.exists(self.inside_to_host(program)):
            return None
        process = subprocess.run(
            [self.launcher(program), "-c", pythons.ASK],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            universal_newlines=True,
            timeout=60,
            cwd="/",
        )
        words = process.stdout.split()
        if process.returncode != 0 or len(words) != 5 or words[:2] != ["CPython", program]:
            return None
        return program, tuple(int(word) for word in words[2:])


class Cache(pythons.Cache):
    """The chroot's virtualenvs: ``pythons.Cache`` with its folder inside the chroot, run through launchers, and a
    stock virtualenv (PyInstaller alone) beside each."""

    def __init__(self, chroot):
        super().__init__(chroot.inside_to_host(LANE))
        self.chroot = chroot

    def lock(self):
        pass  # the chroot's session holds the whole cache

    def venv(self, kind, version, executable, requirements, optional=()):
        """The Python (path inside) of the virtualenv ``kind-3.X``, made if what it was made for changed."""
        venv = "%s/%s-%s" % (LANE, kind, pythons.version_name(version))
        python = venv + "/bin/python"
        run = self.chroot.launcher(python)
        state = {
            "format": pythons.SETUP_FORMAT,
            "python": executable,
            "version": list(version),
            "requirements": requirements,
            "optional": list(optional),
        }
        stamp = self.chroot.inside_to_host(venv + "/oxmp-lane.json")
        if wine._read_json(stamp) != state:
            shutil.rmtree(self.chroot.inside_to_host(venv), ignore_errors=True)
            _check([self.chroot.launcher(executable), "-m", "venv", venv], cwd="/")
            _check([run, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + requirements, cwd="/")
            for requirement in optional:
                subprocess.run(
                    [run, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
                    cwd="/",
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            wine._write_json(stamp, state)
        return python

    def set_up(self, executable, version):
        """Both virtualenvs of a version, without oxmp; returns (python, stock python), paths inside."""
        requirements = pythons.requirements()
        optional = [name + bound for name, bound in pythons.bounded(OPTIONAL)]
        return (
            self.venv("venv", version, executable, requirements, optional),
            self.venv("stock", version, executable, [r for r in requirements if r.startswith("pyinstaller")]),
        )

    def python_with_oxmp(self, executable, version, scratch):
        """The virtualenv's Python (path inside), the checkout's wheel installed (``scratch``: a shared folder)."""
        python, _ = self.set_up(executable, version)
        _check(pythons.install_wheel_command(self.chroot.launcher(python), self.oxmp_wheel(scratch)), cwd="/")
        return python


def run(chroot, argv, unprivileged=True, timeout=60, max_procs=48, env=None, cwd=None, **options):
    """``tests.contain.run()`` for a program of the chroot: ``argv`` and ``cwd`` (a shared folder) as seen inside;
    ``env`` the whole environment."""
    user = contain.UnprivilegedUser() if unprivileged and contain.drops_privileges() else None
    env = chroot.environment() if env is None else env
    return ChrootRunner(chroot.root, cwd, user=user, **options).run(argv, timeout, max_procs, env, cwd)


def run_bundle(
    chroot, bundle_or_argv, *args, env=None, cwd=None, timeout=60, max_procs=48, root=None, linger=1.0, **options
):
    """``tests.bundles.run()`` in the chroot: a scratch folder under ``root`` (a shared folder) and the same small
    clean environment, with the chroot's PATH."""
    from tests import bundles

    argv = [bundle_or_argv.exe] if isinstance(bundle_or_argv, bundles.Bundle) else list(bundle_or_argv)
    cwd = cwd or bundles.scratch_dir(root)
    clean_env = {"PATH": PATH, "HOME": cwd, "LC_ALL": "C.UTF-8", "TMPDIR": cwd}
    clean_env.update(env or {})
    return run(
        chroot,
        argv + list(args),
        timeout=timeout,
        max_procs=max_procs,
        env=clean_env,
        cwd=cwd,
        linger=linger,
        **options,
    )


class ChrootRunner(contain.Runner):
    """The suite's runner, whose app's process enters the chroot before its process cap and its exec, then switches
    to the unprivileged user (``tests/keeper_with_setup.py``'s ``set_up_app()``)."""

    def __init__(self, root, cwd, **options):
        super().__init__(**options)
        self.root, self.cwd = root, cwd

    def setup_arguments(self):
        user_ids = None if self.user is None else [self.user.uid, self.user.gid]
        return [user_ids, self.stderr_closed, self.root, self.cwd]


@contextlib.contextmanager
def terminated_as_interrupted():
    """SIGTERM raises KeyboardInterrupt meanwhile (in the main thread), as SIGINT does: a test run ended so still
    leaves through the ``finally`` clauses that undo the mounts. (SIGKILL does not: the next session, or ``python -m
    tests.newer_pythons unmount``, undoes what it left.)"""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _makedirs(path):
    """os.makedirs(), returning the folders it made, outermost first."""
    made = []
    while not os.path.isdir(path):
        made.insert(0, path)
        path = os.path.dirname(path)
    for folder in made:
        os.mkdir(folder)
    return made


def _sh_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def _check(argv, cwd=None):
    process = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, cwd=cwd)
    if process.returncode != 0:
        raise RuntimeError("%s exited with %d:\n%s" % (" ".join(argv), process.returncode, process.stdout[-3000:]))
    return process.stdout


def main(argv=None):
    """``set-up``: make (or check) the chroot and its virtualenvs, and report the times; ``unmount``: undo leftover
    mounts. Exits non-zero when the machine cannot."""
    command = (argv if argv is not None else sys.argv[1:]) or ["set-up"]
    chroot = Chroot()
    if command == ["unmount"]:
        chroot._lock.acquire()
        try:
            chroot.unmount_all()
        finally:
            chroot._lock.release()
        return 0
    if command != ["set-up"]:
        print("usage: python -m tests.newer_pythons [set-up | unmount]", file=sys.stderr)
        return 2
    problem = unavailable()
    if problem:
        print("newer Pythons: cannot make the chroot: %s" % problem, file=sys.stderr)
        return 1
    started = time.monotonic()
    with chroot.session() as entered:
        cache = Cache(entered)
        for version in VERSIONS:
            described = entered.describe(version)
            if described is None:
                print("newer Pythons: no python%s in the chroot" % pythons.version_name(version), file=sys.stderr)
                return 1
            cache.set_up(*described)
            print("newer Pythons: CPython %s ready" % ".".join(map(str, described[1])))
    print(
        "newer Pythons: chroot %s in %.0f s (debootstrap %.0f s)"
        % (chroot.root, time.monotonic() - started, chroot.make_seconds)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
