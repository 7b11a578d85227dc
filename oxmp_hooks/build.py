"""What oxmp's build hook does: validate the settings, log them, and write them (the baked record) and the entry
scripts' code into the bundle."""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
from typing import TYPE_CHECKING

from oxmp_hooks import baked, collect

if TYPE_CHECKING:
    from PyInstaller.depend.imphookapi import PostGraphAPI

__all__ = ["hook"]


def hook(hook_api: PostGraphAPI) -> None:
    """oxmp's build hook for multiprocessing (``hook-multiprocessing.py``)."""
    from PyInstaller.config import CONF

    from oxmp_hooks import selfcheck

    # The bundle must accept every command line its multiprocessing (and the forks and loky the app uses) will emit.
    in_app = [
        name
        for name in list(selfcheck.TRACKERS) + list(selfcheck.LOKY_TRACKERS)
        if collect.collected(hook_api.module_graph, name)
    ]
    selfcheck.check(
        [name for name in in_app if name in selfcheck.TRACKERS] or ["multiprocessing"],
        next((name for name in in_app if name in selfcheck.LOKY_TRACKERS), None),
    )
    hook_api.add_datas(write_datas(hook_api, CONF["workpath"]))
    # The runtime hook imports these; naming them here makes PyInstaller look for them with the pre-find hook.
    hook_api.add_imports("_oxmp_runtime.boot")


def write_datas(hook_api: PostGraphAPI, workpath: str) -> list[tuple[str, str]]:
    """Write the entry scripts' code under ``workpath``, in the folder of this Analysis (a spec's Analyses may have
    scripts of the same name); return the ``datas`` to collect, with the baked record.

    The record (the Analysis' ``hooksconfig``, validated and logged, and the build facts) is written by ``baked.py``,
    once per Analysis for every oxmp build hook: a bundle without multiprocessing has it too.
    """
    analysis = hook_api.analysis
    outdir = os.path.join(baked.outdir(analysis, workpath), "entry")
    os.makedirs(outdir, exist_ok=True)
    optimize = getattr(analysis, "optimize", -1)  # Analysis(optimize=...) exists from PyInstaller 6.6
    entry_files = [write_entry_code(script, outdir, optimize) for script in analysis.inputs]
    return baked.record_datas(hook_api) + [(path, baked.ENTRY_CODE_DIR) for path in entry_files]


def write_entry_code(script: str, outdir: str, optimize: int | None) -> str:
    """Compile an entry script to a .pyc image named ``<script name>.code``, which the runtime runs as python runs the
    script (_oxmp_runtime/entry.py): the app's source is not shipped."""
    name = baked.entry_code_name(script)
    with open(script, "rb") as source:
        # Named as PyInstaller names the script's own code, so that a traceback through it in a worker names the
        # script, as in the app.
        code = compile(
            source.read(),
            os.path.basename(script),
            "exec",
            dont_inherit=True,
            optimize=sys.flags.optimize if optimize in (None, -1) else optimize,
        )
    path = os.path.join(outdir, name)
    with open(path, "wb") as compiled:
        # The .pyc header: magic number, flags (0: not hash-based), then source mtime and size, unused here.
        compiled.write(importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(code))
    return path
