"""`python -m oxmp_hooks doctor` on real bundles: with oxmp (several settings), and without.

The doctor runs each bundle itself, contained. The apps used here announce any run of their code: mp_matrix prints
`MODULE-LEVEL` at module level (in every process that runs the entry script, workers included) and `MAIN-BLOCK` in
its main block, no_freeze_support prints `MAIN-BLOCK`, probe prints `RESULT`. None of it may appear.
"""

import json
import os
import re
import sys

import pytest

from _oxmp_runtime import doctor as runtime_doctor
from oxmp_hooks import __main__ as command_line, __version__
from oxmp_hooks.tools import doctor
from tests import bundles

pytestmark = pytest.mark.bundle

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="Windows offers only spawn")
START_METHODS = bundles.START_METHODS
AUTO = bundles.AUTO_START_METHOD
APP_MARKERS = ("MODULE-LEVEL", "MAIN-BLOCK", "RESULT")


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    # The doctor passes its own environment to the bundle; a test sets OXMP_START_METHOD only on purpose.
    monkeypatch.delenv("OXMP_START_METHOD", raising=False)


@pytest.fixture
def default_bundle(matrix):
    return matrix  # the runtime matrix's bundles


def run_doctor(capsys, *args):
    """`python -m oxmp_hooks doctor ARGS`, in this process: (exit status, its text with runs of spaces as one)."""
    status = command_line.main(["doctor"] + list(args))
    return status, re.sub(" +", " ", capsys.readouterr().out)


def run_doctor_json(capsys, *args):
    """`python -m oxmp_hooks doctor --json ARGS`, in this process: (exit status, the report)."""
    status = command_line.main(["doctor", "--json"] + list(args))
    return status, json.loads(capsys.readouterr().out)


def assert_no_app_code_ran(report):
    output = report["run"]["stdout"] + report["run"]["stderr"]
    assert not [line for line in output if line.startswith(APP_MARKERS)], output


def test_default_bundle_passes(default_bundle, capsys):
    status, text = run_doctor(capsys, default_bundle.exe)
    assert status == 0, text
    layout = "onefile" if default_bundle.onefile else "onedir"
    for expected in [
        "layout " + layout,
        "PyInstaller 6.",
        "Python %d.%d." % sys.version_info[:2],
        "oxmp " + __version__,
        "start_method auto auto (%s)" % AUTO,
        "OXMP_START_METHOD not set",
        "sys.frozen",
        "multiprocessing.spawn.get_executable()",
        "multiprocessing.get_start_method() %s" % AUTO,
        "auto_dispatch active",
    ]:
        assert expected in text, text
    for method in START_METHODS:
        assert "PASS smoke test: %s (round trip in " % method in text
    assert "FAIL" not in text and "hint:" not in text
    assert text.endswith("checks passed.\n")


def test_default_bundle_json(default_bundle, capsys):
    status, report = run_doctor_json(capsys, default_bundle.exe)
    assert status == 0 and report["passed"] is True, report
    assert report["oxmp"] is True
    assert report["bundle"]["layout"] == ("onefile" if default_bundle.onefile else "onedir")
    assert report["build"]["python"] == "%d.%d.%d" % sys.version_info[:3]
    assert report["build"]["pyinstaller"].startswith("6.")
    assert report["settings"]["baked"] == {
        "start_method": "auto",
        "auto_dispatch": True,
        "sys_frozen": True,
        "defer_pyinstaller_hooks": True,
        "run_modules": [],
    }
    assert report["settings"]["effective_start_method"] == AUTO
    runtime = report["runtime"]
    assert runtime["sys.frozen"] is True
    assert runtime["sys.executable"] == runtime["multiprocessing.spawn.get_executable()"]
    assert os.path.samefile(runtime["sys.executable"], default_bundle.exe)
    assert runtime["multiprocessing.get_start_method()"] == AUTO
    assert runtime["auto_dispatch"] == "active"
    assert [test["start_method"] for test in report["smoke_tests"]] == START_METHODS
    assert all(test["passed"] and test["seconds"] > 0 and test["hint"] is None for test in report["smoke_tests"])
    assert_no_app_code_ran(report)
    assert "Traceback" not in "\n".join(report["run"]["stderr"])  # onefile: helpers stopped before the exit


