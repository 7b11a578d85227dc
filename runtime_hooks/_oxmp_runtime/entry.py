"""The entry scripts as Python sees them: run as ``__mp_main__`` by spawn and forkserver workers, and importable by
name (``import app``, ``importlib.import_module("app")``, ``uvicorn.run("app:api", workers=2)``).

oxmp's build hook compiles each entry script into the bundle as ``_oxmp/entry/<name>.code`` (a ``.pyc`` image): a
name and folder no import finder treats as a module, so nothing reads it as source. Under ``python app.py`` the
script is a file in a folder on ``sys.path``; in a bundle there is no such file. So:

- ``find_spec()``, called by the runtime hook's finder last on ``sys.meta_path``, imports ``<name>`` from that code
  when no other finder has a module of that name (the bundle's own module wins, as a package next to the script
  wins under python): the module-level code runs with ``__name__ == "<name>"``, so the main block does not.
- ``run_path()`` is ``runpy.run_path()`` of the path the bootloader gives the entry script (``__main__.__file__``,
  ``<_MEIPASS>/<name>.py``, a file that does not exist) with the code of the file that does.

This module runs inside bundles: it imports only the standard library, lazily.
"""

import os

# Names for annotations only: nothing is imported for them at run time (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import CodeType, ModuleType
    from typing import Any

# Where the build hook puts an entry script's code (oxmp_hooks/baked.py ENTRY_CODE_DIR, relative to sys._MEIPASS),
# and the suffix after the script's name.
CODE_DIR = "_oxmp/entry"
CODE_SUFFIX = ".code"
# Its header, as a .pyc's: magic number, flags, and two unused fields.
CODE_HEADER = 16


class EntryScript:
    """One entry script: its module ``name``, ``main_path`` (the bootloader's ``__main__.__file__`` for it) and
    ``code_path`` (its compiled code in the bundle)."""

    __slots__ = ("name", "main_path", "code_path")

    def __init__(self, name: "str", main_path: "str", code_path: "str") -> "None":
        self.name, self.main_path, self.code_path = name, main_path, code_path

    def __repr__(self) -> "str":
        return "EntryScript(%r, %r, %r)" % (self.name, self.main_path, self.code_path)


def entry_scripts(meipass: "str", code_files: "list[str]") -> "list[EntryScript]":
    """The ``EntryScript`` of each code file the build recorded (paths relative to ``meipass``, '/'-separated).

    The bootloader names each script's ``__file__`` ``<meipass>/<name>.py`` (checked: PyInstaller 6.0-6.22, its
    ``pyi_launch_run_scripts``), where ``name`` is the script's file name without ``.py``.
    """
    found = []
    for path in code_files:
        base = path.rsplit("/", 1)[-1]
        name = base[: -len(CODE_SUFFIX)] if base.endswith(CODE_SUFFIX) else os.path.splitext(base)[0]
        found.append(EntryScript(name, os.path.join(meipass, name + ".py"), os.path.join(meipass, *path.split("/"))))
    return found


def read_code(code_path: "str") -> "CodeType":
    import marshal

    with open(code_path, "rb") as code_file:
        return marshal.loads(code_file.read()[CODE_HEADER:])


def run_path(main_path: "str", code: "CodeType", run_name: "str") -> "dict[str, Any]":
    """``runpy.run_path(main_path, run_name=run_name)`` for a script whose code (``read_code()``) is ``code``: the same
    module (``__file__`` is ``main_path``, no spec or loader, ``sys.argv[0]`` and ``sys.modules[run_name]`` set while
    it runs), returning its globals.

    ``runpy._run_module_code`` is what run_path() itself calls for a file (checked: 3.8-3.15, the same signature).
    """
    import runpy

    return runpy._run_module_code(  # type: ignore[attr-defined]  # private: see above
        code, None, run_name, pkg_name=run_name.rpartition(".")[0], script_name=main_path
    )


def find_spec(meipass: "str", fullname: "str") -> "ModuleSpec | None":
    """The spec that imports entry script ``fullname`` by name, or None if the bundle has no entry script of that name.

    Called by the runtime hook's finder, last on ``sys.meta_path``, only after every other finder found no module of
    that name (so the bundle's own module wins, as a package next to the script wins under python)."""
    code_path = os.path.join(meipass, *(CODE_DIR.split("/") + [fullname + CODE_SUFFIX]))
    if not fullname.isidentifier() or not os.path.isfile(code_path):
        return None
    import importlib.util

    # __file__ is the path the bootloader gives the script, as under python it is the script's.
    return importlib.util.spec_from_file_location(
        fullname,
        os.path.join(meipass, fullname + ".py"),
        loader=EntryScriptLoader(code_path),  # type: ignore[arg-type]  # a loader without the old load_module()
    )


class EntryScriptLoader:
    def __init__(self, code_path: "str") -> "None":
        self.code_path = code_path

    def create_module(self, spec: "ModuleSpec") -> "None":
        return None  # the default module

    def exec_module(self, module: "ModuleType") -> "None":
        exec(self.get_code(module.__name__), module.__dict__)

    def get_code(self, fullname: "str") -> "CodeType":
        return read_code(self.code_path)

    def is_package(self, fullname: "str") -> "bool":
        return False
