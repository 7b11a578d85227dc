"""The parts of the documentation generated from the code, so that they cannot drift from what the code does.

A maintainer's tool, not installed. Each part sits in a Markdown file of ``FILES`` between cog's markers (cogapp, the
test extra's), which call the function here that renders it::

    <!-- [[[cog from docs import blocks; cog.out(blocks.settings_table()) ]]] -->
    ...
    <!-- [[[end]]] -->

``python docs/blocks.py`` rewrites every block (``cog -r``); ``tests/test_docs.py`` fails when one differs from what
its function renders (``cog --check``).
"""

import json
import os
import re
import sys
import tempfile

# The checkout: the workflow and tox.ini the CI table is read from, and the files whose blocks are generated.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if __name__ == "__main__":
    sys.path.insert(0, REPO)  # run by path: the checkout's docs/ and oxmp_hooks/ (which may not be installed)

from docs import versions  # noqa: E402
from oxmp_hooks import __version__, runtime_module  # noqa: E402

__all__ = ["BLOCKS", "FILES", "REGENERATE", "run_cog", "main"]

settings = runtime_module("settings")
FILES = ("README.md", os.path.join("docs", "troubleshooting.md"), os.path.join("docs", "versions.md"))
WORKFLOW = os.path.join(".github", "workflows", "tests.yml")


# --- The blocks -----------------------------------------------------------------------------------------------------


def settings_table():
    """The settings as a Markdown table: key, allowed values, default, what it does."""
    lines = ["| key | values | default | what it does |", "|---|---|---|---|"]
    for setting in settings.SETTINGS:
        if setting.type is list:
            values, default = "list of module names", "[]" if not setting.default else list(setting.default)
        else:
            values = setting.choices if setting.choices is not None else _values_of(setting.type)
            values, default = ", ".join("`%s`" % value for value in values), setting.default
        lines.append("| `%s` | %s | `%s` | %s |" % (setting.key, values, default, setting.doc))
    return "\n".join(lines) + "\n"


def _values_of(kind):
    if kind is bool:
        return (True, False)
    raise AssertionError("a setting of type %s needs choices" % kind.__name__)


# PyInstaller's own lines around oxmp's, as PyInstaller 6 words them, for a bundle that has all three modules.
BUILD_LOG_BEFORE = [
    "WARNING: Runtime hooks for %s have already been defined. Skipping the runtime hooks for %s that "
    "are defined in .../PyInstaller/hooks/rthooks." % (module, module)
    for module in ("inspect", "pkgutil", "multiprocessing")
]
# PyInstaller names a runtime hook once for each of its modules: oxmp's "deferred" one serves pkgutil and inspect.
BUILD_LOG_AFTER = [
    "INFO: Including run-time hook 'pyi_rth_oxmp_%s.py' from '.../runtime_hooks/rthooks'" % hook
    for hook in ("multiprocessing", "deferred", "deferred")
]


def build_log():
    """What the build log of a default bundle on Linux with Python 3.11 says of oxmp (oxmp's line from config.py)."""
    from oxmp_hooks import config

    line = "INFO: " + config.describe(settings.DEFAULTS, "linux", (3, 11))
    return "```\n%s\n```\n" % "\n".join(BUILD_LOG_BEFORE + [line] + BUILD_LOG_AFTER)


SAMPLE_EXECUTABLE = "/home/me/app/dist/app/app"


def doctor_sample():
    """The doctor's text report on a default onedir bundle on Linux with Python 3.11, as ``render()`` prints it.

    The report is made by the doctor's own code from the answer a bundle's runtime writes (the keys of
    ``_oxmp_runtime/doctor.py``), with this machine's details replaced by fixed ones: a key the doctor starts to
    read, or a line it starts to print, shows here.
    """
    from oxmp_hooks import baked
    from oxmp_hooks.tools import bundle_info, contain, doctor

    with tempfile.TemporaryDirectory() as folder:
        # The files that make a onedir layout; the executable holds no archive, so the doctor runs nothing.
        executable = os.path.join(folder, "app")
        os.mkdir(os.path.join(folder, "_internal"))
        for path in (executable, os.path.join(folder, "_internal", bundle_info.STDLIB_ARCHIVE)):
            open(path, "wb").close()
        report = doctor.diagnose(executable)
    python = "3.11.7"  # on Linux, where fork is the default up to 3.13
    report.update(
        executable=SAMPLE_EXECUTABLE,
        checks=[],
        entry_code=[baked.entry_code_name("app.py")],
        build={
            "oxmp": __version__,
            "pyinstaller": versions.CHECKED["PyInstaller"].checked[1],
            "python": python,
            "platform": "linux",
        },
    )
    run = contain.Result([SAMPLE_EXECUTABLE], 0, "", "", 0.38, False, False)
    report["run"] = {
        "exit_status": run.returncode,
        "seconds": run.seconds,
        "timed_out": run.timed_out,
        "stopped_at_process_cap": run.bombed,
        "stdout": [],
        "stderr": [],
    }
    values = dict(settings.DEFAULTS)
    answer = {
        "python": python,
        "platform": "linux",
        "settings": values,
        "start_method_env": None,
        "start_method_env_warning": None,
        "effective_settings": values,
        "effective_start_method": "fork",
        "sys_frozen": True,
        "sys_executable": SAMPLE_EXECUTABLE,
        "spawn_executable": SAMPLE_EXECUTABLE,
        "start_method": "fork",
        "start_methods_offered": ["fork", "spawn", "forkserver"],
        "auto_dispatch": True,
        "freeze_support": "_oxmp_runtime.boot.freeze_support",
        "freeze_support_is_oxmps": True,
        "refused_exit_status": runtime_module("messages").REFUSED_EXIT,
        "smoke_tests": [
            {"start_method": method, "passed": True, "seconds": seconds, "error": None, "exitcode": 0}
            for method, seconds in (("fork", 0.007), ("forkserver", 0.132), ("spawn", 0.063))
        ],
    }
    answer = json.loads(json.dumps(answer))  # as the doctor reads it from the file the bundle writes
    return "```\n%s```\n" % doctor.render(doctor._with_answer(report, answer, run))  # diagnose()'s last step


