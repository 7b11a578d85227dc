"""`python -m oxmp_hooks doctor EXECUTABLE` (or `oxmp-doctor EXECUTABLE`): check multiprocessing in a bundle.

First the bundle's files are read, without running anything: layout (onedir or onefile), whether oxmp is in it (its
runtime hook, and the settings record only oxmp's build writes: ``bundle_info.record_problem()``), and the settings
baked into it. A bundle that contains oxmp is then executed once, contained as `python -m oxmp_hooks run` contains an
app (own session, process cap, time limit, every process it started killed afterwards), in oxmp's diagnostic mode: its
runtime hook writes a report instead of running the app (``_oxmp_runtime/doctor.py``), including one smoke test per
start method. The app's entry script does not run; but the bundle's executable, and whatever runs in it before oxmp's
hook, are the bundle's own: the doctor is for bundles one would run anyway. The report becomes a list of checks, each
with a hint when it fails.

As a gate in CI (docs/ci.md) it is unattended: the run is always contained and time-limited (``--timeout``), and a
bundle that starts itself again and again is stopped at the process cap and reported as such. The exit statuses are
stable: ``EXIT_PASSED`` (0) iff every check and smoke test passed, ``EXIT_FAILED`` (1) if one failed (a bundle
without oxmp, one that did not answer in time, one that relaunches itself included), ``EXIT_UNREADABLE`` (2) for bad
arguments or a bundle whose oxmp files cannot be read. ``--json`` prints the report (its layout: ``SCHEMA_VERSION``
and docs/doctor-report.settings.json), ``--junit-xml PATH`` writes it as a JUnit test report (``junit.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from typing import Any, Sequence

from oxmp_hooks import runtime_module
from oxmp_hooks.tools import bundle_info, cli, contain, junit

__all__ = ["main", "diagnose", "render"]

settings = runtime_module("settings")
# The other half of the doctor, inside the bundle: its door (DOCTOR_ENV, DOCTOR_GATE), its report (REPORT_FILE,
# REPORT_FORMAT). The bundle enters diagnostic mode only if the variable names a token and a folder whose gate file
# holds that token (runtime.requested()).
runtime = runtime_module("doctor")

DEFAULT_TIMEOUT = 60.0  # the diagnostic run: start-up, and three smoke tests of at most about 10 s each
OUTPUT_LINES = 40  # of the diagnostic run's stdout and stderr, kept in the report
MAX_PROCS = 16  # the diagnostic run needs at most four at once: itself, a worker, the resource tracker, a forkserver
MAX_REPORT_BYTES = 1 << 20  # a report is a few KiB: a larger file is not one, and is not read into memory

EXIT_PASSED, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, cli.BAD_ARGUMENTS

# Version of the --json report's layout (its key "schema_version"; docs/doctor-report.settings.json describes it). New
# keys may come within a version; a key removed, renamed or changed in meaning makes the next one.
SCHEMA_VERSION = 1

EXECUTES = (
    "The doctor EXECUTES the bundle (contained: own session, process cap, time limit, all its processes "
    "killed afterwards) if its files show what oxmp's build writes (its runtime hook, and its settings "
    "record); that hook then runs the checks instead of the app's entry script. Code in the bundle that runs "
    "before the hook still runs: use the doctor only on bundles you would run yourself."
)

BUILD_WITH_OXMP = (
    "build it with oxmp installed next to PyInstaller (`pip install oxmp`), or name both of oxmp's hook "
    "folders, oxmp_hooks/hooks and runtime_hooks, with --additional-hooks-dir or hookspath=[...] in the "
    "spec file"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Console script `oxmp-doctor` (argv None: sys.argv) and `python -m oxmp_hooks doctor ARGS` (argv a list)."""
    parser = cli.Parser(
        prog="python -m oxmp_hooks doctor" if argv is not None else None,
        description="Check how multiprocessing works in a PyInstaller bundle, without running the app's entry "
        "script. " + EXECUTES,
    )
    parser.add_argument("executable", help="the bundle's executable (onedir: dist/APP/APP; onefile: dist/APP)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--junit-xml",
        metavar="PATH",
        help="also write the report as JUnit XML to PATH, for a CI system's test page: one test case "
        "per check and per start method",
    )
    parser.add_argument(
        "--timeout",
        type=cli.seconds,
        default=DEFAULT_TIMEOUT,
        help="seconds the diagnostic run may take (default %g)" % DEFAULT_TIMEOUT,
    )
    options = parser.parse_args(argv)
    if not os.path.isfile(options.executable):
        parser.error("%s is not a file" % options.executable)
    if options.junit_xml and not os.path.isdir(os.path.dirname(os.path.abspath(options.junit_xml))):
        parser.error("--junit-xml %s: its folder does not exist" % options.junit_xml)

    try:
        report = diagnose(options.executable, options.timeout)
    except Unreadable as error:
        sys.stderr.write("%s: %s\n" % (parser.prog, error))
        if options.junit_xml:
            _write_junit(parser, options.junit_xml, error=str(error), executable=os.path.abspath(options.executable))
        return EXIT_UNREADABLE
    if options.junit_xml and not _write_junit(parser, options.junit_xml, report, start_methods(report)):
        return EXIT_UNREADABLE
    sys.stdout.write(json.dumps(report, indent=2) + "\n" if options.json else render(report))
    return EXIT_PASSED if report["passed"] else EXIT_FAILED


