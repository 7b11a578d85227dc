"""The versions of what oxmp works with that it was checked against: the one table, rendered into docs/versions.md.
A maintainer's file, not installed: the table is documentation.

Prose elsewhere links to that page instead of repeating these numbers. The code comments that name the versions a
private attribute or a command line was checked on (``_oxmp_runtime/cpython.py``, ``commands.py``, ``pyinstaller.py``)
stay where the code is; this table sums them up. ``tests/test_docs.py`` checks it against what the project states
elsewhere: ``requires-python`` and the PyInstaller dependency in ``pyproject.toml``, the Pythons of the CI workflow and
of the lane of other Pythons, and the newest PyInstaller whose hooks ``oxmp_hooks/deferred.py`` lists by digest.

``python docs/blocks.py`` rewrites the table in docs/versions.md.
"""


class Checked:
    """One thing oxmp works with: the versions it supports, those whose sources were read, and how it is tested.

    ``supported`` and ``checked`` are (oldest, newest) pairs of version texts; newest None: no upper bound (the
    dependency or the version check allows any later release). ``checked`` None: no source was read version by
    version; the test extra installs the newest release each run.
    """

    __slots__ = ("supported", "checked", "what", "tested")

    def __init__(self, supported, checked, what, tested):
        self.supported = supported
        self.checked = checked
        self.what = what
        self.tested = tested


CHECKED = {
    "CPython": Checked(
        ("3.8", "3.15"),
        ("3.8", "3.15"),
        "worker and helper command lines (`_oxmp_runtime/commands.py`), the private attributes of multiprocessing oxmp "
        "sets (`_oxmp_runtime/cpython.py`), how a worker runs the entry script (`_oxmp_runtime/pyinstaller.py`)",
        "every supported version: the CI workflow (below), and the lane of other Pythons on every CI run, with 3.14 "
        "and 3.15 from Debian's development suite in a chroot: every start method, onedir and onefile, the helpers' "
        "command lines, joblib, billiard and multiprocess, `run_modules`, refusals, and a stock baseline "
        "([testing.md](testing.md))",
    ),
    "PyInstaller": Checked(
        ("6.0.0", None),
        ("6.0.0", "6.22.3"),
        "the bootloader's and importer's behaviour (`_oxmp_runtime/pyinstaller.py`); its runtime hooks for `inspect` "
        "and `pkgutil`, by digest (`oxmp_hooks/deferred.py`: a version not listed runs at start-up, as without oxmp)",
        "6.0.0, 6.10.0 and the newest release (`tox.ini`, below)",
    ),
    "multiprocess": Checked(
        ("0.70.12", None),
        ("0.70.12", "0.70.19"),
        "its copy of multiprocessing's command lines and private attributes",
        "the newest release (the test extra), and in the lane of other Pythons on 3.14 (on 3.15, 0.70.19 fails under "
        "`python` too: its dill reads `co_lnotab`, which 3.15 removed)",
    ),
    "billiard": Checked(
        ("4.0", "4.x"),
        ("4.0", "4.3.2"),
        "its command lines and private attributes (`_oxmp_runtime/libraries.py`); 4.3.2 and later for `spawn` "
        "workers of the entry script's functions, as under `python`",
        "the newest release, on Python 3.10 and later (4.3.2 needs them), and in the lane of other Pythons on 3.14 and "
        "3.15",
    ),
    "loky (joblib's copy, or loky itself)": Checked(
        ("3.x", "3.x"),
        ("3.x", "3.x"),
        "its workers' and resource tracker's command lines",
        "the loky of joblib's newest release (the test extra), and of the newest joblib each other Python installs "
        "(the lane of other Pythons)",
    ),
    "uvicorn, dask `distributed`, jupyter_client with ipykernel, PyTorch": Checked(
        None,
        None,
        "how each starts processes, in the source of the release tested ([README](../README.md#compatibility))",
        "the newest release (the test extra; PyTorch where it is installed)",
    ),
}


def shown(pair):
    """A (oldest, newest) pair as the table shows it."""
    if pair is None:
        return "-"
    oldest, newest = pair
    if newest is None:
        return "%s and later" % oldest
    return oldest if newest == oldest else "%s - %s" % (oldest, newest)
