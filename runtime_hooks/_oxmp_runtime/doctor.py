"""Diagnostic mode: what ``python -m oxmp_hooks doctor`` learns from inside a bundle, in place of the app.

The doctor (``oxmp_hooks/tools/doctor.py``) runs the bundle with ``DOCTOR_ENV`` set to ``TOKEN:FOLDER``: FOLDER is a
folder it created for this one run, and holds ``DOCTOR_GATE``, a file with TOKEN in it. ``boot.run()`` asks
``requested()``, and only then calls ``run()``, after oxmp's runtime is set up exactly as the app would get it and
before any of the app's code. ``run()`` looks at multiprocessing as configured by oxmp, starts one worker per start
method the platform offers, writes one JSON report as a new file (``REPORT_FILE``) in that folder, and exits. The
doctor turns the report into checks and hints; it reads this module's names (``oxmp_hooks.runtime_module()``).

None of the app's code runs here, nor in the workers: their target is ``echo`` below, and no script of the bundle is
run in them (see ``hide_main_script``). ``boot.run()`` imports this module (for ``requested()``) in every process it
does not dispatch as a worker or helper: it imports nothing else until ``run()``.
"""

import os
import sys

# Names for annotations only: nothing is imported for them at run time (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess
    from typing import Any, Callable, NoReturn, Sequence

    from _oxmp_runtime.settings import Baked, StartMethod

# The doctor's door: the variable, the gate file in the folder it names, and the token's length (hexadecimal digits).
DOCTOR_ENV = "_OXMP_DOCTOR"
DOCTOR_GATE = "gate"
DOCTOR_TOKEN_LENGTH = 32

# The report's name in the doctor's folder. It is created, never overwritten: no file that exists is written to.
REPORT_FILE = "report.json"

# Version of the report's layout: the doctor may be newer or older than the oxmp a bundle was built with.
REPORT_FORMAT = 1

# Seconds one smoke test may take, from starting its worker to the worker's exit; a worker still running then is
# killed. Three of them (POSIX), and start-up, must fit in the doctor's own time limit.
SMOKE_TIMEOUT = 10.0

# What each smoke test sends to its worker and expects back: a few picklable types, so that pickling is exercised too.
SMOKE_VALUE = {"text": "oxmp", "numbers": [1, 2.5, -3], "nested": ("tuple", None, True)}


def requested() -> "bool":
    """True if `python -m oxmp_hooks doctor` runs this process: its variable names a token and a folder, and the
    folder holds a gate file of this user's with that token in it.

    A variable alone, left set by accident, does nothing; every process of the doctor's run (the app's, and its
    workers) sees the same answer for as long as the run lasts. The app's arguments play no part. Whatever the
    variable names, the answer comes at once: see ``gate_opens()``.
    """
    value = os.environ.get(DOCTOR_ENV)
    if not value:
        return False
    token, _, folder = value.partition(":")
    if len(token) != DOCTOR_TOKEN_LENGTH or not os.path.isabs(folder):
        return False
    return gate_opens(os.path.join(folder, DOCTOR_GATE), token)


def gate_opens(path: "str", token: "str") -> "bool":
    """True if ``path`` is a regular file of this process's user (real and effective), writable by no one else, that
    holds ``token``. Never blocks, never follows a link at ``path``.

    The file is opened without waiting (O_NONBLOCK: a FIFO or a device there would otherwise hold the open, or the
    read, for ever) and looked at through the opened descriptor, not the path, before a byte is read. A file with a
    second name could be someone else's file linked in, and one that others may write to could be theirs to fill.
    """
    import stat

    flags = os.O_RDONLY
    for name in ("O_NONBLOCK", "O_NOFOLLOW", "O_CLOEXEC", "O_NOCTTY", "O_BINARY"):
        flags |= getattr(os, name, 0)
    try:
        gate = os.open(path, flags)
    except (OSError, ValueError):
        return False
    try:
        info = os.fstat(gate)
        if not stat.S_ISREG(info.st_mode):
            return False  # on Windows too: a named pipe there is S_IFIFO
        # Owner: the user the process runs as and acts as (a set-uid bundle never opens it).
        if os.name == "posix" and (
            info.st_uid != os.getuid() or info.st_uid != os.geteuid() or info.st_mode & 0o022 or info.st_nlink != 1
        ):
            return False
        return os.read(gate, DOCTOR_TOKEN_LENGTH + 1) == token.encode("ascii", "replace")
    except OSError:
        return False
    finally:
        os.close(gate)


def folder() -> "str":
    """The doctor's folder for this run (call only when ``requested()``)."""
    return os.environ[DOCTOR_ENV].partition(":")[2]


