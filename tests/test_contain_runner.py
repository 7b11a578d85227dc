"""`python -m oxmp_hooks run` and ``oxmp_hooks.tools.contain.run()``: a contained run means every descendant.

An app (tests/apps/escapee.py) starts children that leave its session (setsid), or detach as daemons do, and exits:
every one of them must be counted while the run lasts and be gone when it ends. The control: the same children
without setsid, which the process group alone already caught. Then what the test suite's runner (tests/contain.py)
adds to oxmp's: each option reaches the app through oxmp's keeper. Then the command line: bad arguments and a missing
executable are one line and exit status 2. The last test does the same with a real bundle of the app.
"""

import os
import subprocess
import sys
import uuid

import pytest

from oxmp_hooks.tools import contain as shipped
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
    result = contain.run([sys.executable, ESCAPEE, marker, how, "3"], timeout=30, linger=0.5, cwd=str(tmp_path),
                         unprivileged=False)
    assert result.returncode == 0 and "STARTED 3" in result.stdout, result
    # Still running when the app had exited, so reported, and then killed: none is left.
    assert len(result.leftovers) == 3, result
    assert with_marker(marker) == []


@pytest.mark.parametrize("how", WAYS)
def test_the_watchdog_counts_every_descendant(how, marker, tmp_path):
    # Unprivileged=False: as root the process cap does not bind, and only the watchdog can stop it.
    result = contain.run([sys.executable, ESCAPEE, marker, how, "12"], timeout=30, max_procs=8, linger=10,
                         cwd=str(tmp_path), unprivileged=False)
    assert result.bombed, result
    assert result.peak_procs > 8
    assert with_marker(marker) == []


def test_timeout_kills_descendants_too(marker, tmp_path):
    script = "import os, subprocess, sys, time\nsubprocess.Popen([sys.executable, %r, %r, 'daemon', '2'])\n" \
             "time.sleep(600)\n" % (ESCAPEE, marker)
    result = shipped.run([sys.executable, "-c", script], timeout=3, cwd=str(tmp_path))
    assert result.timed_out and result.returncode == shipped.TIMEOUT_STATUS
    assert with_marker(marker) == []


# --- What the suite's runner adds (tests/contain.py) -----------------------------------------------------------------

PYTHON_SAYS = [sys.executable, "-I", "-S", "-c"]


def test_the_suites_runner_hands_the_app_stdin():
    result = contain.run(PYTHON_SAYS + ["import sys; print(sys.stdin.read())"], stdin=b"from the parent",
                         unprivileged=False)
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


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), -1.0, 0])
def test_runner_refuses_a_time_limit_that_is_none(timeout):
    with pytest.raises(ValueError, match="time limit"):
        shipped.run(["true"], timeout=timeout)
    assert shipped.run(["true"], timeout=5).returncode == 0  # the control


def test_missing_executable_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        shipped.run([str(tmp_path / "missing")], timeout=5)


def command_line(*args):
    """`python -m oxmp_hooks ARGS` as a user runs it: (exit status, stdout, stderr)."""
    process = subprocess.run([sys.executable, "-m", "oxmp_hooks"] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    return process.returncode, process.stdout, process.stderr


@pytest.mark.parametrize("args, says", [
    (["run", "--timeout", "nan", "true"], "argument --timeout: 'nan' is not a number of seconds above 0"),
    (["run", "--timeout", "inf", "true"], "argument --timeout: 'inf' is not a number of seconds above 0"),
    (["run", "--timeout", "-5", "true"], "argument --timeout: '-5' is not a number of seconds above 0"),
    (["run", "--timeout", "soon", "true"], "argument --timeout: 'soon' is not a number of seconds above 0"),
    (["run", "--max-procs", "0", "true"], "argument --max-procs: '0' is not a whole number above 0"),
    (["run", "/nonexistent/oxmp-app"], "cannot run /nonexistent/oxmp-app: No such file or directory"),
    (["run"], "the following arguments are required"),
    (["launch", "true"], "invalid choice: 'launch'"),
    (["doctor", "--timeout", "nan", "/bin/true"], "argument --timeout: 'nan' is not a number of seconds above 0"),
    (["doctor"], "the following arguments are required: executable"),
    (["doctor", "/nonexistent/oxmp-app"], "/nonexistent/oxmp-app is not a file"),
])
def test_bad_arguments_are_one_line_and_status_2(args, says):
    status, out, err = command_line(*args)
    assert status == 2 and out == "", (status, out, err)
    assert err.count("\n") == 1 and says in err and "Traceback" not in err, err


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
