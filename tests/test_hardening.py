"""What docs/security.md promises, tried on real bundles as an attacker would: a bundle's argv, environment and stdin
are data. Nothing named there runs code or deletes anything; every malformed input gets one line and exit status 2.

Each attack has a marker that must never appear or a victim that must survive. Where a test could pass for the wrong
reason (the bundle's user could not have done the damage anyway), a control run shows the damage when the parent is
genuine, that is when the descriptors it names are real pipes and sockets, which only a running program can hand over.
"""

import inspect
import os
import pickle
import socket
import sys

import pytest

from tests import contain
from tests import bundles
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


def pipe_holding(data=b""):
    """A pipe's read end holding ``data`` (write end closed): what a genuine parent hands its helper, after writing."""
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


def run_forkserver(app, run, cwd, preload, socket_name="listener-oxmptest", **kwargs):
    """Run the bundle as a forkserver helper with the descriptors a genuine parent hands over: a listening Unix socket
    (named as multiprocessing names it, unless ``socket_name`` says otherwise) and a pipe that has ended. Keyword
    arguments whose value is ``PIPE`` get a pipe of their own."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(os.path.join(cwd, socket_name))
    listener.listen()
    pipes = [pipe_holding()]
    for key, value in kwargs.items():
        if value is PIPE:
            pipes.append(pipe_holding())
            kwargs[key] = pipes[-1]
    try:
        code = forkserver_code(listener.fileno(), pipes[0], preload, **kwargs)
        return run(app, *FLAGS, "-c", code, cwd=cwd, pass_fds=[listener.fileno()] + pipes)
    finally:
        listener.close()
        for pipe in pipes:
            os.close(pipe)


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
    return "from multiprocessing.forkserver import main; main(%d, %d, %r, **%r)" % (
        listener_fd, alive_fd, preload, kwargs)


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
    from _oxmp_runtime import commands
    from multiprocessing import forkserver

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
    assert_refused(run(joblib_bundle, "-m", LOKY + ".popen_loky_posix", "--process-name", "x", "--pipe", "0",
                       stdin=payload, cwd=cwd))
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
def test_the_resource_tracker_takes_no_orders_from_stdin_under_another_number(app, joblib_bundle, run, bundle_root,
                                                                             shared_memory_victim):
    name, path = shared_memory_victim
    victim = victim_folder(bundle_root)
    trackers = [
        (app, "5", "from multiprocessing.resource_tracker import main;main(5)", "%s:shared_memory" % name),
        (joblib_bundle, "7", "from %s.resource_tracker import main; main(7, False)" % LOKY, "%s:folder" % victim),
    ]
    for bundle, fd, code, order in trackers:
        result = run(bundle, *FLAGS, "-c", code, stdin=("REGISTER:%s\n" % order).encode(),
                     wrapper=UNDER_ANOTHER_NUMBER + (fd,))
        assert_refused(result)
        assert "standard input under another number" in result.stderr
    assert os.path.exists(path) and os.path.exists(victim)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux: /proc shows who holds a pipe's write end")
def test_a_worker_pipe_its_parent_does_not_write_to_is_refused(app, run, bundle_root):
    # The bundle's parent is a shell of the bundle's own user, so that /proc shows its descriptors to the bundle.
    # Attack: the shell holds the pipe's read end only (the data came from elsewhere). Control: the same shell also
    # holds the write end, as a genuine parent does, and the worker takes the pickle (so the marker appears).
    cwd = bundles.scratch_dir(bundle_root)
    marker = Marker(cwd)
    read_end, write_end = os.pipe()
    os.write(write_end, pickle.dumps(marker))
    try:
        attack = run(app, "--multiprocessing-fork", "pipe_handle=%d" % read_end, cwd=cwd, pass_fds=(read_end,),
                     wrapper=("/bin/sh", "-c", '"$@"; exit $?', "sh"))
        assert_refused(attack)
        assert "a pipe that the process which started this one does not write to" in attack.stderr
        assert not marker.exists
        control = run(app, "--multiprocessing-fork", "pipe_handle=%d" % read_end, cwd=cwd,
                      pass_fds=(read_end, write_end),
                      wrapper=("bash", "-c", '"$@" %d>&-; exit $?' % write_end, "bash"))  # dash: one-digit numbers
    finally:
        os.close(read_end)
        os.close(write_end)
    # What a genuine parent's pipe gets: it is read (the marker appears; what the pickle made is no task, so the
    # worker then fails as it would under python, with a traceback and no refusal).
    assert marker.exists, control
    assert "oxmp: refusing" not in control.stderr and "Traceback" in control.stderr, control


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


def assert_tracker_obeys_only_a_genuine_pipe(bundle, run, code, order, victim):
    """``code`` (a tracker's command line, ``%d`` for its descriptor) refuses ``order`` on stdin, so ``victim``
    survives; the control: the same order on a pipe from a genuine parent is obeyed when the pipe ends."""
    assert_refused(run(bundle, *FLAGS, "-c", code % 0, stdin=order))
    assert os.path.exists(victim)
    pipe = pipe_holding(order)
    try:
        result = run(bundle, *FLAGS, "-c", code % pipe, pass_fds=(pipe,))
    finally:
        os.close(pipe)
    assert "oxmp: refusing" not in result.stderr, result
    assert not os.path.exists(victim)


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm to see the segment")
def test_the_resource_tracker_never_takes_orders_from_stdin(app, run, shared_memory_victim):
    name, path = shared_memory_victim
    assert_tracker_obeys_only_a_genuine_pipe(app, run, "from multiprocessing.resource_tracker import main;main(%d)",
                                             ("REGISTER:%s:shared_memory\n" % name).encode(), path)


def test_lokys_resource_tracker_never_takes_orders_from_stdin(joblib_bundle, run, bundle_root):
    victim = victim_folder(bundle_root)
    assert_tracker_obeys_only_a_genuine_pipe(joblib_bundle, run,
                                             "from %s.resource_tracker import main; main(%%d, False)" % LOKY,
                                             ("REGISTER:%s:folder\n" % victim).encode(), victim)


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


def test_a_helper_that_is_not_in_the_bundle_is_refused_in_one_line(app, run):
    pipe = pipe_holding()
    try:
        worker = run(app, "-m", LOKY + ".popen_loky_posix", "--pipe", str(pipe), pass_fds=(pipe,))
        tracker = run(app, *FLAGS, "-c", "from loky.backend.resource_tracker import main; main(%d, False)" % pipe,
                      pass_fds=(pipe,))
    finally:
        os.close(pipe)
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

