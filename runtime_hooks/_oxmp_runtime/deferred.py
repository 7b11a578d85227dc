"""PyInstaller's own runtime hooks for ``inspect`` and ``pkgutil``, run right after the module they patch is imported.

PyInstaller's ``pyi_rth_inspect.py`` and ``pyi_rth_pkgutil.py`` each import one module and patch it so that it works
in a bundle (``inspect.getsourcefile``, ``pkgutil.iter_modules``). As runtime hooks they run in every process of a
bundle, before the app's code, and ``inspect`` (with ``zipfile``, and a read of base_library.zip) is most of the
start-up time of a small bundle. oxmp's runtime hook for these two modules replaces PyInstaller's and calls ``run()``:
it runs the same hook code, compiled from the files of the PyInstaller that built the bundle, right after the app (or
a worker) first imports the module, or at once if it is imported already. Where the hooks run at first import, the
runtime hook itself waits for that import, so that a process that never imports the module loads nothing of oxmp's
for it. Nothing else changes: whoever imports the
module gets it patched, exactly as before, and nobody pays for a module that nobody imports.

The build decides, per module, when the code runs (``oxmp_hooks/deferred.py``): at first import if every hook file is
a version oxmp has checked and ``defer_pyinstaller_hooks`` is on; otherwise at start-up, where PyInstaller would have
run it. This module is also loaded at build time for its names: it imports only ``os`` and ``sys`` at the top, and
never ``boot`` (whose functions import multiprocessing, which would then be bundled with every app).
"""

import os
import sys

# Names for annotations only: nothing is imported for them at run time (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType
    from typing import Sequence

# Where the build hook puts PyInstaller's hooks for a module, relative to sys._MEIPASS: one file, marshal.dumps() of a
# tuple of code objects (PyInstaller may list several hook files for a module; they run in its order). When they run
# is in the file's name, <module>.<WHEN>.marshal, so that oxmp's runtime hook for the module tells it with one stat and
# loads nothing until the module is imported (its copy of the name is checked by tests/test_startup.py).
CODE_DIR = "_oxmp/pyinstaller_rthooks"
AT_FIRST_IMPORT = "first-import"
AT_START = "start-up"


def code_name(module_name: "str", when: "str") -> "str":
    return "%s.%s.marshal" % (module_name, when)


def code_path(module_name: "str", when: "str") -> "str":
    return os.path.join(sys._MEIPASS, *(CODE_DIR.split("/") + [code_name(module_name, when)]))  # type: ignore[attr-defined]  # set by PyInstaller's bootloader


def run(module_name: "str") -> "None":
    """Run PyInstaller's hooks for ``module_name`` now, or once it is imported, as the build decided.

    oxmp's runtime hook for the module calls this at start-up where the hooks run then, and at the module's first
    import where they run after it (a call at that moment wraps the module's loader, so they run right after its code).
    """
    import marshal

    for when in (AT_FIRST_IMPORT, AT_START):
        try:
            with open(code_path(module_name, when), "rb") as code_file:
                codes = marshal.loads(code_file.read())
            break
        except OSError:
            continue
    else:
        say_missing([module_name])
        return
    if when == AT_FIRST_IMPORT:
        from _oxmp_runtime.after_import import when_imported

        when_imported(module_name, lambda module: run_codes(codes))
    else:
        run_codes(codes)


def say_missing(module_names: "Sequence[str]") -> "None":
    """One line on stderr: PyInstaller's fix for these modules is missing from the bundle.

    oxmp's build hook for a module did not run: another hook of higher priority for the same module (in the spec's
    hookspath) was used instead (a build without oxmp's build hooks' folder stops: see
    pre_find_module_path/hook-_oxmp_runtime.py).
    """
    from _oxmp_runtime.messages import say

    say(
        "PyInstaller's runtime hook for %s is missing from this bundle (a hook-%s.py of higher priority than oxmp's "
        "was used to build it)" % (" or ".join(module_names), ".py or hook-".join(module_names))
    )


def run_codes(codes: "tuple[CodeType, ...]") -> "None":
    for code in codes:
        # As the bootloader runs a runtime hook, except in a namespace of its own: __main__'s belongs to the app by
        # now (and to oxmp's runtime hook, at start-up). The hook keeps all it needs in its own function's closure.
        exec(code, {"__name__": "__main__", "__file__": os.path.join(sys._MEIPASS, code.co_filename)})  # type: ignore[attr-defined]  # set by PyInstaller's bootloader
