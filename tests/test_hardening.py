"""What docs/security.md promises, tried on real bundles as an attacker would: a bundle's argv, environment and stdin
are data. Nothing named there runs code or deletes anything; every malformed input gets one line and exit status 2.

Each attack has a marker that must never appear or a victim that must survive. Where a test could pass for the wrong
reason (the bundle's user could not have done the damage anyway), a control run shows the damage when the parent is
genuine: the bundle's own process (tests/apps/as_parent.py), handing over pipes and a socket it made itself, which is
what only a running process of the app can do.
"""

import base64
import inspect
import json
import os
import pickle
import sys

import pytest

from tests import bundles, contain
from tests.test_refusals import FLAGS, assert_refused

pytestmark = [pytest.mark.bundle, pytest.mark.skipif(sys.platform == "win32", reason="POSIX descriptors")]

LOKY = "joblib.externals.loky.backend"


@pytest.fixture(scope="module")
def app(builder):
    return builder.build("mp_matrix")  # the runtime matrix's onedir bundle: shared


@pytest.fixture(scope="module")
def joblib_bundle(builder):
    return builder.build("joblib_app")  # shared with tests/test_joblib.py


class Marker:
    """A file that a pickle, a script or a module creates when it runs: it must never exist."""

    def __init__(self, folder):
        self.path = os.path.join(folder, "PWNED")

    def __reduce__(self):
        return (open, (self.path, "w"))

    def script(self, folder, name="evil"):
        path = os.path.join(folder, name + ".py")
        with open(path, "w") as script:
            script.write("open(%r, 'w').close()\n" % self.path)
        os.chmod(path, 0o644)
        return path

    @property
    def exists(self):
        return os.path.exists(self.path)


class Slot:
    """A descriptor the genuine parent makes (``PIPE0``, ``LISTENER``), written into a command line's code."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


def as_parent(bundle, run, cwd, argv, pipes=(), listener=None, keep_write_ends=False, **kwargs):
    """Run ``bundle`` as the genuine parent of ``bundle argv``: it makes a pipe holding each of ``pipes`` (bytes;
    ``PIPE0``... in argv) and a listening socket named ``listener`` (``LISTENER``), starts itself with them, and exits
    with its child's status (tests/apps/as_parent.py)."""
    spec = os.path.join(cwd, "as-parent.json")
    with open(spec, "w") as spec_file:
        json.dump(
            {
                "argv": list(argv),
                "pipes": [base64.b64encode(data).decode() for data in pipes],
                "keep_write_ends": keep_write_ends,
                "listener": listener,
            },
            spec_file,
        )
    os.chmod(spec, 0o644)
    env = dict(kwargs.pop("env", {}), OXMP_TEST_AS_PARENT=spec)
    return run(bundle, cwd=cwd, env=env, **kwargs)


def run_forkserver(app, run, cwd, preload, socket_name="listener-oxmptest", **kwargs):
    """Run the bundle as a forkserver helper of its own genuine parent (``as_parent``): a listening Unix socket (named
    as multiprocessing names it, unless ``socket_name`` says otherwise) and a pipe that has ended. Keyword arguments
    whose value is ``PIPE`` get a pipe of their own."""
    pipes = [b""]
    for key, value in kwargs.items():
        if value is PIPE:
            kwargs[key] = Slot("PIPE%d" % len(pipes))
            pipes.append(b"")
    code = forkserver_code(Slot("LISTENER"), Slot("PIPE0"), preload, **kwargs)
    return as_parent(app, run, cwd, FLAGS + ["-c", code], pipes=pipes, listener=socket_name)


PIPE = object()


def victim_folder(root):
    """A folder the bundle's (unprivileged) user could delete."""
    folder = bundles.scratch_dir(root)
    victim = os.path.join(folder, "victim")
    os.mkdir(victim)
    with open(os.path.join(victim, "keep"), "w"):
        pass
    if contain.drops_privileges():
        uid, gid = contain.unprivileged_ids()
        for path in (victim, os.path.join(victim, "keep")):
            os.chown(path, uid, gid)
    return victim


# --- argv alone -----------------------------------------------------------------------------------------------------


