"""run_modules: a bundle started as `APP -m NAME ARGS` runs a listed module as `python -m NAME ARGS` would.

Pure parts first (classify(), the setting's validation and record), then real bundles, onedir and onefile: the
module runs with its arguments, as __main__, with its exit status and standard streams, started by hand or by the app
itself as tools start it; every other `-m`, and `-c`, stays the app's; the build fails for a module it cannot
collect. Each behaviour has its control: the same command line under python, or the same bundle without the setting.
"""

import json
import os
import subprocess
import sys

import pytest

from _oxmp_runtime import boot, commands, settings
from oxmp_hooks import config
from tests import bundles

EXE = "/opt/app/app"
PROBE = "run_module_probe"
LISTED = (PROBE, "pkg.tool")


# --- classify() -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, module, module_args",
    [
        (["-m", PROBE], PROBE, []),
        (["-m", PROBE, "-f", "/tmp/kernel.json"], PROBE, ["-f", "/tmp/kernel.json"]),
        # Everything after the name is the module's, as under python, even what looks like oxmp's business.
        (["-m", PROBE, "-c", "import os", "-m", "x"], PROBE, ["-c", "import os", "-m", "x"]),
        (["-m", PROBE, "--multiprocessing-fork", "pipe_handle=5"], PROBE, ["--multiprocessing-fork", "pipe_handle=5"]),
        (["-m", "pkg.tool", "spec"], "pkg.tool", ["spec"]),
        # The interpreter flags subprocess._args_from_interpreter_flags() puts first, as data.
        (["-B", "-s", "-I", "-X", "utf8", "-W", "ignore", "-Xdev", "-OO", "-m", PROBE, "a"], PROBE, ["a"]),
    ],
)
def test_a_listed_module(args, module, module_args):
    command = commands.classify([EXE] + args, "linux", run_modules=LISTED)
    assert (command.kind, command.module, list(command.args), command.descriptors) == (
        "module",
        module,
        module_args,
        (),
    )
    assert commands.module_named([EXE] + args) == module
    # The same on Windows: no descriptors are involved.
    assert commands.classify([EXE] + args, "win32", run_modules=LISTED).kind == "module"


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "json.tool"],  # not listed
        ["-m", "run_module_prob"],
        ["-m", "run_module_probe.x"],
        ["-m", "pkg"],
        ["-m", "PKG.tool"],
        ["-mrun_module_probe"],  # python reads it so; tools write two arguments, and only those are matched
        ["-m"],
        ["-B", "-m"],  # no name
        ["--verbose", "-m", PROBE],  # an app option before it: the app's command line
        ["run.py", "-m", PROBE],  # a script path first
        ["-c", "x", "-m", PROBE],  # -c's text first
        ["-X", "-m", PROBE],  # python takes `-m` as -X's option, and PROBE as a script
        ["-W", "-m", PROBE],
        ["-u", "-m", PROBE],  # not a flag multiprocessing or subprocess passes: the app's
        ["-c", "print('hello')"],  # never executed
        [],
    ],
)
def test_anything_else_is_the_apps(args):
    assert commands.classify([EXE] + args, "linux", run_modules=LISTED).kind == "app"


def test_nothing_is_run_without_the_setting():
    for args in (["-m", PROBE], ["-B", "-m", PROBE, "x"]):
        assert commands.classify([EXE] + args, "linux").kind == "app"
        assert commands.classify([EXE] + args, "linux", run_modules=()).kind == "app"


def test_lokys_worker_stays_lokys_strict_form():
    worker = "joblib.externals.loky.backend.popen_loky_posix"
    argv = [EXE, "-m", worker, "--process-name", "P", "--pipe", "7"]
    assert commands.classify(argv, "linux", run_modules=(worker,)).descriptors == (("--pipe", 7, commands.PIPE_READ),)
    assert commands.classify([EXE, "-m", worker, "--evil", "1"], "linux", run_modules=(worker,)).kind == "refused"


@pytest.mark.parametrize(
    "argv",
    [
        [EXE],
        [EXE, "-m"],
        [EXE, "-X"],
        [EXE, "-X", "-m"],
        [EXE, "-m", "-m"],
        [EXE, "-B", "-W"],
        [EXE, "\udcff", "-m", "x"],
    ],
)
def test_module_named_is_total(argv):
    assert commands.module_named(argv) in (None, "-m")
    commands.classify(argv, "linux", run_modules=("-m", "x"))


