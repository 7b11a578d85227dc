"""Build real PyInstaller bundles once per test run, and run them contained.

Every distinct bundle (app, settings as validated, onedir/onefile, way in) is built once per session by
``Builder.build()``; the tests share them. Every run goes through ``tests/contain.py`` (``oxmp_hooks.tools.contain``,
as an unprivileged user when root): own session, a process cap that binds even root, a time limit, and a kill of the
whole process group.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from _oxmp_runtime import settings
from oxmp_hooks import config
from tests import contain

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The checkout's two hook folders, as get_hook_dirs() gives them once installed: build hooks, and runtime hooks.
HOOK_DIRS = [os.path.join(REPO, "oxmp_hooks", "hooks"), os.path.join(REPO, "runtime_hooks")]
APPS = os.path.join(REPO, "tests", "apps")
EXAMPLES = os.path.join(REPO, "examples")
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
# Modules of tests/apps that every app may import, copied beside each (tests/apps/as_parent.py: the genuine parent of
# the hardening tests, imported on POSIX only; the Windows lane copies none).
SUPPORT_MODULES = ("as_parent",)

# The start methods this platform offers, and what `auto` means here: what `python app.py` uses.
START_METHODS = list(settings.platform_start_methods(sys.platform))
# Those of them that start the bundle's executable again (every one but fork): workers and helpers that dispatch.
NEW_PROCESS_START_METHODS = [method for method in START_METHODS if method != "fork"]
AUTO_START_METHOD = settings.python_start_method(sys.platform, sys.version_info)


def interpreter_start_method():
    """What ``multiprocessing.get_start_method()`` gives under plain ``python`` (this one), asked of it: the default a
    bundle without oxmp's start method must keep."""
    if not _interpreter_start_method:
        _interpreter_start_method.append(
            subprocess.check_output(
                [sys.executable, "-c", "import multiprocessing; print(multiprocessing.get_start_method())"],
                universal_newlines=True,
            ).strip()
        )
    return _interpreter_start_method[0]


_interpreter_start_method = []

# How oxmp gets into a build:
ENTRY_POINT = "entry point"  # oxmp installed in the building Python; found through `pyinstaller40`
HOOKS_DIR_OPTION = "--additional-hooks-dir"  # oxmp not installed; the checkout's hook folders named on the CLI
SPEC_HOOKSPATH = "spec hookspath"  # oxmp not installed; the checkout's hook folders named in the .spec file
BUILD_HOOKS_ONLY = "build hooks only"  # a user's mistake: only oxmp_hooks/hooks in the spec's hookspath
RUNTIME_HOOKS_ONLY = "runtime hooks only"  # the other mistake: only runtime_hooks in the spec's hookspath
STOCK = "stock"  # stock PyInstaller, no oxmp at all

SPEC_TEMPLATE = """\
a = Analysis({scripts!r}, hookspath={hookspath!r}, hooksconfig={hooksconfig!r}, excludes={excludes!r},
             runtime_hooks={runtime_hooks!r}{datas})
pyz = PYZ(a.pure)
"""
ONEDIR_TEMPLATE = """\
exe = EXE(pyz, a.scripts, [], exclude_binaries=True, name={name!r}, console=True)
coll = COLLECT(exe, a.binaries, a.datas, name={name!r})
"""
ONEFILE_TEMPLATE = """\
exe = EXE(pyz, a.scripts, a.binaries, a.datas, [], name={name!r}, console=True)
"""


class BuildFailed(Exception):
    def __init__(self, returncode, log):
        super().__init__("PyInstaller exited with %d; the end of its log:\n%s" % (returncode, log[-3000:]))
        self.returncode = returncode
        self.log = log


class Bundle:
    def __init__(self, name, exe, log, onefile, build_seconds=None):
        self.name = name
        self.exe = exe
        self.log = log
        self.onefile = onefile
        self.build_seconds = build_seconds  # wall time of the PyInstaller process alone