def forkserver_code(listener_fd, alive_fd, preload, **kwargs):
    return "from multiprocessing.forkserver import main; main(%r, %r, %r, **%r)" % (
        listener_fd,
        alive_fd,
        preload,
        kwargs,
    )


def test_forkserver_main_path_from_argv_never_runs(app, run, bundle_root):
    cwd = bundles.scratch_dir(bundle_root)
    marker = Marker(cwd)
    evil = marker.script(cwd)
    # Standard streams as descriptors (all that argv alone can name), closed ones, and genuine ones with a path that
    # is not the bundle's entry script.
    assert_refused(run(app, *FLAGS, "-c", forkserver_code(0, 0, ["__main__"], main_path=evil), cwd=cwd))
    assert_refused(run(app, *FLAGS, "-c", forkserver_code(97, 98, ["__main__"], main_path=evil), cwd=cwd))
    result = run_forkserver(app, run, cwd, ["__main__"], main_path=evil)
    assert_refused(result)
    assert "is not this bundle's entry script" in result.stderr
    assert not marker.exists


def test_forkserver_preload_and_sys_path_from_argv_never_import(app, run, bundle_root):
    cwd = bundles.scratch_dir(bundle_root)
    marker = Marker(cwd)
    marker.script(cwd, "oxmp_evil_module")
    for fds in ((0, 1), (97, 98)):
        assert_refused(run(app, *FLAGS, "-c", forkserver_code(*fds, ["oxmp_evil_module"], sys_path=[cwd]), cwd=cwd))
    assert not marker.exists


@pytest.mark.parametrize("socket_name", ["listener-oxmptest", "sock-oxmptest"])  # up to Python 3.13, from 3.14
def test_forkserver_with_genuine_descriptors_starts(app, run, bundle_root, socket_name):
    # The control for the two tests above: with what a genuine parent hands over, the same command line is accepted.
    # The forkserver serves until its alive pipe ends, which here it has already.
    result = run_forkserver(app, run, bundles.scratch_dir(bundle_root), [], socket_name=socket_name)
    assert result.returncode == 0, result
    assert "oxmp: " not in result.stderr and "MODULE-LEVEL" not in result.stderr


def test_a_listening_socket_of_someone_else_is_not_the_forkservers(app, run, bundle_root):
    # A service manager may hand an app a listening socket (socket activation): not multiprocessing's.
    result = run_forkserver(app, run, bundles.scratch_dir(bundle_root), [], socket_name="app.sock")
    assert_refused(result)
    assert "is not a listening Unix socket" in result.stderr


def test_a_keyword_this_python_does_not_take_is_refused(app, run, bundle_root):
    from multiprocessing import forkserver

    from _oxmp_runtime import commands

    unknown = sorted(set(commands.FORKSERVER_KEYWORDS) - set(inspect.signature(forkserver.main).parameters))
    if not unknown:
        pytest.skip("this Python's forkserver.main() takes every keyword oxmp knows")
    value = PIPE if unknown[0] == "authkey_r" else None
    result = run_forkserver(app, run, bundles.scratch_dir(bundle_root), [], **{unknown[0]: value})
    assert_refused(result)
    assert "takes no keyword %s" % unknown[0] in result.stderr


# --- argv and stdin -------------------------------------------------------------------------------------------------


def test_a_pickle_on_stdin_is_never_unpickled(app, joblib_bundle, run, bundle_root):
    cwd = bundles.scratch_dir(bundle_root)
    marker = Marker(cwd)
    payload = pickle.dumps(marker)
    assert_refused(run(app, "--multiprocessing-fork", "pipe_handle=0", stdin=payload, cwd=cwd))
    assert_refused(run(app, "--multiprocessing-fork", "tracker_fd=1", "pipe_handle=0", stdin=payload, cwd=cwd))
    assert_refused(
        run(
            joblib_bundle,
            "-m",
            LOKY + ".popen_loky_posix",
            "--process-name",
            "x",
            "--pipe",
            "0",
            stdin=payload,
            cwd=cwd,
        )
    )
    assert not marker.exists