def versions_table():
    """``docs/versions.py`` as a Markdown table."""
    lines = ["| | supported | sources read | what was checked | tested |", "|---|---|---|---|---|"]
    for name, entry in versions.CHECKED.items():
        lines.append(
            "| %s | %s | %s | %s | %s |"
            % (name, versions.shown(entry.supported), versions.shown(entry.checked), entry.what, entry.tested)
        )
    return "\n".join(lines) + "\n"


def ci_table(repo=REPO):
    """The CI workflow's jobs, one row per tox environment and set of Pythons, with the versions tox.ini pins."""
    jobs, runners = workflow_jobs(os.path.join(repo, WORKFLOW))
    envs, pins = tox_envs(os.path.join(repo, "tox.ini"))
    lines = [
        "| tox environment | PyInstaller | pyinstaller-hooks-contrib | Python | runners |",
        "|---|---|---|---|---|",
    ]
    in_jobs = {env for _, _, env in jobs}
    for env in [env for env in envs if env in in_jobs] + sorted(in_jobs - set(envs)):
        pythons_of = {}
        for runner, python, job_env in jobs:
            if job_env == env:
                pythons_of.setdefault(runner, set()).add(python)
        groups = {}
        for runner in sorted(
            pythons_of, key=lambda name: (runners.index(name) if name in runners else len(runners), name)
        ):
            groups.setdefault(tuple(sorted(pythons_of[runner], key=_version_key)), []).append(runner)
        for pythons, on in sorted(groups.items(), key=lambda group: _version_key(group[0][-1]), reverse=True):
            lines.append(
                "| `%s` | %s | %s | %s | %s |"
                % (
                    env,
                    pins.get((env, "pyinstaller"), "the newest release"),
                    pins.get((env, "pyinstaller-hooks-contrib"), "the oldest the PyInstaller allows"),
                    _version_span(pythons),
                    ", ".join(on),
                )
            )
    return "\n".join(lines) + "\n"


def workflow_jobs(path):
    """Every (runner, python, tox environment) the workflow's matrix expands to, and its list of runners."""
    import yaml  # the test extra's; only this table needs it

    with open(path, encoding="utf-8") as workflow:
        matrix = yaml.safe_load(workflow)["jobs"]["tests"]["strategy"]["matrix"]
    jobs = {
        (runner, str(python), env) for runner in matrix["os"] for python in matrix["python"] for env in matrix["toxenv"]
    }
    jobs |= {(job["os"], str(job["python"]), job["toxenv"]) for job in matrix.get("include", [])}
    return jobs, list(matrix["os"])


def tox_envs(path):
    """tox.ini's envlist, and {(tox environment, distribution): version} for each ``ENV: NAME==VERSION`` line."""
    with open(path, encoding="utf-8") as tox_ini:
        text = tox_ini.read()
    envlist = re.search(r"^envlist\s*=\s*(.*)$", text, re.MULTILINE).group(1)
    pins = {
        (env, name): version
        for env, name, version in re.findall(r"^\s*([\w.-]+):\s*([\w.-]+)==([\w.]+)\s*$", text, re.MULTILINE)
    }
    return [env.strip() for env in envlist.split(",")], pins


def _version_key(text):
    return tuple(int(part) if part.isdigit() else -1 for part in re.split(r"[.-]", text) if part)


def _version_span(pythons):
    # "3.9 - 3.14" for consecutive minor versions of one major, else the list.
    minors = [_version_key(python) for python in pythons]
    consecutive = (
        all(len(version) == 2 for version in minors)
        and len({major for major, _ in minors}) == 1
        and [minor for _, minor in minors] == list(range(minors[0][1], minors[0][1] + len(minors)))
    )
    return "%s - %s" % (pythons[0], pythons[-1]) if consecutive and len(pythons) > 2 else ", ".join(pythons)


# What the files' blocks call, each in one block at least.
BLOCKS = (settings_table, build_log, doctor_sample, versions_table, ci_table)


# --- Running cog ----------------------------------------------------------------------------------------------------

REGENERATE = "python docs/blocks.py"


def run_cog(*options):
    """Run cog on ``FILES`` with ``options`` (``-r``: rewrite them; ``--check``: say which differ); its exit status.
    The blocks import this module as ``docs.blocks``, from the checkout."""
    from cogapp import Cog

    return Cog().main(["cog", "-I", REPO] + list(options) + [os.path.join(REPO, name) for name in FILES])


def main() -> int:
    """``python docs/blocks.py``: rewrite the generated blocks of every file of FILES."""
    return run_cog("-r", "--verbosity=1")


if __name__ == "__main__":
    sys.exit(main())