def _write_junit(parser: cli.Parser, path: str, *args: Any, **kwargs: Any) -> bool:
    try:
        junit.write(path, *args, **kwargs)
    except OSError as error:
        sys.stderr.write("%s: cannot write --junit-xml %s: %s\n" % (parser.prog, path, error.strerror or error))
        return False
    return True


def start_methods(report: dict[str, Any]) -> list[str]:
    """The start methods the bundle's platform offers, each of which gets a smoke test."""
    return list(settings.platform_start_methods(report["build"].get("platform") or sys.platform))


# --- Diagnosis ------------------------------------------------------------------------------------------------------


class Unreadable(Exception):
    """A bundle with oxmp's runtime hook whose settings file cannot be read: the doctor stops, in one line."""


def diagnose(executable: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Everything the doctor reports about one bundle, as a dict (the JSON output). Raises Unreadable."""
    executable = os.path.abspath(executable)
    info = bundle_info.inspect(executable)
    if info.settings_error is not None:
        raise Unreadable(
            "%s: cannot read the settings oxmp baked into it (%s): %s"
            % (executable, bundle_info.BAKED_PATH, " ".join(info.settings_error.split()))
        )
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "executable": executable,
        "bundle": info.as_dict(),
        "oxmp": info.has_oxmp,
        "build": {},
        "entry_code": [],
        "settings": None,
        "runtime": None,
        "checks": [],
        "smoke_tests": [],
        "run": None,
        "passed": False,
    }
    if info.record_text is not None:
        baked = settings.Baked.decode(info.record_text)
        report["build"], report["entry_code"] = baked.facts, baked.entry_code
        report["settings"] = {"baked": baked.settings}
    checks = report["checks"]
    # Each of these stops the doctor before it runs anything: without oxmp's diagnostic mode a bundle runs the app,
    # and a onedir executable without its folder cannot start.
    if info.has_oxmp is None:
        checks.append(
            check(
                "the file is a PyInstaller bundle",
                False,
                info.layout_evidence,
                "name the executable PyInstaller built: dist/APP/APP (onedir) or dist/APP (onefile)",
            )
        )
        return report
    if not info.has_oxmp:
        checks.append(check("the bundle contains oxmp", False, _why_no_oxmp(info), _hint_no_oxmp(info)))
        return report
    if info.layout == "onedir" and info.contents_dir is None:
        checks.append(
            check(
                "the bundle's files are beside its executable",
                False,
                info.layout_evidence,
                "run the executable from the folder PyInstaller made (dist/APP/), or copy the whole "
                "folder, not the executable alone",
            )
        )
        return report

    answer, run = run_diagnostic(executable, timeout)
    relaunched = relaunches(run)
    report["run"] = {
        "exit_status": run.returncode,
        "seconds": round(run.seconds, 3),
        "timed_out": run.timed_out,
        "stopped_at_process_cap": run.bombed,
        "relaunched": relaunched,
        "stdout": _tail(run.stdout),
        "stderr": _tail(run.stderr),
    }
    if answer is None and relaunched:
        checks.append(
            check(
                "the bundle does not start itself again and again",
                False,
                "it started processes until the doctor's process cap of %d stopped it (%s)"
                % (MAX_PROCS, _how_it_ended(run)),
                HINT_RELAUNCH,
            )
        )
        return report
    if answer is None:
        checks.append(
            check(
                "oxmp's runtime answered",
                False,
                "the bundle wrote no diagnostic report (%s)" % _how_it_ended(run),
                _hint_no_answer(run, timeout),
            )
        )
        return report
    if answer.get("format") != runtime.REPORT_FORMAT:
        checks.append(
            check(
                "the doctor reads the bundle's report",
                False,
                "report format %r, this doctor reads %d" % (answer.get("format"), runtime.REPORT_FORMAT),
                "use the doctor of the oxmp version the bundle was built with (%s)"
                % report["build"].get("oxmp", "unknown"),
            )
        )
        return report

    try:
        return _with_answer(report, answer, run)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        # Written by the bundle: one that says it is of this format, but is not, ends the doctor in one line.
        raise Unreadable(
            "%s: its diagnostic report is not what report format %d holds (%s: %s)"
            % (executable, runtime.REPORT_FORMAT, type(error).__name__, " ".join(str(error).split())[:200])
        ) from error


def _with_answer(report: dict[str, Any], answer: dict[str, Any], run: contain.Result) -> dict[str, Any]:
    checks = report["checks"]
    report["oxmp"] = True
    report["settings"] = {
        "baked": answer["settings"],
        settings.START_METHOD_ENV: answer["start_method_env"],
        "effective": answer["effective_settings"],
        "effective_start_method": answer["effective_start_method"],
    }
    report["runtime"] = {
        "python": answer["python"],
        "sys.frozen": answer["sys_frozen"],
        "sys.executable": answer["sys_executable"],
        "multiprocessing.spawn.get_executable()": answer["spawn_executable"],
        "multiprocessing.get_start_method()": answer["start_method"],
        "multiprocessing.get_all_start_methods()": answer["start_methods_offered"],
        "auto_dispatch": "active" if answer["auto_dispatch"] else "off",
    }
    checks.extend(runtime_checks(answer, run))
    for test in answer["smoke_tests"]:
        test = dict(test)
        test["hint"] = None if test["passed"] else smoke_hint(test, answer)
        report["smoke_tests"].append(test)
    report["passed"] = all(item["passed"] for item in checks + report["smoke_tests"])
    return report


def run_diagnostic(executable: str, timeout: float) -> tuple[dict[str, Any] | None, contain.Result]:
    """Run the bundle contained, asking for diagnostic mode. Returns (the report it wrote or None, contain.Result)."""
    import secrets

    folder = tempfile.mkdtemp(prefix="oxmp-doctor-")  # this user's, for this run only
    try:
        token = secrets.token_hex(16)
        # The bundle's sign that the doctor, and nothing else, asks: a new regular file that only this user may write
        # (whatever the umask), as the runtime requires (runtime.gate_opens()).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(os.path.join(folder, runtime.DOCTOR_GATE), flags, 0o600), "w") as gate:
            gate.write(token)
        env = dict(os.environ)
        env[runtime.DOCTOR_ENV] = "%s:%s" % (token, folder)
        # As root: the process cap is enforced by the watchdog rather than by an unprivileged user, so that the
        # user's files need no change of permissions. No arguments: none of the app's may play a part.
        result = contain.run([executable], timeout=timeout, max_procs=MAX_PROCS, env=env, cwd=folder)
        try:
            with open(os.path.join(folder, runtime.REPORT_FILE), "rb") as written:
                text = written.read(MAX_REPORT_BYTES + 1)
            answer = json.loads(text.decode("utf-8")) if text and len(text) <= MAX_REPORT_BYTES else None
        except (OSError, ValueError):
            answer = None
        if not isinstance(answer, dict):
            answer = None
        return answer, result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def relaunches(run: contain.Result) -> bool:
    """Whether a contained run was stopped for starting process after process: the watchdog stopped it at the cap,
    or the system refused it a process (RLIMIT_NPROC binds where no watchdog counts, as on macOS)."""
    import errno

    return bool(run.bombed) or os.strerror(errno.EAGAIN) in run.stderr


def check(name: str, passed: object, detail: str | None = None, hint: str | None = None) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "detail": detail, "hint": None if passed else hint}


def runtime_checks(answer: dict[str, Any], run: contain.Result) -> list[dict[str, Any]]:
    """Checks of what the diagnostic run saw, apart from the smoke tests."""
    checks = [check("oxmp's runtime answered", True, "in %.2f s" % run.seconds)]

    problems = []
    if not answer["freeze_support_is_oxmps"]:
        problems.append("multiprocessing.freeze_support is %s, not oxmp's" % answer["freeze_support"])
    wanted = answer["effective_start_method"]
    if wanted is not None and answer["start_method"] != wanted:
        problems.append("the default start method is %s, not %s" % (answer["start_method"], wanted))
    checks.append(
        check(
            "oxmp configured multiprocessing",
            not problems,
            "; ".join(problems) or None,
            "another runtime hook or a module imported at start-up changed multiprocessing after oxmp: look in the "
            "build log for a second runtime hook for multiprocessing",
        )
    )

    spawn_exe, exe = answer["spawn_executable"], answer["sys_executable"]
    checks.append(
        check(
            "workers start the bundle's own executable",
            spawn_exe == exe,
            None
            if spawn_exe == exe
            else "multiprocessing.spawn.get_executable() is %r, sys.executable is %r" % (spawn_exe, exe),
            "something calls multiprocessing.set_executable() at start-up; workers must start the bundle itself",
        )
    )

    if answer["start_method_env"] is not None:
        warning = answer["start_method_env_warning"]
        checks.append(
            check(
                "%s is valid" % settings.START_METHOD_ENV,
                warning is None,
                warning,
                "unset %s, or set it to one of: auto, none, %s"
                % (settings.START_METHOD_ENV, ", ".join(settings.platform_start_methods(answer["platform"]))),
            )
        )
    return checks


# --- Hints ----------------------------------------------------------------------------------------------------------


def smoke_hint(test: dict[str, Any], answer: dict[str, Any]) -> str:
    """What to change when the smoke test of one start method failed: the likely cause, then a way around it."""
    method = test["start_method"]
    if method != "fork" and not answer["auto_dispatch"]:
        # Only fork starts no new executable; the runtime refuses the others' workers and helpers in diagnostic mode.
        return (
            "auto_dispatch is off, so a process started from the executable runs the app's code first: turn "
            "auto_dispatch on, or make sure the app calls multiprocessing.freeze_support() first thing (the doctor "
            "cannot see whether it does)"
        )
    if test["exitcode"] == answer["refused_exit_status"]:
        cause = (
            "oxmp refused the command line of a %s worker or helper (see `oxmp: refusing` below): please report "
            "it with the output of --json" % method
        )
    elif "TimeoutError" in (test["error"] or ""):
        cause = (
            "the worker did not answer: something blocks its start-up (a virus scanner checking a onefile "
            "bundle's unpacked files, or a very busy machine); run the doctor again to compare"
        )
    elif method == "fork" and answer["platform"] == "darwin":
        cause = "fork is unreliable on macOS once system frameworks are loaded"
    elif method == "forkserver":
        cause = "forkserver needs a writable temporary folder for its socket: check TMPDIR"
    else:
        cause = "run the doctor with --json for the whole error and the bundle's output, and report it"
    passed = [other["start_method"] for other in answer["smoke_tests"] if other["passed"]]
    if method == answer["effective_start_method"] and passed:
        cause += (
            '; %s is the start method the app gets unless it chooses one: set "start_method": %r in the spec '
            "file's hooksconfig, or %s=%s at run time" % (method, passed[-1], settings.START_METHOD_ENV, passed[-1])
        )
    return cause


def _why_no_oxmp(info: bundle_info.BundleInfo) -> str:
    if info.multiprocessing_hook == "stock":
        return "it has PyInstaller's own multiprocessing runtime hook (pyi_rth_multiprocessing), not oxmp's"
    if info.multiprocessing_hook == "none":
        return "it has no runtime hook for multiprocessing: PyInstaller found no import of multiprocessing in the app"
    if info.multiprocessing_hook == "named like oxmp's":
        return "it has a runtime hook named like oxmp's (%s), but not the settings record oxmp's build writes: %s" % (
            bundle_info.oxmp_runtime_hook(),
            info.record_problem,
        )
    return "unknown"


def _hint_no_oxmp(info: bundle_info.BundleInfo) -> str:
    if info.multiprocessing_hook == "none":
        return (
            "oxmp's hook runs only for apps that import multiprocessing (or concurrent.futures' process pool, or "
            "joblib); if the app imports it in a way PyInstaller cannot see, add hiddenimports=['multiprocessing']"
        )
    return BUILD_WITH_OXMP


HINT_RELAUNCH = (
    "each process it starts runs the app again instead of multiprocessing's worker, as in a bundle "
    "without oxmp and without freeze_support(): " + BUILD_WITH_OXMP + "; if it is built with oxmp, a "
    "runtime hook that runs before oxmp's starts processes (look for custom runtime hooks in the spec "
    "file)"
)


def _hint_no_answer(run: contain.Result, timeout: float) -> str:
    if run.timed_out:
        return "the diagnostic run took more than %g s: run the doctor again with a longer --timeout" % timeout
    return (
        "the bundle's oxmp may be older than the doctor's, or the bundle fails at start-up (its output is in "
        "--json): rebuild it with this oxmp"
    )


def _tail(output: str) -> list[str]:
    return output.splitlines()[-OUTPUT_LINES:]


def _how_it_ended(run: contain.Result) -> str:
    if run.bombed:
        return "stopped at the process cap"
    if run.timed_out:
        return "stopped after %g s" % run.seconds
    return "exit status %s after %.2f s" % (run.returncode, run.seconds)


# --- Text output ----------------------------------------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    """The report as text, as `doctor` prints it without --json."""
    lines = ["oxmp doctor: %s" % report["executable"], ""]
    bundle, build = report["bundle"], report["build"]
    lines.append("Bundle")
    lines += _rows(
        [
            ("layout", "%s (%s)" % (bundle["layout"] or "unknown", bundle["layout_evidence"])),
            ("oxmp", {True: build.get("oxmp", "yes"), False: "NOT IN THIS BUNDLE", None: "unknown"}[report["oxmp"]]),
            ("built with", _built_with(build, bundle)),
            ("entry script", _entry_scripts(report["entry_code"], bundle)),
        ]
    )
    if report["oxmp"] is False:
        lines += [
            "",
            "This bundle does not contain oxmp: multiprocessing in it works as PyInstaller alone makes it.",
            "The doctor did not run it (it would have run the app).",
        ]
    elif report["run"] is not None and report["run"].get("relaunched") and report["runtime"] is None:
        lines += ["", "The doctor ran the bundle (contained): it started itself again and again until it was stopped."]
    elif report["run"] is not None:
        lines += ["", "The doctor ran the bundle (contained) in oxmp's diagnostic mode, instead of its entry script."]

    reported = report["settings"]
    if reported is not None and "effective" in reported:
        lines += ["", "%-*s%-13s%s" % (_SETTING_WIDTH + 2, "Settings", "baked", "effective")]
        for setting in settings.SETTINGS:
            # A bundle of an older oxmp may not know every setting.
            value = reported["effective"].get(setting.key, "-")
            if setting.key == "start_method":
                value = settings.show_start_method(value, reported["effective_start_method"])
            baked = reported["baked"].get(setting.key, "-")
            if isinstance(value, list):  # run_modules: the module names, which whoever starts the bundle may run
                baked, value = _names(baked), _names(value)
            lines.append("  %-*s%-12s %s" % (_SETTING_WIDTH, setting.key, baked, value))
        env = reported[settings.START_METHOD_ENV]
        lines.append(
            "  %-*s%s" % (_SETTING_WIDTH, settings.START_METHOD_ENV, "not set" if env is None else settings.shown(env))
        )
    elif reported is not None:
        lines += ["", "Settings (baked)"]
        lines += _rows([(key, value) for key, value in reported["baked"].items()])

    if report["runtime"] is not None:
        lines += ["", "Runtime (in the app's process, before the app's code)"]
        lines += _rows(list(report["runtime"].items()))

    lines += ["", "Checks"]
    items = report["checks"] + [
        dict(test, name="smoke test: %s" % test["start_method"], detail=_smoke_detail(test))
        for test in report["smoke_tests"]
    ]
    for item in items:
        lines.append(
            "  %s  %s%s"
            % ("PASS" if item["passed"] else "FAIL", item["name"], " (%s)" % item["detail"] if item["detail"] else "")
        )
        if item["hint"]:
            lines.append("        hint: %s" % item["hint"])
    failed = sum(not item["passed"] for item in items)
    said = [line for line in (report["run"] or {}).get("stderr", []) if line.startswith("oxmp:")]
    if said:
        lines += ["", "oxmp said, on stderr:"]
        lines += [
            "  %s%s" % (line, " (%d times)" % said.count(line) if said.count(line) > 1 else "")
            for line in sorted(set(said), key=said.index)
        ]
    lines += [
        "",
        "All %d checks passed." % len(items) if not failed else "%d of %d checks failed." % (failed, len(items)),
    ]
    return "\n".join(lines) + "\n"


_SETTING_WIDTH = max(len(setting.key) for setting in settings.SETTINGS) + 2


def _entry_scripts(entry_code: list[str] | None, bundle: dict[str, Any]) -> str | None:
    # oxmp's build knows the entry scripts; the archive's script list also holds custom runtime hooks.
    if entry_code:
        return ", ".join(os.path.splitext(os.path.basename(path))[0] for path in entry_code)
    return ", ".join(bundle["entry_scripts"]) or None


def _names(value: object) -> object:
    return ", ".join(value) or "none" if isinstance(value, list) else value


def _rows(pairs: list[tuple[str, Any]]) -> list[str]:
    pairs = [(key, ", ".join(value) if isinstance(value, list) else value) for key, value in pairs if value is not None]
    width = max(len(key) for key, _ in pairs) + 2 if pairs else 0
    return ["  %s%s" % (key.ljust(width), value) for key, value in pairs]


def _built_with(build: dict[str, Any], bundle: dict[str, Any]) -> str | None:
    if build:
        return "PyInstaller %s, Python %s, for %s" % (
            build.get("pyinstaller", "?"),
            build.get("python", "?"),
            build.get("platform", "?"),
        )
    if bundle["python_version"]:
        return "Python %s (%s)" % (bundle["python_version"], bundle["python_library"])
    return None


def _smoke_detail(test: dict[str, Any]) -> str:
    if test["passed"]:
        return "round trip in %.3f s" % test["seconds"]
    detail = test["error"] or "failed"
    if test["exitcode"] not in (None, 0):
        detail += "; worker exit status %s" % test["exitcode"]
    return detail