class BuildCache:
    """Each distinct bundle built once per session: what a build returned, or the BuildFailed it raised."""

    def __init__(self):
        self._built = {}

    def _cached(self, key, build):
        if key not in self._built:
            try:
                self._built[key] = build()
            except BuildFailed as failure:
                self._built[key] = failure
        result = self._built[key]
        if isinstance(result, BuildFailed):
            raise result
        return result

    def _copy_of_spec(self, spec):
        """(name, work folder, spec file): a copy of the spec's folder, so that a build writes nothing beside it."""
        name = os.path.splitext(os.path.basename(spec))[0]
        workdir = os.path.join(self.root, "%s-spec-%d" % (name, len(self._built)))
        source = os.path.join(workdir, "source")
        shutil.copytree(
            os.path.dirname(os.path.abspath(spec)),
            source,
            ignore=shutil.ignore_patterns("__pycache__", "build", "dist"),
        )
        return name, workdir, os.path.join(source, os.path.basename(spec))


class Builder(BuildCache):
    """Builds bundles under ``root`` with the Python that runs the tests (oxmp installed) or a stock one.

    ``python``: another Python with PyInstaller and oxmp installed, to build with instead of the one that runs the tests
    (for the ways in through the entry point, and spec files).

    ``share_analysis``: build the onedir and onefile layouts of a bundle (``build()``
    without a ``name``) in one work folder, so that the second layout reuses the first's Analysis, as PyInstaller does
    when a spec is built again.
    """

    def __init__(self, root, stock_python=None, apps_dir=APPS, share_analysis=False, python=None):
        super().__init__()
        self.root = root
        self.python = python or sys.executable
        self.stock_python = stock_python  # a callable returning the path of a Python with PyInstaller but no oxmp
        self.apps_dir = apps_dir  # where build(app) finds <app>.py
        self.share_analysis = share_analysis
        self._families = {}  # with share_analysis: (name, hooksconfig, logs) of a bundle's work folder, by its key

    def build(
        self,
        app,
        hooksconfig=None,
        onefile=False,
        way=ENTRY_POINT,
        name=None,
        cli=False,
        excludes=(),
        runtime_hooks=(),
        modules=(),
        metadata=(),
        submodules=(),
        data_files=(),
    ):
        """Build ``<apps_dir>/<app>.py``, leaving the modules ``excludes`` out of its graph and running the custom
        runtime hooks ``<apps_dir>/<name>.py`` for the names in ``runtime_hooks`` first, with the modules
        ``<apps_dir>/<name>.py`` for the names in ``modules`` beside the script (where PyInstaller finds them), and the
        package metadata of the distributions ``metadata`` (entry points), every submodule of the packages
        ``submodules`` (``collect_submodules``, for modules a library imports by name) and the files of the packages
        ``data_files`` (``collect_data_files(include_py_files=True)``, for what a library reads as files); returns a
        Bundle, or raises BuildFailed (also cached)."""
        family = (
            app,
            settings_key(hooksconfig),
            way,
            cli,
            tuple(excludes),
            tuple(runtime_hooks),
            tuple(modules),
            tuple(metadata),
            tuple(submodules),
            tuple(data_files),
        )
        return self._cached(
            family + (onefile,),
            lambda: self._build(
                app,
                hooksconfig,
                onefile,
                way,
                name,
                cli,
                list(excludes),
                list(runtime_hooks),
                family,
                modules,
                list(metadata),
                list(submodules),
                list(data_files),
            ),
        )

    def build_spec(self, spec):
        """Build an existing spec file as it is, with the Builder's Python; returns a Bundle, or raises
        BuildFailed (also cached).

        The spec's folder is copied first, so that the build writes nothing beside it. The program must be named like
        the spec file: ``dist/NAME/NAME`` (onedir) or ``dist/NAME`` (onefile).
        """
        return self._cached(("spec file", os.path.abspath(spec)), lambda: self._build_spec(spec))

    def _build(
        self,
        app,
        hooksconfig,
        onefile,
        way,
        name,
        cli,
        excludes,
        runtime_hooks,
        family,
        modules=(),
        metadata=(),
        submodules=(),
        data_files=(),
    ):
        logs = []
        if self.share_analysis and name is None:
            # The other layout's work folder, if it was built: the same spec but for its last lines, and the same
            # hooksconfig (one that validates the same may be written otherwise), so that its Analysis is up to date.
            name, hooksconfig, logs = self._families.setdefault(
                family, ("%s-%d" % (app, len(self._built)), hooksconfig, [])
            )
        name = name or "%s-%d" % (app, len(self._built))
        workdir = os.path.join(self.root, name)
        distpath = os.path.join(workdir, "dist-onefile" if onefile and self.share_analysis else "dist")
        script = os.path.join(workdir, app + ".py")
        if not os.path.isfile(script):  # a new copy would be newer than the Analysis
            os.makedirs(workdir)
            for module in modules:
                shutil.copy(os.path.join(self.apps_dir, module + ".py"), workdir)
            for module in SUPPORT_MODULES:
                shutil.copy(os.path.join(APPS, module + ".py"), workdir)
            shutil.copy(os.path.join(self.apps_dir, app + ".py"), script)
        options = []
        runtime_hooks = [os.path.join(self.apps_dir, hook + ".py") for hook in runtime_hooks]
        if cli:
            # A plain command line, as a user types it: no spec file, so no hooksconfig.
            assert hooksconfig is None and not runtime_hooks and not metadata and not submodules and not data_files
            options += ["--specpath", workdir, "--name", name, "--onefile" if onefile else "--onedir"]
            if way == HOOKS_DIR_OPTION:
                for folder in HOOK_DIRS:
                    options += ["--additional-hooks-dir", folder]
            for module in excludes:
                options += ["--exclude-module", module]
            target = script
        else:
            hookspath = {
                SPEC_HOOKSPATH: HOOK_DIRS,
                BUILD_HOOKS_ONLY: HOOK_DIRS[:1],
                RUNTIME_HOOKS_ONLY: HOOK_DIRS[1:],
            }.get(way, [])
            spec = SPEC_TEMPLATE.format(
                scripts=[script],
                hookspath=hookspath,
                hooksconfig=hooksconfig or {},
                excludes=excludes,
                runtime_hooks=runtime_hooks,
                datas=collected(metadata, submodules, data_files),
            )
            spec += (ONEFILE_TEMPLATE if onefile else ONEDIR_TEMPLATE).format(name=name)
            target = os.path.join(workdir, name + ".spec")
            with open(target, "w") as spec_file:
                spec_file.write(spec)
        python = self.python if way == ENTRY_POINT else self.stock_python()
        log, build_seconds = _pyinstaller(python, workdir, options + [target], distpath)
        logs.append(log)
        exe = os.path.join(distpath, name + EXE_SUFFIX) if onefile else os.path.join(distpath, name, name + EXE_SUFFIX)
        # The log of every build in the work folder: a layout that reused the other's Analysis logged none.
        return Bundle(name, exe, "".join(logs), onefile, build_seconds)

    def _build_spec(self, spec):
        name, workdir, spec = self._copy_of_spec(spec)
        log, build_seconds = _pyinstaller(self.python, workdir, [spec])
        onedir_exe = os.path.join(workdir, "dist", name, name + EXE_SUFFIX)
        onefile = not os.path.isfile(onedir_exe)
        exe = os.path.join(workdir, "dist", name + EXE_SUFFIX) if onefile else onedir_exe
        return Bundle(name, exe, log, onefile, build_seconds)