@POSIX_ONLY
def test_spawn_setting_and_override(builder, capsys, monkeypatch):
    bundle = builder.build("probe", hooksconfig={"multiprocessing": {"start_method": "spawn"}})
    report = doctor.diagnose(bundle.exe)
    assert report["passed"], report
    assert report["settings"]["baked"]["start_method"] == "spawn"
    assert report["runtime"]["multiprocessing.get_start_method()"] == "spawn"
    assert_no_app_code_ran(report)

    monkeypatch.setenv("OXMP_START_METHOD", "forkserver")
    status, text = run_doctor(capsys, bundle.exe)
    assert status == 0, text
    assert "start_method spawn forkserver" in text
    assert "OXMP_START_METHOD 'forkserver'" in text
    assert "PASS OXMP_START_METHOD is valid" in text
    assert "multiprocessing.get_start_method() forkserver" in text


def test_bad_override_fails_with_a_hint(builder, capsys, monkeypatch):
    monkeypatch.setenv("OXMP_START_METHOD", "threads")
    bundle = builder.build("probe", hooksconfig={"multiprocessing": {"start_method": "spawn"}})
    status, text = run_doctor(capsys, bundle.exe)
    assert status == 1, text
    assert "FAIL OXMP_START_METHOD is valid" in text
    assert "hint: unset OXMP_START_METHOD, or set it to one of: auto, none, " in text


@POSIX_ONLY
def test_auto_dispatch_off_fails_the_smoke_tests_that_start_the_executable(builder, capsys):
    # The app's main block starts a spawn worker without freeze_support(); in diagnostic mode it must not run, and
    # the workers must be refused rather than run it (see test_settings_bundles for what the app itself does).
    bundle = builder.build("no_freeze_support", hooksconfig={"multiprocessing": {"auto_dispatch": False}})
    status, report = run_doctor_json(capsys, bundle.exe)
    assert status == 1
    assert report["run"]["timed_out"] is False  # refused at once, not waited for
    assert report["runtime"]["auto_dispatch"] == "off"
    tests = {test["start_method"]: test for test in report["smoke_tests"]}
    assert tests["fork"]["passed"] and tests["fork"]["hint"] is None  # fork starts no executable
    for method in bundles.NEW_PROCESS_START_METHODS:
        assert not tests[method]["passed"]
        assert "turn auto_dispatch on" in tests[method]["hint"]
        assert "multiprocessing.freeze_support() first thing" in tests[method]["hint"]
    assert_no_app_code_ran(report)
    assert any("auto_dispatch is off" in line for line in report["run"]["stderr"])
    assert report["run"]["stopped_at_process_cap"] is False

    status, text = run_doctor(capsys, bundle.exe)
    assert status == 1
    assert "FAIL smoke test: spawn" in text and "hint: auto_dispatch is off" in text
    assert "2 of 6 checks failed." in text


def test_bundle_without_oxmp_is_not_run(builder, capsys, monkeypatch):
    # Stock PyInstaller's no_freeze_support relaunches itself without end: the doctor must see from its files that
    # oxmp is not there, and not run it.
    bundle = builder.build("no_freeze_support", way=bundles.STOCK)
    status, text = run_doctor(capsys, bundle.exe)
    assert status == 1
    assert "oxmp NOT IN THIS BUNDLE" in text
    assert "This bundle does not contain oxmp" in text
    assert "FAIL the bundle contains oxmp (it has PyInstaller's own multiprocessing runtime hook" in text
    assert "hint: build it with oxmp installed next to PyInstaller" in text
    assert "layout onedir" in text and "Python %d.%d" % sys.version_info[:2] in text

    # The same through the console script `oxmp-doctor` (argv from sys.argv), as JSON.
    monkeypatch.setattr(sys, "argv", ["oxmp-doctor", "--json", bundle.exe])
    assert doctor.main() == 1
    report = json.loads(capsys.readouterr().out)
    assert report["oxmp"] is False and report["run"] is None and report["passed"] is False
    assert report["bundle"]["multiprocessing_runtime_hook"] == "stock"


