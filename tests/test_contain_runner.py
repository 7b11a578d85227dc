"""`python -m oxmp_hooks run` and ``oxmp_hooks.tools.contain.run()``: a contained run means every descendant.

An app (tests/apps/escapee.py) starts children that leave its session (setsid), or detach as daemons do, and exits:
every one of them must be counted while the run lasts and be gone when it ends. The control: the same children
without setsid, which the process group alone already caught. Then the app turns on its keeper: it kills or stops
it, or kills its own process group; the run ends at once, says what happened, and leaves nothing (as root, through the
run's cgroup; the suite's unprivileged app cannot reach its keeper; a runner without root says what it could not
find). Then what the test suite's runner (tests/contain.py) adds to oxmp's: each option reaches the app through oxmp's
keeper. Then the command line: every bad argument (every time limit that is not one, among them) and a missing
executable are one line and exit status 2. The last test does the same with a real bundle of the app.
"""

import os
import shutil
import subprocess
import sys
import uuid

import pytest

from oxmp_hooks.tools import cgroup, contain as shipped
from tests import bundles, contain

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a child subreaper is Linux's")

ESCAPEE = os.path.join(bundles.APPS, "escapee.py")
WAYS = ["plain", "setsid", "daemon"]


def with_marker(marker):
    """Live processes whose command line holds ``marker``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as cmdline:
                if marker.encode() in cmdline.read().split(b"\0"):
                    with open("/proc/%s/stat" % name, "rb") as stat:
                        if stat.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                            found.append(int(name))
        except OSError:
            continue
    return found


def kill_all(pids):
    # Clean-up of a failed test only: these are the test's own processes, found by its unique marker.
    for pid in pids:
        try:
            os.kill(pid, 9)
        except OSError:
            pass


@pytest.fixture
def marker():
    value = "oxmp-escapee-%s" % uuid.uuid4().hex
    yield value
    kill_all(with_marker(value))


@pytest.mark.parametrize("how", WAYS)
def test_every_descendant_is_killed(how, marker, tmp_path):
    # oxmp's runner, as its commands call it. As root the app runs as root: the watchdog is the cap.
    result = shipped.run([sys.executable, ESCAPEE, marker, how, "3"], timeout=30, cwd=str(tmp_path))
    assert result.returncode == 0 and "STARTED 3" in result.stdout, result
    assert with_marker(marker) == []


@pytest.mark.parametrize("how", WAYS)
def test_the_suites_runner_reports_the_descendants_left(how, marker, tmp_path):
    # As root the app runs as root (the unprivileged user may not run this interpreter).
    result = contain.run(
        [sys.executable, ESCAPEE, marker, how, "3"], timeout=30, linger=0.5, cwd=str(tmp_path), unprivileged=False
    )
    assert result.returncode == 0 and "STARTED 3" in result.stdout, result
    # Still running when the app had exited, so reported, and then killed: none is left.
    assert len(result.leftovers) == 3, result
    assert with_marker(marker) == []


@pytest.mark.parametrize("how", WAYS)
def test_the_watchdog_counts_every_descendant(how, marker, tmp_path):
    # Unprivileged=False: as root the process cap does not bind, and only the watchdog can stop it.
    result = contain.run(
        [sys.executable, ESCAPEE, marker, how, "12"],
        timeout=30,
        max_procs=8,
        linger=10,
        cwd=str(tmp_path),
        unprivileged=False,
    )
    assert result.bombed, result
    assert result.peak_procs > 8
    assert with_marker(marker) == []


def test_timeout_kills_descendants_too(marker, tmp_path):
    script = (
        "import os, subprocess, sys, time\nsubprocess.Popen([sys.executable, %r, %r, 'daemon', '2'])\n"
        "time.sleep(600)\n" % (ESCAPEE, marker)
    )
    result = shipped.run([sys.executable, "-c", script], timeout=3, cwd=str(tmp_path))
    assert result.timed_out and result.returncode == shipped.TIMEOUT_STATUS
    assert with_marker(marker) == []


# --- An app against its keeper ---------------------------------------------------------------------------------------
# The app kills or stops its keeper (its parent), or kills its own process group (`kill -KILL 0`), after starting a
# child that left the session. Whatever it does, the run ends at once (not at its time limit: the app then sleeps ten
# minutes), its status says what happened, and nothing of the app is left.

THEN = ["kill-keeper", "stop-keeper", "kill-group"]
LOST = {"kill-keeper": "killed by SIGKILL", "stop-keeper": "stopped by SIGSTOP"}


def run_has_a_cgroup():
    group = cgroup.Cgroup.make(1)
    if group is None:
        return False
    group.remove()
    return True


def python_for_others():
    """An interpreter that any user may run (a virtual environment's may sit in root's home), or None."""
    for path in (sys.executable, getattr(sys, "_base_executable", None), "/usr/bin/python3"):
        if path and os.path.exists(path) and _open_to_others(os.path.realpath(path)):
            return os.path.realpath(path)
    return None


def _open_to_others(path):
    if os.stat(path).st_mode & 0o005 != 0o005:
        return False
    folder = os.path.dirname(path)
    while folder != os.path.dirname(folder):
        if not os.stat(folder).st_mode & 0o001:
            return False
        folder = os.path.dirname(folder)
    return True


@pytest.mark.skipif(not run_has_a_cgroup(), reason="no cgroup v2 folder this runner may write to (root, delegation)")
@pytest.mark.parametrize("then", THEN + [None])
def test_an_app_that_kills_or_stops_its_keeper_ends_the_run_and_leaves_nothing(then, marker, tmp_path):
    # oxmp's runner, as its commands call it. As root, the app runs as root and may signal its keeper: the run's
    # cgroup holds every process all the same. The control (None): the app leaves its keeper alone.
    result = shipped.run(
        [sys.executable, ESCAPEE, marker, "setsid", "2"] + ([then] if then else []), timeout=120, cwd=str(tmp_path)
    )
    assert "STARTED 2" in result.stdout and not result.timed_out, result
    assert with_marker(marker) == []
    if then in LOST:
        assert result.returncode == shipped.KEEPER_LOST_STATUS, result
        assert result.lost_keeper == LOST[then] + ": the run was ended there, and every process of it killed", result
    else:
        assert result.lost_keeper is None, result
        assert result.returncode == (-9 if then == "kill-group" else 0), result


@pytest.mark.skipif(not run_has_a_cgroup(), reason="no cgroup v2 folder this runner may write to (root, delegation)")
@pytest.mark.parametrize("with_cgroup_kill", [True, False], ids=["cgroup.kill", "one-by-one"])
def test_the_runs_cgroup_kills_all_in_it_and_goes(with_cgroup_kill, marker, monkeypatch, tmp_path):
    # The app kills its keeper, leaving three children that left its session: the cgroup finds them, with
    # cgroup.kill or, as before Linux 5.14, one by one; then it is removed.
    made = []
    make, write = cgroup.Cgroup.make, cgroup.Cgroup._write
    monkeypatch.setattr(cgroup.Cgroup, "make", classmethod(lambda cls, cap: made.append(make(cap)) or made[-1]))
    if not with_cgroup_kill:
        monkeypatch.setattr(
            cgroup.Cgroup, "_write", lambda self, name, text: name != "cgroup.kill" and write(self, name, text)
        )
    result = shipped.run(
        [sys.executable, ESCAPEE, marker, "setsid", "3", "kill-keeper"], timeout=120, cwd=str(tmp_path)
    )
    assert result.lost_keeper.startswith("killed by SIGKILL: the run was ended there, and every"), result
    assert with_marker(marker) == []
    assert len(made) == 1 and not os.path.exists(made[0].path)


@pytest.mark.skipif(not contain.drops_privileges(), reason="as root only: the suite's runner switches users as root")
@pytest.mark.parametrize("then", THEN)
def test_an_unprivileged_app_cannot_reach_its_keeper(then, marker, tmp_path):
    # The suite's runner as root: the app runs as a user of its own, the keeper as root, out of the app's reach.
    python = python_for_others()
    if python is None:
        pytest.skip("no interpreter that another user may run")
    app = shutil.copy(ESCAPEE, str(tmp_path))
    contain.make_accessible(str(tmp_path))
    result = contain.run(
        [python, "-I", "-S", app, marker, "setsid", "2", then], timeout=120, cwd=str(tmp_path), linger=0.5
    )
    assert "STARTED 2" in result.stdout and not result.timed_out and result.lost_keeper is None, result
    if then == "kill-group":  # its own group: that it may kill, and the keeper is not in it
        assert result.returncode == -9, result
    else:
        assert result.returncode == 0 and "%s refused" % then in result.stdout, result
    assert len(result.leftovers) == 2, result  # the children, outliving the app, until the keeper killed them
    assert with_marker(marker) == []


@pytest.mark.skipif(not contain.drops_privileges(), reason="as root only: runs oxmp's runner as another user")
@pytest.mark.skipif(sys.version_info < (3, 9), reason="subprocess's user= is Python 3.9's")
@pytest.mark.parametrize("then", THEN)
def test_a_runner_without_root_says_what_a_lost_keeper_left(then, marker, tmp_path):
    # `python -m oxmp_hooks run` as a user without root, and so (here, unless that user has a cgroup subtree of its
    # own) without a cgroup: the app and its keeper are one user's. The run still ends at once and says what happened.
    python = python_for_others()
    if python is None:
        pytest.skip("no interpreter that another user may run")
    shutil.copytree(
        os.path.dirname(os.path.dirname(shipped.__file__)),
        str(tmp_path / "oxmp_hooks"),
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    app = shutil.copy(ESCAPEE, str(tmp_path))
    contain.make_accessible(str(tmp_path))
    uid, gid = contain.unprivileged_ids()
    runner = subprocess.run(
        [python, "-m", "oxmp_hooks", "run", "--timeout", "120", python, "-I", "-S", app, marker, "setsid", "2", then],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=300,
        cwd=str(tmp_path),
        user=uid,
        group=gid,
        extra_groups=[],
        env={"PYTHONPATH": str(tmp_path), "PATH": os.defpath},
    )
    assert "STARTED 2" in runner.stdout and "stopped after" not in runner.stderr, runner
    if then == "kill-group":
        assert runner.returncode == 128 + 9 and runner.stderr == "", runner
        assert with_marker(marker) == []
        return
    assert runner.returncode == shipped.KEEPER_LOST_STATUS, runner
    assert runner.stderr.startswith("oxmp run: the app's keeper was %s: the run was ended there" % LOST[then]), runner
    if "every process of it killed" in runner.stderr or then == "stop-keeper":
        # With a cgroup, or with a keeper that was only stopped (the runner wakes it to kill what it keeps).
        assert with_marker(marker) == []
    else:
        # Without a cgroup, a killed keeper's children that left the session are init's: the run says so.
        assert "those of its processes that had left its session may still run" in runner.stderr, runner


# --- What the suite's runner adds (tests/contain.py) -----------------------------------------------------------------

PYTHON_SAYS = [sys.executable, "-I", "-S", "-c"]


def test_the_suites_runner_hands_the_app_stdin():
    result = contain.run(
        PYTHON_SAYS + ["import sys; print(sys.stdin.read())"], stdin=b"from the parent", unprivileged=False
    )
    assert result.stdout == "from the parent\n", result
    control = contain.run(PYTHON_SAYS + ["import sys; print(repr(sys.stdin.read()))"], unprivileged=False)
    assert control.stdout == "''\n", control  # /dev/null


def test_the_suites_runner_passes_descriptors_under_their_numbers():
    read_end, write_end = os.pipe()
    try:
        code = "import os; os.write(%d, b'through the pipe'); print('wrote')" % write_end
        result = contain.run(PYTHON_SAYS + [code], pass_fds=(write_end,), unprivileged=False)
        assert result.returncode == 0 and result.stdout == "wrote\n", result
        assert os.read(read_end, 100) == b"through the pipe"
        control = contain.run(PYTHON_SAYS + [code], unprivileged=False)  # not passed: the app has no such descriptor
        assert control.returncode == 1 and "Bad file descriptor" in control.stderr, control
    finally:
        os.close(read_end)
        os.close(write_end)


def test_the_suites_runner_can_start_the_app_without_stderr():
    code = "import os, sys\ntry:\n    os.fstat(2)\nexcept OSError:\n    print('no stderr')\nelse:\n    print('stderr')"
    assert contain.run(PYTHON_SAYS + [code], stderr_closed=True, unprivileged=False).stdout == "no stderr\n"
    assert contain.run(PYTHON_SAYS + [code], unprivileged=False).stdout == "stderr\n"


@pytest.mark.skipif(not contain.drops_privileges(), reason="as root only: the runner switches users as root")
def test_the_suites_runner_runs_the_app_as_its_own_unprivileged_user():
    # /usr/bin/id is readable by every user; the test's interpreter may not be.
    result = contain.run(["id", "-u"])
    assert result.stdout == "%d\n" % contain.unprivileged_ids()[0], result
    assert contain.run(["id", "-u"], unprivileged=False).stdout == "0\n"  # the control: oxmp's runner's user


@pytest.mark.skipif(not contain.drops_privileges(), reason="as root only")
def test_the_suites_runner_refuses_root_without_a_cap():
    # As root, RLIMIT_NPROC does not bind: without the watchdog nothing would stop a fork bomb.
    with pytest.raises(ValueError, match="as root"):
        contain.run(["true"], unprivileged=False, watch=False)
    assert contain.run(["true"], watch=False).returncode == 0  # unprivileged: the cap binds


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), -1.0, 0, 1e10, 10**400, "abc", True, None])
def test_runner_refuses_a_time_limit_that_is_none(timeout):
    with pytest.raises(ValueError, match="is not a number of seconds above 0 and at most 604800"):
        shipped.run(["true"], timeout=timeout)


@pytest.mark.parametrize("timeout", [5, 0.5, "5", shipped.MAX_TIMEOUT])
def test_runner_takes_a_time_limit_up_to_a_week(timeout):
    # The control: numbers (and their text) above 0 and at most a week.
    assert shipped.run(["true"], timeout=timeout).returncode == 0


@pytest.mark.parametrize("max_procs", [0, -1, 2.5, 10**400, shipped.MAX_PROCS + 1, "many", True])
def test_runner_refuses_a_process_cap_that_is_none(max_procs):
    with pytest.raises(ValueError, match="is not a whole number from 1 to"):
        shipped.run(["true"], max_procs=max_procs)
    assert shipped.run(["true"], max_procs=shipped.MAX_PROCS).returncode == 0  # the control


def test_missing_executable_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        shipped.run([str(tmp_path / "missing")], timeout=5)


def command_line(*args):
    """`python -m oxmp_hooks ARGS` as a user runs it: (exit status, stdout, stderr)."""
    process = subprocess.run(
        [sys.executable, "-m", "oxmp_hooks"] + list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
    )
    return process.returncode, process.stdout, process.stderr


BAD_TIMEOUTS = ["1e10", "nan", "inf", "-1", "0", "abc", "1e400", "", "9" * 5000, "604800.5"]
TIMEOUT_SAYS = "argument --timeout: %s is not a number of seconds above 0 and at most 604800 (a week)"


def quoted(text):
    # As the refusal quotes a value: its repr, cut at 40 characters.
    return repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "..."


@pytest.mark.parametrize(
    "args, says",
    [
        (["run", "--max-procs", "0", "true"], "argument --max-procs: '0' is not a whole number from 1 to 4194304"),
        (
            ["run", "--max-procs", "1" + "0" * 30, "true"],
            "argument --max-procs: '1000000000000000000000000000000' is not",
        ),
        (["run", "/nonexistent/oxmp-app"], "cannot run /nonexistent/oxmp-app: No such file or directory"),
        (["run"], "the following arguments are required"),
        (["launch", "true"], "invalid choice: 'launch'"),
        (["doctor"], "the following arguments are required: executable"),
        (["doctor", "/nonexistent/oxmp-app"], "/nonexistent/oxmp-app is not a file"),
    ]
    + [
        ([command, "--timeout", timeout, "true"], TIMEOUT_SAYS % quoted(timeout))
        for command in ("run", "doctor")
        for timeout in BAD_TIMEOUTS
    ],
)
def test_bad_arguments_are_one_line_and_status_2(args, says):
    status, out, err = command_line(*args)
    assert status == 2 and out == "", (status, out, err)
    assert err.count("\n") == 1 and says in err and "Traceback" not in err, err


@pytest.mark.parametrize("timeout", ["604800", "3e1", " 7 ", "1_0"])
def test_good_time_limits_get_past_the_command_line(timeout):
    # The control: `run` runs the app; the doctor goes on to look at the executable (which is missing).
    assert command_line("run", "--timeout", timeout, "true") == (0, "", "")
    status, out, err = command_line("doctor", "--timeout", timeout, "/nonexistent/oxmp-app")
    assert status == 2 and "/nonexistent/oxmp-app is not a file" in err and "--timeout" not in err, err


def test_good_arguments_run_the_app():
    # The control: the same command line with good values runs the app and passes its exit status on.
    status = command_line("run", "--timeout", "30", "--max-procs", "4", "sh", "-c", "echo ran; exit 3")
    assert status == (3, "ran\n", "")


@pytest.mark.bundle
@pytest.mark.parametrize("onefile", [False, True], ids=["onedir", "onefile"])
def test_bundle_run_from_the_command_line_leaves_nothing(builder, marker, onefile, tmp_path):
    # A bundle whose children leave the session: `python -m oxmp_hooks run` ends them all. The control: the same with
    # children that stay in the session.
    bundle = builder.build("escapee", onefile=onefile)
    for how in ("plain", "setsid", "daemon"):
        status, out, err = command_line("run", "--timeout", "60", bundle.exe, marker, how, "2")
        assert status == 0 and "STARTED 2" in out, (how, status, out, err)
        assert with_marker(marker) == [], how
    if onefile or not run_has_a_cgroup():
        return  # a onefile app's parent is its bootloader, not the keeper
    # The bundle kills or stops its keeper, or kills its process group: the run ends at once all the same.
    for then in THEN:
        status, out, err = command_line("run", "--timeout", "60", bundle.exe, marker, "setsid", "2", then)
        assert "STARTED 2" in out and "stopped after" not in err, (then, status, out, err)
        assert status == (shipped.KEEPER_LOST_STATUS if then in LOST else 128 + 9), (then, status, out, err)
        assert with_marker(marker) == [], then