def metadata_datas(distributions):
    # Analysis' datas argument for the metadata of ``distributions``, as a spec file writes it.
    if not distributions:
        return ""
    return (
        ",\n             datas=[item for name in %r for item in __import__('PyInstaller.utils.hooks', "
        "fromlist=['copy_metadata']).copy_metadata(name)]" % list(distributions)
    )


def collected(metadata, submodules, data_files):
    # Analysis' arguments for what libraries find by name, as a spec file writes them: the metadata of the
    # distributions ``metadata``, every submodule of the packages ``submodules`` (hidden imports), and the files of the
    # packages ``data_files``, .py files included.
    hooks = "__import__('PyInstaller.utils.hooks', fromlist=['collect_submodules'])."
    if not submodules and not data_files:
        return metadata_datas(metadata)
    return (
        ",\n             datas=[item for name in %r for item in %scopy_metadata(name)]"
        "\n                   + [item for name in %r for item in %scollect_data_files(name, include_py_files=True)]"
        ",\n             hiddenimports=[module for name in %r for module in %scollect_submodules(name)]"
        % (list(metadata), hooks, list(data_files), hooks, list(submodules), hooks)
    )


def settings_key(hooksconfig):
    """What a build's ``hooksconfig`` means, for the build cache: oxmp's section as the build hook validates it (so
    that ``None``, ``{}`` and ``{"multiprocessing": {"sys_frozen": True}}`` share one bundle), and any other section as
    written. Invalid settings keep a key of their own, as written: their build fails."""
    others = dict(hooksconfig or {})
    section = others.pop(config.SECTION, None)
    values, errors = config.validate(section, sys.platform)  # the platform a Builder builds for
    meaning = {"invalid": section} if errors else {"settings": values}
    return json.dumps([meaning, others], sort_keys=True, default=repr)


