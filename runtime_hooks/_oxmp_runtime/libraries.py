"""The multiprocessing libraries oxmp configures: the standard library's, and its forks that start processes the same
way under their own names. One record each; the runtime (boot.py) treats them all alike.

* multiprocess 0.70.12-0.70.19 (pathos, Hugging Face datasets): a copy of CPython 3.8-3.15's multiprocessing that
  pickles with dill. Its workers use multiprocessing's very command line, so they are marked (``marks_workers``).
* billiard 4.x (Celery): an older fork with ``--billiard-fork`` workers and a semaphore tracker; it imports its
  launcher by name, and keeps no process ids of its helpers.

Checked against the sources of each version named; the attributes are the same as CPython's unless noted.
"""

# Names for annotations only: nothing is imported for them at run time (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    # Where a helper is kept: (module, owner object's name, pipe descriptor's name, process id's name or None)
    Helper = tuple[str, str, str, str | None]


class Library:
    """One library: where it launches processes and keeps its helpers."""

    __slots__ = ("name", "launcher", "helpers", "marks_workers")

    def __init__(
        self, name: "str", launcher: "tuple[str, str]", helpers: "tuple[Helper, ...]", marks_workers: "bool" = False
    ) -> "None":
        self.name = name
        # (module, attribute) of the function that starts sys.executable on POSIX, with (path, args, passfds).
        self.launcher = launcher
        # (module, owner, descriptor attribute, process id attribute or None) of each helper (cpython.stop_helpers).
        self.helpers = helpers
        # Its workers' command line is multiprocessing's: the parent adds commands.LIBRARY_KEY=<name> to it.
        self.marks_workers = marks_workers

    def module(self, name: "str") -> "str":
        return "%s.%s" % (self.name, name)


def _cpython_helpers(package: "str") -> "tuple[Helper, ...]":
    return (
        (package + ".forkserver", "_forkserver", "_forkserver_alive_fd", "_forkserver_pid"),
        (package + ".resource_tracker", "_resource_tracker", "_fd", "_pid"),
    )


LIBRARIES = (
    Library("multiprocessing", ("multiprocessing.util", "spawnv_passfds"), _cpython_helpers("multiprocessing")),
    Library(
        "multiprocess", ("multiprocess.util", "spawnv_passfds"), _cpython_helpers("multiprocess"), marks_workers=True
    ),
    # billiard's forkserver, semaphore tracker and workers import spawnv_passfds by name from billiard.compat, after
    # billiard.spawn has imported it (4.0-4.3.2): replacing it there when billiard.spawn is imported reaches them all.
    Library(
        "billiard",
        ("billiard.compat", "spawnv_passfds"),
        (
            ("billiard.forkserver", "_forkserver", "_forkserver_alive_fd", None),
            ("billiard.semaphore_tracker", "_semaphore_tracker", "_fd", None),
        ),
    ),
)

BY_NAME = {library.name: library for library in LIBRARIES}


def of_module(module_name: "str") -> "Library":
    """The library a worker's or helper's module belongs to (multiprocessing for loky's, which uses it)."""
    return BY_NAME.get(module_name.partition(".")[0], BY_NAME["multiprocessing"])