def run(
    folder: "str", baked: "Baked", start_method: "StartMethod", oxmp_freeze_support: "Callable[[], None]"
) -> "NoReturn":
    """Examine multiprocessing in this bundle, write the report into ``folder``, exit. Does not return.

    ``baked`` is the bundle's record (settings.Baked), ``start_method`` what it comes to here (settings.StartMethod),
    ``oxmp_freeze_support`` the function oxmp installs as ``multiprocessing.freeze_support``.
    """
    import json

    main_script = hide_main_script()

    import multiprocessing  # oxmp's import hook configures it here, as it would for the app
    from multiprocessing import spawn

    from _oxmp_runtime import messages, settings

    values = baked.settings
    offered = multiprocessing.get_all_start_methods()
    report = {
        "format": REPORT_FORMAT,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "platform": sys.platform,
        "build": baked.facts,
        "entry_code": baked.entry_code,
        "settings": values,
        "start_method_env": os.environ.get(settings.START_METHOD_ENV),
        "start_method_env_warning": start_method.warning,
        "effective_settings": dict(values, start_method=start_method.value),
        "effective_start_method": start_method.method,
        "sys_frozen": _plain(getattr(sys, "frozen", None)),
        "sys_executable": sys.executable,
        "spawn_executable": _text(spawn.get_executable()),
        "start_method": multiprocessing.get_start_method(),
        "start_methods_offered": offered,
        "auto_dispatch": values["auto_dispatch"],
        "freeze_support": "%s.%s"
        % (multiprocessing.freeze_support.__module__, multiprocessing.freeze_support.__qualname__),
        "freeze_support_is_oxmps": multiprocessing.freeze_support is oxmp_freeze_support,
        "main_script_hidden_from_workers": main_script,
        "refused_exit_status": messages.REFUSED_EXIT,
        "smoke_tests": [smoke_test(method) for method in _in_fixed_order(offered)],
    }
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(os.path.join(folder, REPORT_FILE), flags, 0o600), "w", encoding="utf-8") as out:
        json.dump(report, out, indent=1, sort_keys=True)
    sys.exit(0)  # atexit handlers run: oxmp's stops the resource tracker and forkserver, as for the app


def hide_main_script() -> "str | None":
    """Keep workers from running any script of the bundle as ``__mp_main__``; returns the path they would have got.

    spawn and forkserver workers run the file at ``__main__.__file__`` as ``__mp_main__``, or import
    ``__main__.__spec__.name``. For the app, the bootloader points ``__file__`` at the entry script (whose code oxmp's
    build hook puts there); here, in a runtime hook, it still names the hook, and workers would skip it. Without
    either attribute, nothing depends on that: workers import only what their target needs.
    """
    main = sys.modules["__main__"]
    path = getattr(main, "__file__", None)
    if path is not None:
        del main.__file__
    main.__spec__ = None
    return path


def smoke_test(method: "str") -> "dict[str, Any]":
    """Start one worker with ``method``, send it ``SMOKE_VALUE``, get it back, let it exit. Never raises."""
    import multiprocessing
    import time

    result: "dict[str, Any]" = {
        "start_method": method,
        "passed": False,
        "seconds": None,
        "error": None,
        "exitcode": None,
    }
    context = multiprocessing.get_context(method)
    process: "BaseProcess | None" = None
    step = "creating a pipe"
    start = time.monotonic()
    try:
        here, there = context.Pipe()
        process = context.Process(target=echo, args=(there,), name="oxmp-doctor-" + method, daemon=True)  # type: ignore[attr-defined]
        step = "starting the worker"
        process.start()
        there.close()  # so that a worker that dies is seen as end of file, not waited for
        step = "sending to the worker"
        here.send(SMOKE_VALUE)
        step = "waiting for the worker's answer"
        if not here.poll(SMOKE_TIMEOUT):
            raise TimeoutError("no answer within %g s" % SMOKE_TIMEOUT)
        answer = here.recv()
        result["seconds"] = round(time.monotonic() - start, 3)
        step = "checking the answer"
        if answer != SMOKE_VALUE:
            raise ValueError("the worker sent back %r" % (answer,))
        result["passed"] = True
    except Exception as error:  # a smoke test reports; it does not stop the doctor
        # An EOFError has no message: the process at the other end (the worker, or the forkserver) has exited.
        reason = str(error) or ("the other end exited" if isinstance(error, EOFError) else "")
        result["error"] = "%s while %s: %s" % (type(error).__name__, step, reason)
    finally:
        result["exitcode"] = _finish(process, start)
    if result["passed"] and result["exitcode"] != 0:
        result["passed"] = False
        result["error"] = "the worker answered, then exited with status %s" % result["exitcode"]
    return result


def echo(connection: "Connection") -> "None":
    """The smoke test's worker: send back what arrives. Lives here so that workers import nothing of the app's."""
    connection.send(connection.recv())
    connection.close()


def _finish(process: "BaseProcess | None", start: "float") -> "int | None":
    import time

    # Wait for the worker's exit within what is left of SMOKE_TIMEOUT, then kill it. Returns its exit status.
    if process is None or process.pid is None:
        return None
    process.join(max(0.1, SMOKE_TIMEOUT - (time.monotonic() - start)))
    if process.exitcode is None:
        process.kill()
        process.join(5)
    return process.exitcode


def _in_fixed_order(methods: "Sequence[str]") -> "list[str]":
    # The interpreter lists its default first; a fixed order makes reports comparable across versions.
    order = ("fork", "forkserver", "spawn")
    return [m for m in order if m in methods] + [m for m in methods if m not in order]


def _text(path: "str | bytes | None") -> "str | None":
    # get_executable() is bytes on POSIX in newer CPython versions.
    return os.fsdecode(path) if path is not None else None


def _plain(value: "object") -> "object":
    # sys.frozen is normally True, but freezers set other values ("macosx_app", "windows_exe", ...).
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)