def _pyinstaller(python, workdir, arguments, distpath=None):
    """Run PyInstaller in ``workdir`` (build/ and, unless ``distpath`` says otherwise, dist/ go there); returns its log
    and wall time, or raises BuildFailed. Leaves ``workdir`` readable by the unprivileged user the bundles run as."""
    options = [
        "--noconfirm",
        "--log-level",
        "INFO",
        "--distpath",
        distpath or os.path.join(workdir, "dist"),
        "--workpath",
        os.path.join(workdir, "build"),
    ]
    start = time.perf_counter()
    process = subprocess.run(
        [python, "-m", "PyInstaller"] + options + arguments,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise BuildFailed(process.returncode, process.stdout)
    contain.make_accessible(workdir)
    return process.stdout, seconds


def scratch_dir(root):
    """A fresh working directory that the contained (unprivileged) app can write to."""
    path = tempfile.mkdtemp(dir=root, prefix="run-")
    os.chmod(path, 0o777)
    return path


# A shell of the bundle's own user that stays its parent, as a user's interactive shell does: with it, the bundle's
# ancestors are readable by the bundle through /proc, as when a user starts it from a terminal (`run(wrapper=...)`).
SHELL_PARENT = ("/bin/sh", "-c", '"$@"; exit $?', "sh")
# The wrapper for runs that name none: `pytest --shell-parent` makes it SHELL_PARENT for the whole suite (conftest.py).
DEFAULT_WRAPPER = []


def run(
    bundle_or_argv,
    *args,
    env=None,
    cwd=None,
    timeout=60,
    max_procs=48,
    root=None,
    linger=1.0,
    wrapper=None,
    **contain_options,
):
    """Run a bundle contained, in a scratch directory; ``env`` adds to a small clean environment. ``wrapper``: a
    command that starts the bundle (its argv follows), such as a shell that rearranges descriptors, contained with it
    (default: ``DEFAULT_WRAPPER``).

    ``contain_options`` go to ``contain.run()`` (``unprivileged``, ``watch``)."""
    wrapper = DEFAULT_WRAPPER if wrapper is None else wrapper
    argv = list(wrapper) + ([bundle_or_argv.exe] if isinstance(bundle_or_argv, Bundle) else list(bundle_or_argv))
    cwd = cwd or scratch_dir(root or tempfile.gettempdir())
    clean_env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": cwd, "LC_ALL": "C.UTF-8"}
    if contain.drops_privileges():
        # The unprivileged user may not write to the caller's temporary folder. Elsewhere (macOS) keep the default:
        # a deeper one would make multiprocessing's socket paths longer than AF_UNIX allows.
        clean_env["TMPDIR"] = cwd
    if sys.platform == "win32":
        clean_env.update((key, os.environ[key]) for key in ("SYSTEMROOT", "TEMP", "TMP") if key in os.environ)
    clean_env.update(env or {})
    return contain.run(
        argv + list(args),
        timeout=timeout,
        max_procs=max_procs,
        env=clean_env,
        cwd=cwd,
        linger=linger,
        **contain_options,
    )


def results(run_result):
    """The ``RESULT {json}`` lines an app printed, as a list of dicts."""
    return [json.loads(line[len("RESULT ") :]) for line in run_result.stdout.splitlines() if line.startswith("RESULT ")]


def only_result(run_result):
    found = results(run_result)
    assert len(found) == 1, run_result
    return found[0]


def make_stock_python(root):
    """A virtualenv with the same PyInstaller as the test run's, and no oxmp: for the ways in that name the checkout's
    hook folder, and for comparisons with stock PyInstaller."""
    import PyInstaller

    venv = os.path.join(root, "stock-venv")
    subprocess.check_call([sys.executable, "-m", "venv", venv])
    python = os.path.join(venv, "Scripts" if sys.platform == "win32" else "bin", "python" + EXE_SUFFIX)
    requirement = "pyinstaller==" + PyInstaller.__version__
    contrib = _installed_version("pyinstaller-hooks-contrib")
    requirements = [requirement] + (["pyinstaller-hooks-contrib==" + contrib] if contrib else [])
    subprocess.check_call([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + requirements)
    return python


def _installed_version(distribution):
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