def test_a_worker_pipe_read_from_the_wrong_end_is_refused(app, run):
    read_end, write_end = os.pipe()
    try:
        result = run(app, "--multiprocessing-fork", "pipe_handle=%d" % write_end, pass_fds=(write_end,))
    finally:
        os.close(read_end)
        os.close(write_end)
    assert_refused(result)
    assert "is not the read end of a pipe" in result.stderr


# --- A standard stream under another number, a pipe its parent does not write to ---------------------------------

# A wrapper that gives the app its standard input under another number too, and passes its arguments on: all that
# whoever controls the app's argv and stdin needs (`exec 3<&0`). The first argument is the descriptor's number.
UNDER_ANOTHER_NUMBER = ("/bin/sh", "-c", 'fd=$1; shift; eval "exec $fd<&0"; exec "$@"', "sh")


def test_stdin_under_another_number_is_never_unpickled(app, joblib_bundle, run, bundle_root):
    cwd = bundles.scratch_dir(bundle_root)
    marker = Marker(cwd)
    payload = pickle.dumps(marker)
    attacks = [
        (app, "5", "--multiprocessing-fork", "pipe_handle=5"),
        (app, "5", "--multiprocessing-fork", "tracker_fd=6", "pipe_handle=5"),
        (joblib_bundle, "6", "-m", LOKY + ".popen_loky_posix", "--process-name", "x", "--pipe", "6"),
    ]
    for bundle, fd, *args in attacks:
        result = run(bundle, *args, stdin=payload, cwd=cwd, wrapper=UNDER_ANOTHER_NUMBER + (fd,))
        assert_refused(result)
        assert "is this process's standard input under another number" in result.stderr
    assert not marker.exists


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm to see the segment")
def test_the_resource_tracker_takes_no_orders_from_stdin_under_another_number(
    app, joblib_bundle, run, bundle_root, shared_memory_victim
):
    name, path = shared_memory_victim
    victim = victim_folder(bundle_root)
    trackers = [
        (app, "5", "from multiprocessing.resource_tracker import main;main(5)", "%s:shared_memory" % name),
        (joblib_bundle, "7", "from %s.resource_tracker import main; main(7, False)" % LOKY, "%s:folder" % victim),
    ]
    for bundle, fd, code, order in trackers:
        result = run(
            bundle, *FLAGS, "-c", code, stdin=("REGISTER:%s\n" % order).encode(), wrapper=UNDER_ANOTHER_NUMBER + (fd,)
        )
        assert_refused(result)
        assert "standard input under another number" in result.stderr
    assert os.path.exists(path) and os.path.exists(victim)


LINUX_PROC = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux: /proc shows who started a process")


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def app_layout(builder, request):
    return builder.build("mp_matrix", onefile=request.param == "onefile")  # shared with the runtime matrix