def test_not_a_bundle(bundle_root, capsys):
    path = os.path.join(bundle_root, "not-a-bundle")
    with open(path, "w") as script:
        script.write("#!/bin/sh\necho MAIN-BLOCK\n")
    os.chmod(path, 0o755)
    status, text = run_doctor(capsys, path)
    assert status == 1
    assert "FAIL the file is a PyInstaller bundle" in text
    assert "MAIN-BLOCK" not in text


def test_diagnostic_mode_needs_the_doctors_gate(builder, run, bundle_root):
    # The variable alone does not switch the app into diagnostic mode: it must name a token and a folder whose gate
    # file (of the user running the app, not a link) holds that token. Otherwise the app runs, and nothing is written.
    from tests import contain

    bundle = builder.build("probe")
    token = "0123456789abcdef" * 2
    cases = {}
    for case in ("right-token", "wrong-token", "gate-is-a-link", "no-gate", "short-token"):
        folder = bundles.scratch_dir(bundle_root)
        cases[case] = folder
        gate = os.path.join(folder, runtime_doctor.DOCTOR_GATE)
        if case == "gate-is-a-link":
            target = os.path.join(folder, "elsewhere")
            with open(target, "w") as other:
                other.write(token)
            os.symlink(target, gate)
        elif case != "no-gate":
            with open(gate, "w") as written:
                written.write("f" * 32 if case == "wrong-token" else token)
        if contain.drops_privileges():
            uid, gid = contain.unprivileged_ids()
            for name in os.listdir(folder):
                os.lchown(os.path.join(folder, name), uid, gid)
    results = {}
    for case, folder in cases.items():
        value = "%s:%s" % (token[:8] if case == "short-token" else token, folder)
        results[case] = run(bundle, env={runtime_doctor.DOCTOR_ENV: value}, cwd=folder)
    # The control: with everything right, the bundle writes the doctor's report instead of running the app.
    assert "RESULT" not in results.pop("right-token").stdout
    assert os.path.isfile(os.path.join(cases["right-token"], runtime_doctor.REPORT_FILE))
    for case, result in results.items():
        assert result.returncode == 0, (case, result)
        assert bundles.only_result(result)["start_method"] == AUTO, case
        assert not os.path.exists(os.path.join(cases[case], runtime_doctor.REPORT_FILE)), case


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX's")
def test_a_fifo_at_the_gate_neither_blocks_nor_opens(builder, run, bundle_root):
    # A FIFO named like the gate, in a folder of the app's user (the worst case) or in the working directory through
    # /proc/self/cwd: the app starts at once and runs as usual. Opening it for reading without O_NONBLOCK would wait
    # for a writer for ever, with nothing printed. The control: a genuine gate in the same places opens.
    from tests import contain

    bundle = builder.build("probe")
    token = "0123456789abcdef" * 2
    results = {}
    for through_cwd in (False, True):
        if through_cwd and not os.path.isdir("/proc/self/cwd"):
            continue
        for genuine in (False, True):
            folder = bundles.scratch_dir(bundle_root)
            gate = os.path.join(folder, runtime_doctor.DOCTOR_GATE)
            if genuine:
                with os.fdopen(os.open(gate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as written:
                    written.write(token)
            else:
                os.mkfifo(gate, 0o600)
            if contain.drops_privileges():
                os.lchown(gate, *contain.unprivileged_ids())
            named = "/proc/self/cwd" if through_cwd else folder
            results[through_cwd, genuine] = (
                folder,
                run(bundle, env={runtime_doctor.DOCTOR_ENV: "%s:%s" % (token, named)}, cwd=folder, timeout=30),
            )
    assert results
    for (through_cwd, genuine), (folder, result) in results.items():
        assert not result.timed_out and result.returncode == 0, (through_cwd, genuine, result)
        report = os.path.join(folder, runtime_doctor.REPORT_FILE)
        if genuine:
            assert os.path.isfile(report) and "RESULT" not in result.stdout, (through_cwd, result)
        else:
            assert not os.path.exists(report), through_cwd
            assert bundles.only_result(result)["start_method"] == AUTO, through_cwd


# --- Bundles the doctor should not trust ----------------------------------------------------------------------------


def copy_of(bundle, bundle_root):
    """A copy of a bundle (onedir: its whole folder) that a test may change; returns the copy's executable."""
    import shutil

    from tests import contain

    folder = bundles.scratch_dir(bundle_root)
    if bundle.onefile:
        exe = os.path.join(folder, os.path.basename(bundle.exe))
        shutil.copy2(bundle.exe, exe)
    else:
        copied = os.path.join(folder, "app")
        shutil.copytree(os.path.dirname(bundle.exe), copied, symlinks=True)
        exe = os.path.join(copied, os.path.basename(bundle.exe))
    contain.make_accessible(folder)
    return exe


def toc_entry_at(exe, name):
    """Where the archive's table-of-contents entry of ``name`` starts in ``exe``: its fields, then its name."""
    import struct

    from oxmp_hooks.tools import bundle_info

    with open(exe, "rb") as data:
        content = data.read()
    # The table of contents follows the archive's data, the names in it uncompressed: the last copy of the name.
    header = struct.calcsize(bundle_info.TOC_ENTRY_FORMAT)
    at = content.rindex(name.encode("utf-8") + b"\0") - header
    offset = struct.unpack(bundle_info.TOC_ENTRY_FORMAT, content[at : at + header])[1]
    assert offset == bundle_info.Archive(exe).entries[name][0], "not the entry of %s" % name
    return at


def one_line_status_2(capsys, exe, *args):
    status = command_line.main(["doctor"] + list(args) + [exe])
    out, err = capsys.readouterr()
    assert status == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, (status, out, err)
    return err


@pytest.mark.parametrize("corruption", ["garbage", "beyond the end", "too large"])
def test_onefile_with_a_corrupt_settings_entry_is_one_line(builder, bundle_root, capsys, corruption):
    import struct

    from oxmp_hooks.tools import bundle_info

    bundle = builder.build("probe", onefile=True)
    exe = copy_of(bundle, bundle_root)
    archive = bundle_info.Archive(exe)
    offset, stored, _, compressed, _ = archive.entries[bundle_info.BAKED_PATH]
    with open(exe, "r+b") as changed:
        if corruption == "garbage":
            assert compressed  # PyInstaller compresses data files: garbage cannot be unpacked
            changed.seek(archive.start + offset)
            changed.write(b"\xff" * stored)
        else:
            # Its table-of-contents entry: the entry's offset, or its length, made to point past the end of the file.
            toc = toc_entry_at(exe, bundle_info.BAKED_PATH)
            field = 4 if corruption == "beyond the end" else 8
            changed.seek(toc + field)
            changed.write(struct.pack("!I", 0x7FFFFFFF))
    err = one_line_status_2(capsys, exe)
    assert err.startswith(
        "python -m oxmp_hooks doctor: %s: cannot read the settings oxmp baked into it (%s): "
        % (exe, bundle_info.BAKED_PATH)
    ), err
    assert one_line_status_2(capsys, exe, "--json") == err
    # The control: the same bundle, unchanged, passes.
    status, text = run_doctor(capsys, bundle.exe)
    assert status == 0, text


def test_onedir_with_a_settings_file_that_is_not_text_is_one_line(builder, bundle_root, capsys):
    from oxmp_hooks.tools import bundle_info

    bundle = builder.build("probe")
    exe = copy_of(bundle, bundle_root)
    info = bundle_info.inspect(exe)
    with open(os.path.join(info.contents_dir, *bundle_info.BAKED_PATH.split("/")), "ab") as settings:
        settings.write(b"start_method=\xff\xfe\n")
    err = one_line_status_2(capsys, exe)
    assert "cannot read the settings oxmp baked into it" in err and "utf-8" in err, err
    status, text = run_doctor(capsys, bundle.exe)  # the control
    assert status == 0, text


@pytest.mark.parametrize("onefile", [False, True], ids=["onedir", "onefile"])
def test_runtime_hook_named_like_oxmps_is_not_run(builder, capsys, onefile):
    # A stock bundle with a custom runtime hook of the same name as oxmp's, whose code even holds the names oxmp's hook
    # uses (tests/apps/pyi_rth_oxmp_multiprocessing.py): without the record oxmp's build writes, it is not oxmp's.
    bundle = builder.build(
        "escapee", way=bundles.STOCK, onefile=onefile, runtime_hooks=["pyi_rth_oxmp_multiprocessing"]
    )
    status, report = run_doctor_json(capsys, bundle.exe)
    assert status == 1 and report["oxmp"] is False and report["run"] is None, report
    assert report["bundle"]["multiprocessing_runtime_hook"] == "named like oxmp's"
    assert report["bundle"]["settings_record_problem"] == "there is no _oxmp/settings.txt"
    assert "IMPOSTOR-RAN" not in json.dumps(report)
    status, text = run_doctor(capsys, bundle.exe)
    assert "FAIL the bundle contains oxmp (it has a runtime hook named like oxmp's" in text, text
    assert "The doctor did not run it" in text


def genuine_record(bundle):
    from oxmp_hooks.tools import bundle_info

    with open(os.path.join(bundle_info.inspect(bundle.exe).contents_dir, *bundle_info.BAKED_PATH.split("/"))) as baked:
        return baked.read()


@pytest.mark.parametrize("record", ["lenient", "copied", "other Python", "bad value"])
def test_look_alike_with_a_settings_file_is_not_run(builder, bundle_root, capsys, record):
    # The look-alike above, with a file where oxmp's record lies: one a lenient reader accepts (a line of a setting),
    # the record of a genuine bundle copied (it names entry code this bundle lacks), a record of another Python, one
    # with a value oxmp's build refuses. None is what oxmp's build writes for this bundle, so the doctor does not run
    # it. The control: the genuine bundle the record comes from is run, in diagnostic mode.
    from oxmp_hooks.tools import bundle_info

    genuine = builder.build("probe")
    exe = copy_of(
        builder.build("escapee", way=bundles.STOCK, runtime_hooks=["pyi_rth_oxmp_multiprocessing"]), bundle_root
    )
    text = {
        "lenient": "start_method=auto\n",
        "copied": genuine_record(genuine),
        "other Python": re.sub("build.python=[0-9.]+", "build.python=2.7.18", genuine_record(genuine)).replace(
            "entry_code=_oxmp/entry/probe.code", "entry_code=_oxmp/entry/escapee.code"
        ),
        "bad value": genuine_record(genuine).replace("start_method=auto", "start_method=threads"),
    }[record]
    contents = bundle_info.inspect(exe).contents_dir
    settings = os.path.join(contents, *bundle_info.BAKED_PATH.split("/"))
    os.makedirs(os.path.dirname(settings))
    with open(settings, "w") as written:
        written.write(text)
    if record == "other Python":  # everything else right: the entry code it names is there
        os.makedirs(os.path.join(contents, "_oxmp", "entry"))
        open(os.path.join(contents, "_oxmp", "entry", "escapee.code"), "w").close()
    status, report = run_doctor_json(capsys, exe)
    assert status == 1 and report["oxmp"] is False and report["run"] is None, report
    assert report["bundle"]["multiprocessing_runtime_hook"] == "named like oxmp's"
    problem = report["bundle"]["settings_record_problem"]
    assert problem.startswith("_oxmp/settings.txt "), problem
    assert {
        "lenient": "is not in the format oxmp's build writes: line 2 is the end of the file",
        "copied": "names '_oxmp/entry/probe.code', which is not the code of an entry script of this bundle",
        "other Python": "says Python 2.7.18 built it",
        "bad value": "holds settings oxmp's build refuses",
    }[record] in problem, problem
    status, report = run_doctor_json(capsys, genuine.exe)  # the control
    assert status == 0 and report["run"] is not None and report["oxmp"] is True, report


def test_a_record_with_windows_line_ends_is_oxmps(builder, bundle_root, capsys):
    # oxmp's build writes the record in text mode: on Windows each line ends in CRLF, and it is still the record. The
    # Windows lane (tests/test_windows.py) runs the doctor on real Windows bundles; this is the same record here.
    from oxmp_hooks.tools import bundle_info

    genuine = builder.build("probe")
    exe = copy_of(genuine, bundle_root)
    with open(os.path.join(bundle_info.inspect(exe).contents_dir, *bundle_info.BAKED_PATH.split("/")), "wb") as baked:
        baked.write(genuine_record(genuine).replace("\n", "\r\n").encode())
    status, report = run_doctor_json(capsys, exe)
    assert status == 0 and report["oxmp"] is True, report


def test_stock_bundle_with_oxmps_settings_file_is_not_run(builder, bundle_root, capsys):
    # Stock PyInstaller's no_freeze_support relaunches itself without end, and carries a file where oxmp's settings
    # would be: it is still a stock bundle, and the doctor must not run it. The control: the oxmp bundle the file comes
    # from is run.
    import shutil

    from oxmp_hooks.tools import bundle_info

    genuine = builder.build("no_freeze_support")
    exe = copy_of(builder.build("no_freeze_support", way=bundles.STOCK), bundle_root)
    settings = os.path.join(bundle_info.inspect(exe).contents_dir, *bundle_info.BAKED_PATH.split("/"))
    os.makedirs(os.path.dirname(settings))
    shutil.copy(
        os.path.join(bundle_info.inspect(genuine.exe).contents_dir, *bundle_info.BAKED_PATH.split("/")), settings
    )
    status, report = run_doctor_json(capsys, exe)
    assert status == 1 and report["oxmp"] is False and report["run"] is None, report
    assert report["bundle"]["multiprocessing_runtime_hook"] == "stock"
    status, report = run_doctor_json(capsys, genuine.exe)
    assert report["run"] is not None and report["oxmp"] is True, report


def test_a_report_that_is_not_one_is_one_line(builder, capsys, monkeypatch):
    # A bundle's report that claims the right format but lacks what it holds (as one written by something other than
    # oxmp's runtime could): one line, exit status 2. The control: the real report of the same bundle.
    bundle = builder.build("probe")
    real = doctor.run_diagnostic

    def damaged(executable, timeout):
        answer, result = real(executable, timeout)
        assert answer is not None
        return {"format": answer["format"], "settings": {}}, result

    monkeypatch.setattr(doctor, "run_diagnostic", damaged)
    err = one_line_status_2(capsys, bundle.exe)
    assert "its diagnostic report is not what report format 1 holds (KeyError" in err, err
    monkeypatch.setattr(doctor, "run_diagnostic", real)
    status, text = run_doctor(capsys, bundle.exe)
    assert status == 0, text


# --- The doctor as a CI gate (docs/ci.md): exit statuses, the JSON report's schema, JUnit XML ------------------------

REPORT_SCHEMA = os.path.join(bundles.REPO, "docs", "doctor-report.schema.json")


def assert_matches_the_schema(report):
    import jsonschema

    with open(REPORT_SCHEMA, encoding="utf-8") as schema:
        jsonschema.validate(report, json.load(schema))


def junit_cases(path):
    """The test cases of the doctor's JUnit XML: {name: (outcome, message, text)}; checks the counts it states."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = {}
    for case in suite.findall("testcase"):
        assert case.get("classname") == "oxmp.doctor" and float(case.get("time")) >= 0
        outcome = [child for child in case if child.tag in ("failure", "error", "skipped")]
        assert len(outcome) <= 1
        found = outcome[0] if outcome else None
        cases[case.get("name")] = (
            ("passed", None, None) if found is None else (found.tag, found.get("message"), found.text)
        )
    outcomes = [outcome for outcome, _, _ in cases.values()]
    assert int(suite.get("tests")) == len(cases) == int(root.get("tests"))
    for tag, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        assert int(suite.get(attribute)) == outcomes.count(tag), (tag, suite.attrib)
    return suite, cases


def test_json_report_is_versioned_and_matches_its_schema(default_bundle, builder, capsys, monkeypatch):
    # A passing report, a failing one (a bad override), and one of a bundle without oxmp: each as the schema says.
    status, report = run_doctor_json(capsys, default_bundle.exe)
    assert status == 0 and report["schema_version"] == doctor.SCHEMA_VERSION == 1
    assert_matches_the_schema(report)
    with open(REPORT_SCHEMA, encoding="utf-8") as schema:
        assert json.load(schema)["properties"]["schema_version"] == {"const": doctor.SCHEMA_VERSION}
    if default_bundle.onefile:
        return  # the rest does not depend on the layout
    status, report = run_doctor_json(capsys, builder.build("no_freeze_support", way=bundles.STOCK).exe)
    assert status == 1 and report["run"] is None
    assert_matches_the_schema(report)
    monkeypatch.setenv("OXMP_START_METHOD", "threads")
    status, report = run_doctor_json(capsys, default_bundle.exe)
    assert status == 1
    assert_matches_the_schema(report)
    # The schema really checks: the same report without a key, or with a wrong type, does not match.
    import jsonschema

    for broken in (
        {key: value for key, value in report.items() if key != "smoke_tests"},
        dict(report, passed="no"),
        dict(report, schema_version=2),
    ):
        with pytest.raises(jsonschema.ValidationError):
            assert_matches_the_schema(broken)


def test_junit_xml_of_a_passing_bundle(default_bundle, capsys, tmp_path):
    path = str(tmp_path / "doctor.xml")
    status, report = run_doctor_json(capsys, "--junit-xml", path, default_bundle.exe)
    assert status == 0
    suite, cases = junit_cases(path)
    assert list(cases) == [item["name"] for item in report["checks"]] + [
        "smoke test: %s" % method for method in START_METHODS
    ]
    assert set(cases.values()) == {("passed", None, None)}
    assert suite.get("name") == "oxmp doctor: %s (%s, Python %s)" % (
        os.path.basename(default_bundle.exe),
        sys.platform,
        report["build"]["python"],
    )
    assert json.loads(suite.find("system-out").text) == report  # the whole report, as --json prints it


def test_junit_xml_of_failures_carries_the_hints(builder, capsys, tmp_path, monkeypatch):
    # A failed check is a failure with the doctor's hint; a bundle the doctor does not run has its start methods
    # skipped, saying why; the exit status is 1 either way.
    path = str(tmp_path / "doctor.xml")
    monkeypatch.setenv("OXMP_START_METHOD", "threads")
    bundle = builder.build("probe", hooksconfig={"multiprocessing": {"start_method": "spawn"}})
    status, text = run_doctor(capsys, "--junit-xml", path, bundle.exe)
    assert status == 1
    _, cases = junit_cases(path)
    outcome, message, body = cases["OXMP_START_METHOD is valid"]
    assert outcome == "failure" and "ignoring OXMP_START_METHOD='threads'" in message
    assert body.endswith(
        "\nhint: unset OXMP_START_METHOD, or set it to one of: auto, none, %s" % ", ".join(START_METHODS)
    ), body
    assert "hint: unset OXMP_START_METHOD" in text
    assert [cases["smoke test: %s" % method][0] for method in START_METHODS] == ["passed"] * len(START_METHODS)

    monkeypatch.delenv("OXMP_START_METHOD")
    status, _ = run_doctor(capsys, "--junit-xml", path, builder.build("no_freeze_support", way=bundles.STOCK).exe)
    assert status == 1
    _, cases = junit_cases(path)
    outcome, message, body = cases["the bundle contains oxmp"]
    assert outcome == "failure" and "pyi_rth_multiprocessing" in message
    assert "\nhint: build it with oxmp installed next to PyInstaller" in body
    for method in START_METHODS:
        assert cases["smoke test: %s" % method] == (
            "skipped",
            "not run: the doctor stopped at the check 'the bundle contains oxmp'",
            None,
        )


def test_unreadable_bundle_is_status_2_and_one_junit_error(builder, bundle_root, capsys, tmp_path):
    from oxmp_hooks.tools import bundle_info

    exe = copy_of(builder.build("probe"), bundle_root)
    with open(os.path.join(bundle_info.inspect(exe).contents_dir, *bundle_info.BAKED_PATH.split("/")), "ab") as baked:
        baked.write(b"\xff\n")
    path = str(tmp_path / "doctor.xml")
    err = one_line_status_2(capsys, exe, "--junit-xml", path)
    _, cases = junit_cases(path)
    assert list(cases.values()) == [("error", err.split(": ", 1)[1].rstrip("\n"), err.split(": ", 1)[1].rstrip("\n"))]
    # A report that cannot be written: one line, status 2, before the bundle is looked at.
    with pytest.raises(SystemExit) as stopped:
        command_line.main(["doctor", "--junit-xml", str(tmp_path / "missing" / "doctor.xml"), exe])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1 and "its folder does not exist" in err, err


@POSIX_ONLY
def test_a_bundle_that_relaunches_itself_is_reported_within_the_time_limit(builder, capsys, monkeypatch):
    # Stock PyInstaller's no_freeze_support starts itself again and again. Were the doctor to take it for oxmp's (its
    # files made to look so), the contained run must still end within the time limit, and the report say why. The
    # control: the oxmp bundle of the same app answers.
    from oxmp_hooks.tools import bundle_info

    stock = builder.build("no_freeze_support", way=bundles.STOCK)
    inspect = bundle_info.inspect

    def taken_for_oxmps(executable):
        info = inspect(executable)
        info.has_oxmp, info.multiprocessing_hook = True, "oxmp"
        return info

    monkeypatch.setattr(bundle_info, "inspect", taken_for_oxmps)
    timeout = 30
    status, text = run_doctor(capsys, "--timeout", str(timeout), stock.exe)
    assert status == 1, text
    assert (
        "FAIL the bundle does not start itself again and again (it started processes until the doctor's "
        "process cap of %d stopped it" % doctor.MAX_PROCS in text
    ), text
    assert "hint: each process it starts runs the app again" in text
    assert "The doctor ran the bundle (contained): it started itself again and again until it was stopped." in text
    report = doctor.diagnose(stock.exe, timeout)
    assert report["run"]["relaunched"] is True and report["run"]["seconds"] < timeout, report["run"]
    monkeypatch.setattr(bundle_info, "inspect", inspect)
    status, text = run_doctor(capsys, builder.build("no_freeze_support").exe)  # the control
    assert status == 0, text


def test_help_lists_every_command(capsys):
    # `python -m oxmp_hooks --help` lists each command with a line of help, and each command it lists answers its own
    # --help: `doctor` is dispatched before the top-level parser, yet listed.
    with pytest.raises(SystemExit) as exited:
        command_line.main(["--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    listed = re.findall(r"^    (\w+) +\S", out, re.MULTILINE)
    assert sorted(listed) == ["doctor", "run"], out
    for command in listed:
        with pytest.raises(SystemExit) as exited:
            command_line.main([command, "--help"])
        assert exited.value.code == 0
        assert capsys.readouterr().out.startswith("usage: python -m oxmp_hooks %s " % command)
