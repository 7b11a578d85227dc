"""What oxmp's build asks of PyInstaller's module graph, and adds to it: whether the app's graph collects a module
(``collected()``), and the modules of the ``run_modules`` setting with what they import (``run_modules()``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from oxmp_hooks import config

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from PyInstaller.depend.analysis import PyiModuleGraph
    from PyInstaller.depend.imphookapi import PostGraphAPI

__all__ = ["collected", "run_modules", "entry_point_warnings"]


# Where PyInstaller's own hidden imports go in a spec file, for the error message.
HIDDEN_IMPORTS_HINT = (
    "if PyInstaller's analysis misses a module it imports, name that one in the spec's "
    "Analysis(hiddenimports=[...]) (or --hidden-import NAME, --collect-submodules PACKAGE)"
)


def run_modules(hook_api: PostGraphAPI, names: Sequence[str]) -> None:
    """Put each module of ``run_modules`` in the bundle with what it imports (a package with its ``__main__``, which
    ``python -m`` runs), and multiprocessing, whose runtime hook runs them; stop the build if one cannot be."""
    if not names:
        return
    from PyInstaller.utils.hooks import logger

    import_into_graph(hook_api, "multiprocessing")  # in the standard library, so always there
    missing = []
    for name in names:
        node = import_into_graph(hook_api, name)
        if node is not None and type(node).__name__ in ("Package", "NamespacePackage"):
            node = import_into_graph(hook_api, name + ".__main__")
            if node is None:
                missing.append(
                    "%r is a package without a __main__ module: `python -m %s` cannot run it either" % (name, name)
                )
                continue
        if node is None:
            missing.append(
                "%r cannot be collected: PyInstaller does not find it, or the spec excludes it (is it "
                "installed where PyInstaller runs?)" % name
            )
    if missing:
        raise SystemExit(
            'ERROR: oxmp: run_modules in hooksconfig["%s"]:\n%s\n  (%s)'
            % (config.SECTION, "\n".join("  - " + problem for problem in missing), HIDDEN_IMPORTS_HINT)
        )
    logger.info("oxmp: run_modules collected with what they import: %s; %s", ", ".join(names), HIDDEN_IMPORTS_HINT)
    for warning in entry_point_warnings(hook_api.module_graph, names):
        logger.warning("oxmp: %s", warning)


def entry_point_warnings(graph: PyiModuleGraph, names: Sequence[str]) -> list[str]:
    """What the build says of modules of ``names`` (run_modules) whose commands would be missing from the bundle."""
    return [
        "run_modules: `-m %s` runs the commands of the entry points %r, and the bundle lacks their modules: %s "
        "(imported by name, which PyInstaller's analysis does not follow: the bundle's `-m %s` would not have those "
        "commands). Add them to the spec's Analysis: hiddenimports=%s"
        % (name, group, ", ".join(modules), name, hidden_imports_for(modules))
        for name in names
        for group, modules in entry_point_modules_missing(graph, name).items()
    ]


# Modules of run_modules whose command line finds its commands through entry points, importing each by name (which
# PyInstaller's analysis cannot follow): module -> entry point groups. dask's CLI (`python -m dask spec ...`, what
# distributed's SubprocessCluster runs) registers the commands of group "dask_cli", which distributed provides from
# distributed.cli (dask/cli.py, run_cli(); checked: dask 2024.1-2026.11).
ENTRY_POINT_GROUPS = {"dask": ("dask_cli",)}


def entry_point_modules_missing(graph: PyiModuleGraph, name: str) -> dict[str, list[str]]:
    """{entry point group: [module, ...]}: the modules of the installed entry points that listed module ``name`` loads
    (``ENTRY_POINT_GROUPS``) which the bundle does not collect; an entry point without its module is a command that
    is not there, as dask's `No such command 'spec'`."""
    missing = {}
    for group in ENTRY_POINT_GROUPS.get(name, ()):
        modules = sorted(set(entry.value.partition(":")[0].strip() for entry in installed_entry_points(group)))
        lacking = [module for module in modules if not collected(graph, module)]
        if lacking:
            missing[group] = lacking
    return missing


def installed_entry_points(group: str) -> Iterable[EntryPoint]:
    """The entry points of ``group`` in the Python that builds (where PyInstaller collects the libraries from)."""
    from importlib import metadata

    found = metadata.entry_points()
    return found.select(group=group) if hasattr(found, "select") else found.get(group, [])  # 3.10+, 3.8-3.9


def collected(graph: PyiModuleGraph, name: str) -> bool:
    """True if the app's module graph has ``name`` as a module PyInstaller collects. An import of a library that is
    not installed (``try: import billiard``) or that the spec excludes is in the graph too, as a node without a
    file (modulegraph's MissingModule, ExcludedModule)."""
    node = graph.find_node(name)
    return node is not None and getattr(node, "filename", None) is not None


def hidden_imports_for(modules: Sequence[str]) -> str:
    """What to write after ``hiddenimports=``: ``collect_submodules(PACKAGE)`` for the package the modules share, or
    the list of names."""
    package = os.path.commonprefix([module.split(".")[:-1] for module in modules])
    if len(modules) > 1 and package:
        return 'collect_submodules("%s") (from PyInstaller.utils.hooks)' % ".".join(package)
    return repr(list(modules))


def import_into_graph(hook_api: PostGraphAPI, name: str) -> Any:
    """Add ``name`` and what it imports to the module graph, as a hidden import of the hooked module; returns its node,
    or None if PyInstaller cannot collect it (not found, excluded, or built into the interpreter: no code to run).

    ``ModuleGraph.import_hook()`` is the graph's public import (PyInstaller 6.0-6.22 checked); ``add_imports()``
    would add the module only after the hook returns, and a missing one with a warning only."""
    try:
        node = hook_api.module_graph.import_hook(name, hook_api.module)[0]
    except ImportError:
        return None
    if type(node).__name__ in ("Package", "NamespacePackage"):
        return node
    return node if getattr(node, "filename", None) is not None else None