@LINUX_PROC
def test_a_worker_pipe_not_made_by_the_app_is_refused(app_layout, run, bundle_root):
    # Attack: a shell of the bundle's user hands over a pipe holding a pickle (it holds the write end, as a genuine
    # parent would). Onefile: the bundle's first process, which only waits, is looked through to that shell.
    # Control: the bundle's own process makes the same pipe, and the worker takes the pickle (the marker appears;
    # what the pickle made is no task, so the worker then fails as under python, with a traceback and no refusal).
    cwd = bundles.scratch_dir(bundle_root)
    marker = Marker(cwd)
    read_end, write_end = os.pipe()
    os.write(write_end, pickle.dumps(marker))
    try:
        attack = run(
            app_layout,
            "--multiprocessing-fork",
            "pipe_handle=%d" % read_end,
            cwd=cwd,
            pass_fds=(read_end, write_end),
            wrapper=bundles.SHELL_PARENT,
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    assert_refused(attack)
    assert "pipe_handle=%d was not made by this app: the process that started this one" % read_end in attack.stderr
    assert not marker.exists
    control = as_parent(
        app_layout,
        run,
        cwd,
        ["--multiprocessing-fork", "pipe_handle=PIPE0"],
        pipes=[pickle.dumps(marker)],
        keep_write_ends=True,
    )
    assert marker.exists, control
    assert "oxmp: refusing" not in control.stderr and "Traceback" in control.stderr, control


# A wrapper that opens a named FIFO read-write under descriptor 3 (`exec app 3<>ctl.fifo`, the usual way to hold a
# control FIFO open), writes a file into it, and runs its arguments: FIFO PAYLOAD COMMAND...
FIFO_WRAPPER = ("/bin/sh", "-c", 'exec 3<>"$1"; cat "$2" >&3; shift 2; exec "$@"', "sh")


def test_a_named_fifo_is_never_a_pipe(app_layout, joblib_bundle, run, bundle_root):
    cwd = bundles.scratch_dir(bundle_root)
    marker = Marker(cwd)
    fifo, payload = os.path.join(cwd, "ctl.fifo"), os.path.join(cwd, "payload")
    os.mkfifo(fifo)
    os.chmod(fifo, 0o666)  # whoever runs the app may open it
    with open(payload, "wb") as payload_file:
        payload_file.write(pickle.dumps(marker))
    os.chmod(payload, 0o644)
    for bundle, args in (
        (app_layout, ["--multiprocessing-fork", "pipe_handle=3"]),
        (joblib_bundle, ["-m", LOKY + ".popen_loky_posix", "--process-name", "x", "--pipe", "3"]),
    ):
        result = run(bundle, *args, cwd=cwd, wrapper=FIFO_WRAPPER + (fifo, payload))
        assert_refused(result)
        assert "=3 is a named FIFO, not a pipe" in result.stderr or "--pipe=3 is a named FIFO" in result.stderr
    assert not marker.exists


# A wrapper whose background child outlives it: the bundle starts as an orphan, adopted by a reaper, with a pipe that
# `cat` writes PAYLOAD into (`( app ... 5< <(cat payload) & )`). It waits for the orphan, so that its line is read.
# Arguments: PAYLOAD COMMAND...
ORPHAN_WRAPPER = (
    "/bin/bash",
    "-c",
    'payload=$1; shift; ( "$@" 5< <(cat "$payload") & echo $! > orphan.pid ); '
    'while kill -0 "$(cat orphan.pid)" 2>/dev/null; do sleep 0.05; done',
    "bash",
)


@LINUX_PROC
def test_an_orphan_worker_or_tracker_is_refused(app_layout, joblib_bundle, run, bundle_root, shared_memory_victim):
    name, path = shared_memory_victim
    cwd = bundles.scratch_dir(bundle_root)
    marker = Marker(cwd)
    victim = victim_folder(bundle_root)
    orders = [
        (app_layout, ["--multiprocessing-fork", "pipe_handle=5"], pickle.dumps(marker, protocol=0)),
        (
            app_layout,
            FLAGS + ["-c", "from multiprocessing.resource_tracker import main;main(5)"],
            ("REGISTER:%s:shared_memory\n" % name).encode(),
        ),
        (
            joblib_bundle,
            FLAGS + ["-c", "from %s.resource_tracker import main; main(5, False)" % LOKY],
            ("REGISTER:%s:folder\n" % victim).encode(),
        ),
    ]
    for bundle, args, data in orders:
        payload = os.path.join(cwd, "payload")
        with open(payload, "wb") as payload_file:
            payload_file.write(data)
        os.chmod(payload, 0o644)
        result = run(bundle, *args, cwd=cwd, wrapper=ORPHAN_WRAPPER + (payload,))
        assert result.returncode == 0 and not result.timed_out, result  # the wrapper's status
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result
        assert lines[0].startswith(
            (
                "oxmp: refusing to start: argument 1=5 was not made by this app",
                "oxmp: refusing to start: pipe_handle=5 was not made by this app",
            )
        ), result
    assert not marker.exists and os.path.exists(path) and os.path.exists(victim)


@pytest.fixture
def shared_memory_victim():
    """A POSIX shared-memory segment that the bundle's user could unlink."""
    from multiprocessing import resource_tracker, shared_memory

    segment = shared_memory.SharedMemory(create=True, size=16)
    resource_tracker.unregister(segment._name, "shared_memory")  # this test process's tracker must leave it alone
    path = "/dev/shm/" + segment._name.lstrip("/")
    if contain.drops_privileges():
        os.chown(path, *contain.unprivileged_ids())
    yield segment._name, path
    segment.close()
    if os.path.exists(path):
        segment.unlink()


def assert_tracker_obeys_only_a_genuine_pipe(bundle, run, cwd, code, order, victim):
    """``code`` (a tracker's command line, ``%s`` for its descriptor) refuses ``order`` on stdin, so ``victim``
    survives; the control: the same order on a pipe from a genuine parent is obeyed when the pipe ends."""
    assert_refused(run(bundle, *FLAGS, "-c", code % 0, stdin=order))
    assert os.path.exists(victim)
    result = as_parent(bundle, run, cwd, FLAGS + ["-c", code % "PIPE0"], pipes=[order])
    assert "oxmp: refusing" not in result.stderr, result
    assert not os.path.exists(victim)


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm to see the segment")
def test_the_resource_tracker_never_takes_orders_from_stdin(app, run, bundle_root, shared_memory_victim):
    name, path = shared_memory_victim
    assert_tracker_obeys_only_a_genuine_pipe(
        app,
        run,
        bundles.scratch_dir(bundle_root),
        "from multiprocessing.resource_tracker import main;main(%s)",
        ("REGISTER:%s:shared_memory\n" % name).encode(),
        path,
    )


def test_lokys_resource_tracker_never_takes_orders_from_stdin(joblib_bundle, run, bundle_root):
    victim = victim_folder(bundle_root)
    assert_tracker_obeys_only_a_genuine_pipe(
        joblib_bundle,
        run,
        bundles.scratch_dir(bundle_root),
        "from %s.resource_tracker import main; main(%%s, False)" % LOKY,
        ("REGISTER:%s:folder\n" % victim).encode(),
        victim,
    )


# --- Odd input: one line, exit status 2 ------------------------------------------------------------------------------

ODD_ARGV = {
    "5000-digit-handle": ["--multiprocessing-fork", "pipe_handle=" + "7" * 5000],
    "not-utf8-code": FLAGS + ["-c", b"from multiprocessing.resource_tracker import main;main(\xff)"],
    "deep-nesting": FLAGS + ["-c", "from multiprocessing.forkserver import main; main(" + "-" * 60000 + "1, 4, [])"],
    "deep-brackets": FLAGS + ["-c", "from multiprocessing.forkserver import main; main(5, 6, " + "[" * 5000 + ")"],
    "closed-descriptor": FLAGS + ["-c", "from multiprocessing.resource_tracker import main;main(99)"],
    "huge-code": FLAGS + ["-c", "from multiprocessing.resource_tracker import main;main(5)" + " " * 70000],
    "loky-worker-without-loky": ["-m", LOKY + ".popen_loky_posix", "--pipe", "99"],
}


@pytest.mark.parametrize("case", sorted(ODD_ARGV))
def test_odd_input_gets_one_line_and_status_2(app, run, case):
    assert_refused(run(app, *ODD_ARGV[case]))


def test_a_helper_that_is_not_in_the_bundle_is_refused_in_one_line(app, run, bundle_root):
    cwd = bundles.scratch_dir(bundle_root)
    worker = as_parent(app, run, cwd, ["-m", LOKY + ".popen_loky_posix", "--pipe", "PIPE0"], pipes=[b""])
    tracker_code = "from loky.backend.resource_tracker import main; main(PIPE0, False)"
    tracker = as_parent(app, run, cwd, FLAGS + ["-c", tracker_code], pipes=[b""])
    for result in (worker, tracker):
        assert_refused(result)
        assert "in this bundle" in result.stderr


# --- No stderr ------------------------------------------------------------------------------------------------------


def test_with_stderr_closed_a_refusal_still_exits_2(app, run):
    result = run(app, "--multiprocessing-fork", "pipe_handle=abc", stderr_closed=True)
    assert result.returncode == 2 and not result.timed_out, result
    assert result.stdout == "" and result.stderr == ""


def test_with_stderr_closed_a_bad_override_is_ignored_silently(builder, run):
    # probe writes only to stdout: with descriptor 2 closed, Python's sys.stderr is None.
    result = run(builder.build("probe"), env={"OXMP_START_METHOD": "thread"}, stderr_closed=True)
    assert result.returncode == 0, result
    # Ignored: the bundle keeps `auto`, what plain python uses here (fork only on Linux up to Python 3.13).
    assert bundles.only_result(result)["start_method"] == bundles.interpreter_start_method()
