"""The baked record, build side: the one record a build hands the runtime (``settings.Baked`` at
``settings.BAKED_PATH``, ``_oxmp/settings.txt``): the validated settings, where the entry scripts' code lies in the
bundle, and the build facts.

Every oxmp build hook that PyInstaller runs for a bundle asks for it: ``hook-multiprocessing.py`` (through
``build.py``), and ``hook-inspect.py`` and ``hook-pkgutil.py`` (through ``deferred.py``), so that a bundle without
multiprocessing has its settings too. The first to ask validates ``hooksconfig["multiprocessing"]``, logs the
settings and writes the file; the others get the same file. What it holds depends only on the spec and on the
PyInstaller that builds, never on which hook asked first.
"""

from __future__ import annotations

import os
import posixpath
import sys
import weakref
from typing import TYPE_CHECKING, Any

from oxmp_hooks import __version__, check_hook_folders, collect, config, runtime_module

if TYPE_CHECKING:
    from PyInstaller.building.build_main import Analysis
    from PyInstaller.depend.imphookapi import PostGraphAPI

settings = runtime_module("settings")

__all__ = ["ENTRY_CODE_DIR", "record_datas", "validated_settings", "outdir", "entry_code_name"]

# The entry scripts' code goes to sys._MEIPASS/_oxmp/entry/<script name>.code (``entry_code_name``): a folder and
# suffix that no import finder takes for a module, so nothing reads it as source. The runtime (_oxmp_runtime/entry.py)
# runs it where python runs the script: as __mp_main__ in spawn and forkserver workers, under the path the bootloader
# gives the script as __main__.__file__, and as module <script name> on `import <script name>`. build.py puts the
# files there; the record tells the runtime their paths.
ENTRY_CODE_DIR = runtime_module("entry").CODE_DIR

# Per Analysis (one build of one spec's Analysis): its validated settings, and the `datas` entry of its record file.
_written: weakref.WeakKeyDictionary[Analysis, tuple[dict[str, Any], list[tuple[str, str]]]] = (
    weakref.WeakKeyDictionary()
)


def record_datas(hook_api: PostGraphAPI) -> list[tuple[str, str]]:
    """Validate the settings, log them and write the record, once per Analysis; returns the ``datas`` to collect."""
    return list(_write_once(hook_api)[1])


def validated_settings(hook_api: PostGraphAPI) -> dict[str, Any]:
    """The validated settings of this build (all keys)."""
    return dict(_write_once(hook_api)[0])


def _write_once(hook_api: PostGraphAPI) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    analysis = hook_api.analysis
    if analysis not in _written:
        from PyInstaller.config import CONF

        check_hook_folders(getattr(analysis, "hookspath", None))
        values, path = write_record(analysis, outdir(analysis, CONF["workpath"]))
        collect.run_modules(hook_api, values["run_modules"])
        _written[analysis] = values, [(path, posixpath.dirname(settings.BAKED_PATH))]
    return _written[analysis]


def outdir(analysis: Analysis, workpath: str) -> str:
    """A folder for the files oxmp writes for this Analysis: a spec may have several, with settings of their own."""
    name = os.path.splitext(os.path.basename(getattr(analysis, "tocfilename", "") or "Analysis"))[0]
    path = os.path.join(workpath, "oxmp", name)
    os.makedirs(path, exist_ok=True)
    return path


def write_record(analysis: Analysis, folder: str) -> tuple[dict[str, Any], str]:
    """Validate ``hooksconfig["multiprocessing"]``, log it and write the record file in ``folder``; returns
    (the validated settings, the file's path)."""
    from PyInstaller.utils.hooks import logger

    values, errors = config.validate(analysis.hooksconfig.get(config.SECTION), sys.platform)
    if errors:
        raise SystemExit(
            "ERROR: oxmp: invalid multiprocessing settings in the spec file:\n"
            + "\n".join("  - " + error for error in errors)
        )
    logger.info(config.describe(values, sys.platform))
    entry_code = [
        posixpath.normpath(posixpath.join(ENTRY_CODE_DIR, entry_code_name(script))) for script in analysis.inputs
    ]
    path = os.path.join(folder, posixpath.basename(settings.BAKED_PATH))
    with open(path, "w", encoding="utf-8") as record_file:
        record_file.write(settings.Baked(values, entry_code, build_facts()).encode())
    return values, path


def build_facts() -> dict[str, str]:
    import PyInstaller

    return {
        "oxmp": __version__,
        "pyinstaller": PyInstaller.__version__,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "platform": sys.platform,
    }


def entry_code_name(script: str) -> str:
    """The name of an entry script's code file in the bundle: ``<script name>.code``."""
    return os.path.splitext(os.path.basename(script))[0] + runtime_module("entry").CODE_SUFFIX