def test_the_runtime_reads_the_setting_only_for_a_module_command(monkeypatch):
    reads = []

    def baked():
        reads.append(1)
        return settings.Baked(dict(settings.DEFAULTS, run_modules=(PROBE,)))

    monkeypatch.setattr(boot, "baked", baked)
    assert boot.classify([EXE, "--config", "app.toml", "-c", "x"]).kind == "app"
    assert boot.classify([EXE, "--multiprocessing-fork", "pipe_handle=5"]).kind == "worker"
    assert reads == []
    assert boot.classify([EXE, "-m", "json.tool"]).kind == "app"
    assert boot.classify([EXE, "-B", "-m", PROBE, "x"]).module == PROBE
    assert len(reads) == 2


# --- The setting ------------------------------------------------------------------------------------------------------


def test_valid_run_modules():
    values, errors = config.validate({"run_modules": ["ipykernel_launcher", "dask", "a.b_c.d"]}, "linux")
    assert errors == [] and values["run_modules"] == ("ipykernel_launcher", "dask", "a.b_c.d")
    assert config.validate({"run_modules": []}, "linux") == (settings.DEFAULTS, [])
    assert settings.DEFAULTS["run_modules"] == ()
    assert "run_modules=ipykernel_launcher, dask" in config.describe(
        dict(settings.DEFAULTS, run_modules=("ipykernel_launcher", "dask")), "linux", (3, 11)
    )
    assert config.describe(settings.DEFAULTS, "linux", (3, 11)).endswith(", run_modules=none")


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("ipykernel_launcher", "is str"),  # one name is still a list
        ([1], "holds int (1)"),
        (["ipykernel launcher"], "not a module name"),
        (["a..b"], "not a module name"),
        ([""], "not a module name"),
        (["../x"], "not a module name"),
        (["a,b"], "not a module name"),
        (["-c"], "not a module name"),
        (["a\nb"], "not a module name"),
        (["x", "x"], "names 'x' twice"),
        (["loky.backend.popen_loky_posix"], "already runs"),
    ],
)
def test_invalid_run_modules(value, fragment):
    _, errors = config.validate({"run_modules": value}, "linux")
    assert len(errors) == 1 and fragment in errors[0] and '["run_modules"]' in errors[0], errors


def test_the_record_carries_the_list():
    record = settings.Baked(dict(settings.DEFAULTS, run_modules=("ipykernel_launcher", "dask")), ["app.py"], {})
    assert settings.Baked.decode(record.encode()) == record
    assert "run_modules=ipykernel_launcher,dask\n" in record.encode()
    assert settings.Baked.decode(settings.Baked().encode()).settings["run_modules"] == ()


# --- Real bundles -----------------------------------------------------------------------------------------------------

HOOKSCONFIG = {"multiprocessing": {"run_modules": [PROBE]}}
APPS = os.path.join(bundles.REPO, "tests", "apps")


