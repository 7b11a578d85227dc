"""Build-time check: does the bundle accept the command lines its own multiprocessing will start processes with?

A bundle runs the Python that runs PyInstaller. That Python's multiprocessing (and multiprocess, billiard and loky,
where the app uses them) is asked, in this process, for the command lines of a spawn worker, the resource (or
semaphore) tracker and the forkserver: each launch is stopped where it would start a process, and its arguments are
kept. Nothing is started. If oxmp's ``classify()`` would refuse one of them, a new release has changed a form oxmp
does not know yet: the build fails now, instead of the bundle refusing its own helpers at run time.
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import Any, Callable, Literal, Sequence

from oxmp_hooks import runtime_module

__all__ = ["TRACKERS", "LOKY_TRACKERS", "check", "problems"]

# The libraries checked when they are in the app: multiprocessing always. Each: (its tracker module and class).
TRACKERS = {
    "multiprocessing": ("resource_tracker", "ResourceTracker"),
    "multiprocess": ("resource_tracker", "ResourceTracker"),
    "billiard": ("semaphore_tracker", "SemaphoreTracker"),
}
# loky's resource tracker, joblib's copy and loky's own.
LOKY_TRACKERS = tuple(package + ".backend.resource_tracker" for package in runtime_module("commands").LOKY_PACKAGES)


class _Stopped(Exception):
    """Raised where a library would start the process."""


def check(libraries: Sequence[str] = ("multiprocessing",), loky: str | None = None) -> None:
    """Fail the build if the bundle would refuse a command line that ``libraries`` (names in ``TRACKERS``) or the loky
    resource tracker module ``loky`` start processes with."""
    found = problems(sys.platform, libraries, loky)
    if found:
        from oxmp_hooks import __version__

        raise SystemExit(
            "ERROR: oxmp: this Python starts multiprocessing's processes with command lines that this oxmp (%s) does "
            "not accept; the bundle would refuse them. Upgrade oxmp, or report this with the lines below:\n%s"
            % (__version__, "\n".join("  - " + line for line in found))
        )


def problems(
    platform: str = sys.platform, libraries: Sequence[str] = ("multiprocessing",), loky: str | None = None
) -> list[str]:
    """One message per emitted command line that ``classify()`` would not accept as what it is."""
    commands = runtime_module("commands")
    found = []
    for what, expected_kind, argv in emitted_command_lines(platform, libraries, loky):
        command = commands.classify(argv, platform=platform)
        if command.kind != expected_kind:
            found.append("%s: %s -> %s" % (what, argv[1:], command.reason or command.kind))
    return found


def emitted_command_lines(
    platform: str = sys.platform, libraries: Sequence[str] = ("multiprocessing",), loky: str | None = None
) -> list[tuple[str, str, list[str]]]:
    """``[(what, expected kind, argv)]`` for the processes ``libraries`` (and the loky resource tracker module ``loky``)
    start from a frozen app on ``platform`` (this one)."""
    lines: list[tuple[str, str, list[str]]] = []
    with _frozen():
        for library in libraries:
            spawn = importlib.import_module(library + ".spawn")
            if platform == "win32":
                lines.append(
                    (library + " spawn worker", "worker", spawn.get_command_line(parent_pid=1234, pipe_handle=880))
                )
                continue
            lines.append((library + " spawn worker", "worker", spawn.get_command_line(tracker_fd=5, pipe_handle=7)))
            tracker_module, tracker_class = TRACKERS[library]
            tracker = importlib.import_module("%s.%s" % (library, tracker_module))
            forkserver = importlib.import_module(library + ".forkserver")
            launchers = [importlib.import_module(library + ".util"), tracker, forkserver]
            lines.append(
                (
                    library + " tracker",
                    "helper",
                    _capture(functools.partial(_ensure_running, getattr(tracker, tracker_class)), launchers),
                )
            )
            lines.append(
                (
                    library + " forkserver",
                    "helper",
                    _capture(functools.partial(_start_forkserver, forkserver, tracker), launchers),
                )
            )
        if loky is not None and platform != "win32":
            module = importlib.import_module(loky)
            launchers = [importlib.import_module("multiprocessing.util"), module]
            lines.append(
                ("loky tracker", "helper", _capture(lambda: module.ResourceTracker().ensure_running(), launchers))
            )
    return lines


class _frozen:
    # What a bundle's sys says: the libraries build the frozen forms from it.
    def __enter__(self) -> None:
        self.saved = getattr(sys, "frozen", None), "frozen" in sys.__dict__
        sys.frozen = True  # type: ignore[attr-defined]  # as PyInstaller's bootloader sets it

    def __exit__(self, *exc_info: object) -> Literal[False]:
        value, had = self.saved
        if had:
            sys.frozen = value  # type: ignore[attr-defined]
        elif "frozen" in sys.__dict__:
            del sys.frozen  # type: ignore[attr-defined]
        return False


def _ensure_running(tracker_class: type) -> None:
    # A new resource tracker of the library's own class.
    tracker_class().ensure_running()


def _capture(start: Callable[[], object], launchers: list[Any]) -> list[str]:
    """Run ``start()`` with the ``spawnv_passfds`` of each module in ``launchers`` (where a library looks its launcher
    up: multiprocessing in its util module, billiard and loky in their own modules, by name) replaced by one that
    records its argv and stops."""
    captured: list[list[str]] = []

    def spawnv_passfds(path: str, args: Sequence[str], passfds: Sequence[int]) -> Any:
        captured.append(list(args))
        raise _Stopped()

    saved = [(module, module.spawnv_passfds) for module in launchers if hasattr(module, "spawnv_passfds")]
    for module, _ in saved:
        module.spawnv_passfds = spawnv_passfds
    try:
        start()
    except _Stopped:
        pass
    finally:
        for module, original in saved:
            module.spawnv_passfds = original
    if not captured:
        raise RuntimeError("no process was started")
    return captured[0]


def _start_forkserver(forkserver: Any, tracker: Any) -> None:
    # A new forkserver; the tracker it starts first is not wanted here (it has its own line).
    ensure_tracker = tracker.ensure_running
    tracker.ensure_running = lambda: None
    try:
        forkserver.ForkServer().ensure_running()
    finally:
        tracker.ensure_running = ensure_tracker