def under_python(*args, stdin=None):
    """The control: ``python -m run_module_probe ARGS`` (the probe beside it, as in the bundle)."""
    process = subprocess.run(
        [sys.executable] + list(args),
        cwd=APPS,
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    return process


def probe_result(stdout):
    found = [json.loads(line[len("RESULT ") :]) for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert len(found) == 1, stdout
    return found[0]


def app_result(result):
    found = [json.loads(line[len("APP ") :]) for line in result.stdout.splitlines() if line.startswith("APP ")]
    assert len(found) == 1, result
    return found[0]


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def listed(builder, request):
    return builder.build("run_modules_app", HOOKSCONFIG, onefile=request.param == "onefile", modules=[PROBE])


@pytest.mark.bundle
def test_the_module_runs_as_under_python(listed, run):
    args = ["-B", "-s", "-m", PROBE, "one", "-c", "print('x')", "--echo"]
    result = run(listed, *args, stdin=b"from stdin\n")
    control = under_python(*args, stdin="from stdin\n")
    assert result.returncode == control.returncode == 0, (result, control.stderr)
    got, expected = probe_result(result.stdout), probe_result(control.stdout)
    assert got == dict(expected, frozen=True, cwd_on_path=False), (got, expected)
    assert got["name"] == "__main__" and got["main_is_me"] and got["argv0_is_my_file"] and got["spec"] == PROBE
    assert got["args"] == ["one", "-c", "print('x')", "--echo"]
    assert expected["cwd_on_path"]  # python puts the working folder first; the bundle keeps its own sys.path
    assert result.stdout.endswith("from stdin\n") and control.stdout.endswith("from stdin\n")
    assert "APP " not in result.stdout and result.stderr == "", result


@pytest.mark.bundle
@pytest.mark.parametrize(
    "args, status, stderr",
    [
        (["--exit", "3"], 3, ""),
        (["--raise"], 1, "ValueError: probe raised"),
        (["--interrupt"], -2, "KeyboardInterrupt"),  # python dies of SIGINT, once its exit handlers have run
        (["--signal"], -15, ""),
    ],
)
def test_exit_status_is_the_modules(listed, run, args, status, stderr):
    from tests.test_who_failed import assert_reported_as_python_does

    result = run(listed, "-m", PROBE, *args)
    control = under_python("-m", PROBE, *args)
    assert result.returncode == control.returncode == status, (result, control)
    assert stderr in result.stderr and stderr in control.stderr, result
    assert "oxmp:" not in result.stderr and "APP " not in result.stdout, result
    # Reported as the module's failure (runpy's frames, then its own), not as one of oxmp's runtime hook.
    assert_reported_as_python_does(result, control, PROBE)


@pytest.mark.bundle
def test_the_app_starts_the_module_as_tools_do(listed, run):
    result = run(listed, "--start-helper")
    assert result.returncode == 0, result
    helper = app_result(result)["helper"]
    assert helper["returncode"] == 7, helper
    assert [(found["name"], found["args"]) for found in helper["results"]] == [
        ("__main__", ["helper-arg", "--exit", "7"])
    ], helper
    assert helper["stderr"] == ""


@pytest.mark.bundle
@pytest.mark.parametrize(
    "args",
    [
        ["-m", "json.tool"],  # not listed
        ["-c", "print('PWNED')"],  # never executed
        ["-c", "import run_module_probe"],
        ["--flag", "-m", PROBE],
        ["-X", "-m", PROBE],
    ],
)
def test_anything_else_reaches_the_app(listed, run, args):
    result = run(listed, *args)
    assert result.returncode == 0, result
    assert app_result(result) == {"app_args": args}
    assert len(result.stdout.splitlines()) == 1 and result.stderr == "", result  # the app's line, nothing else


@pytest.mark.bundle
def test_without_the_setting_the_module_is_the_apps_argument(builder, run):
    # The control for the bundles above: the same app and module, nothing listed.
    bundle = builder.build("run_modules_app", modules=[PROBE])
    result = run(bundle, "-m", PROBE, "one")
    assert result.returncode == 0, result
    assert app_result(result) == {"app_args": ["-m", PROBE, "one"]}
    assert "RESULT" not in result.stdout


@pytest.mark.bundle
@pytest.mark.parametrize(
    "run_modules, fragments",
    [
        (["no_such_module_for_oxmp"], ["'no_such_module_for_oxmp' cannot be collected", "hiddenimports"]),
        (["email"], ["'email' is a package without a __main__ module"]),
        ([PROBE, PROBE], ["names 'run_module_probe' twice"]),
    ],
)
def test_the_build_fails_for_a_module_it_cannot_run(builder, run_modules, fragments):
    with pytest.raises(bundles.BuildFailed) as failed:
        builder.build("run_modules_app", {"multiprocessing": {"run_modules": run_modules}}, modules=[PROBE])
    assert "ERROR: oxmp:" in failed.value.log
    for fragment in fragments:
        assert fragment in failed.value.log, failed.value.log[-3000:]


class FakeGraph:
    """A module graph that collects the modules ``found`` (a node with a file) and nothing else."""

    def __init__(self, found):
        self.found = set(found)

    def find_node(self, name):
        return type("Node", (), {"filename": name + ".py"})() if name in self.found else None


def test_the_build_names_what_a_modules_entry_points_need():
    pytest.importorskip("distributed")
    from oxmp_hooks import collect

    # dask's command line runs distributed's commands (entry points "dask_cli") from modules imported by name.
    commands_modules = [
        "distributed.cli.dask_scheduler",
        "distributed.cli.dask_spec",
        "distributed.cli.dask_ssh",
        "distributed.cli.dask_worker",
    ]
    (warning,) = collect.entry_point_warnings(FakeGraph(["dask", "dask.__main__"]), ["dask", PROBE])
    assert "`-m dask` runs the commands of the entry points 'dask_cli'" in warning, warning
    assert ", ".join(commands_modules) in warning
    assert 'hiddenimports=collect_submodules("distributed.cli")' in warning
    assert collect.entry_point_warnings(FakeGraph(commands_modules), ["dask"]) == []
    (warning,) = collect.entry_point_warnings(FakeGraph(commands_modules[1:]), ["dask"])
    assert "hiddenimports=['distributed.cli.dask_scheduler']" in warning, warning
    assert collect.entry_point_warnings(FakeGraph([]), [PROBE, "ipykernel_launcher"]) == []


@pytest.mark.bundle
def test_the_build_warns_when_a_modules_commands_are_missing(builder, run):
    # A bundle that lists dask and nothing of distributed's: the build says what `-m dask spec` needs; the bundle
    # indeed lacks the command that python has. tests/test_real_libraries.py has the same spec with the hidden imports:
    # no warning, and SubprocessCluster works.
    pytest.importorskip("distributed")
    # Left out, to keep the build short: large optional imports of dask's and distributed's that `-m dask` never makes.
    bundle = builder.build(
        "run_modules_app",
        {"multiprocessing": {"run_modules": [PROBE, "dask"]}},
        modules=[PROBE],
        excludes=["IPython", "jedi", "tkinter", "zmq"],
    )
    assert "WARNING: oxmp: run_modules: `-m dask` runs the commands of the entry points 'dask_cli'" in bundle.log, (
        bundle.log[-3000:]
    )
    assert 'hiddenimports=collect_submodules("distributed.cli")' in bundle.log
    result = run(bundle, "-m", "dask", "spec", "--help")
    control = under_python("-m", "dask", "spec", "--help")
    assert control.returncode == 0 and "--spec" in control.stdout, control
    assert result.returncode == 2 and "No such command 'spec'" in result.stderr, result


@pytest.mark.bundle
def test_the_doctor_shows_the_list(listed, capsys):
    import re

    from oxmp_hooks import __main__ as command_line

    status = command_line.main(["doctor", listed.exe])
    text = re.sub(" +", " ", capsys.readouterr().out)
    assert status == 0, text
    assert " run_modules %s %s\n" % (PROBE, PROBE) in text, text
    status = command_line.main(["doctor", "--json", listed.exe])
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["baked"]["run_modules"] == [PROBE], report["settings"]


# --- Property: a listed module only, and only as python would read the command line ---------------------------------


def python_reads_module(argv):
    """Independent of commands.py: (NAME, its arguments) that python runs for ``argv[1:]`` when options before `-m` are
    only the flags classify() reads as data, or (None, None). Each `-X`/`-W` takes the next token as its option."""
    index = 1
    while index < len(argv):
        token = argv[index]
        if token == "-m":
            return (argv[index + 1], argv[index + 2 :]) if index + 1 < len(argv) else (None, None)
        if token in ("-X", "-W"):
            index += 2
        elif commands.is_interpreter_flag(token):
            index += 1
        else:
            break
    return None, None


MODULE_TOKENS = ["-m", "-B", "-I", "-X", "-W", "-c", "-u", "dev", PROBE, "pkg.tool", "json.tool", "--pipe", "7"]


def test_only_a_listed_module_runs_property():
    import hypothesis
    from hypothesis import given, strategies as st

    @hypothesis.settings(max_examples=1500, deadline=None)
    @given(st.lists(st.one_of(st.sampled_from(MODULE_TOKENS), st.text(max_size=12)), max_size=8))
    def check(args):
        argv = [EXE] + args
        command = commands.classify(argv, "linux", run_modules=LISTED)
        named, module_args = python_reads_module(argv)
        if command.kind == "module" and command.module not in commands.MODULE_WORKERS:
            assert command.module == named and named in LISTED
            assert list(command.args) == module_args
        elif named in LISTED:
            raise AssertionError("a listed module was not run: %r -> %r" % (argv, command))
        # Without the list, nothing listed ever runs.
        plain = commands.classify(argv, "linux")
        assert not (plain.kind == "module" and plain.module not in commands.MODULE_WORKERS)

    check()
