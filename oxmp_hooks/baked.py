"""The one record a build hands the runtime (``settings.Baked`` in ``_oxmp/settings.txt``): the validated settings,
where the entry scripts' code lies in the bundle, and the build facts.

Every oxmp build hook that PyInstaller runs for a bundle asks for it: ``hook-multiprocessing.py`` (through
``build.py``), and ``hook-inspect.py`` and ``hook-pkgutil.py`` (through ``deferred.py``), so that a bundle without
multiprocessing has its settings too. The first to ask validates ``hooksconfig["multiprocessing"]``, logs the
settings and writes the file; the others get the same file. What it holds depends only on the spec and on the
PyInstaller that builds, never on which hook asked first.
"""

import os
import posixpath
import sys
import weakref

from oxmp_hooks import __version__, check_hook_folders, config, runtime_module

__all__ = ["ENTRY_CODE_DIR", "settings_datas", "settings", "outdir", "entry_code_name"]

# The entry scripts' code goes to sys._MEIPASS/_oxmp/entry/<script name>.code (``entry_code_name``): a folder and
# suffix that no import finder takes for a module, so nothing reads it as source. The runtime (_oxmp_runtime/entry.py)
# runs it where python runs the script: as __mp_main__ in spawn and forkserver workers, under the path the bootloader
# gives the script as __main__.__file__, and as module <script name> on `import <script name>`. build.py puts the
# files there; the record tells the runtime their paths.
ENTRY_CODE_DIR = runtime_module("entry").CODE_DIR

# Per Analysis (one build of one spec's Analysis): its validated settings, and the `datas` entry of its settings file.
_baked = weakref.WeakKeyDictionary()


def settings_datas(hook_api):
    """Validate the settings, log them and write the file, once per Analysis; returns the ``datas`` to collect."""
    return list(_bake(hook_api)[1])


def settings(hook_api):
    """The validated settings of this build (all keys)."""
    return dict(_bake(hook_api)[0])


def _bake(hook_api):
    analysis = hook_api.analysis
    if analysis not in _baked:
        from PyInstaller.config import CONF

        check_hook_folders(getattr(analysis, "hookspath", None))
        values, path = write_settings(analysis, outdir(analysis, CONF["workpath"]))
        collect_run_modules(hook_api, values["run_modules"])
        _baked[analysis] = values, [(path, posixpath.dirname(config.schema.BAKED_PATH))]
    return _baked[analysis]


# Where PyInstaller's own hidden imports go in a spec file, for the error message.
HIDDEN_IMPORTS_HINT = ("if PyInstaller's analysis misses a module it imports, name that one in the spec's "
                       "Analysis(hiddenimports=[...]) (or --hidden-import NAME, --collect-submodules PACKAGE)")


def collect_run_modules(hook_api, names):
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
                missing.append("%r is a package without a __main__ module: `python -m %s` cannot run it either"
                               % (name, name))
                continue
        if node is None:
            missing.append("%r cannot be collected: PyInstaller does not find it, or the spec excludes it (is it "
                           "installed where PyInstaller runs?)" % name)
    if missing:
        raise SystemExit("ERROR: oxmp: run_modules in hooksconfig[\"%s\"]:\n%s\n  (%s)"
                         % (config.SECTION, "\n".join("  - " + problem for problem in missing), HIDDEN_IMPORTS_HINT))
    logger.info("oxmp: run_modules collected with what they import: %s; %s", ", ".join(names), HIDDEN_IMPORTS_HINT)
    for warning in entry_point_warnings(hook_api.module_graph, names):
        logger.warning("oxmp: %s", warning)


def entry_point_warnings(graph, names):
    """What the build says of modules of ``names`` (run_modules) whose commands would be missing from the bundle."""
    return ["run_modules: `-m %s` runs the commands of the entry points %r, and the bundle lacks their modules: %s "
            "(imported by name, which PyInstaller's analysis does not follow: the bundle's `-m %s` would not have those "
            "commands). Add them to the spec's Analysis: hiddenimports=%s"
            % (name, group, ", ".join(modules), name, hidden_imports_for(modules))
            for name in names for group, modules in entry_point_modules_missing(graph, name).items()]


# Modules of run_modules whose command line finds its commands through entry points, importing each by name (which
# PyInstaller's analysis cannot follow): module -> entry point groups. dask's CLI (`python -m dask spec ...`, what
# distributed's SubprocessCluster runs) registers the commands of group "dask_cli", which distributed provides from
# distributed.cli (dask/cli.py, run_cli(); checked: dask 2024.1-2026.11).
ENTRY_POINT_GROUPS = {"dask": ("dask_cli",)}


def entry_point_modules_missing(graph, name):
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


def installed_entry_points(group):
    """The entry points of ``group`` in the Python that builds (where PyInstaller collects the libraries from)."""
    from importlib import metadata

    found = metadata.entry_points()
    return found.select(group=group) if hasattr(found, "select") else found.get(group, [])  # 3.10+, 3.8-3.9


def collected(graph, name):
    """True if the app's module graph has ``name`` as a module PyInstaller collects. An import of a library that is
    not installed (``try: import billiard``) or that the spec excludes is in the graph too, as a node without a
    file (modulegraph's MissingModule, ExcludedModule)."""
    node = graph.find_node(name)
    return node is not None and getattr(node, "filename", None) is not None


def hidden_imports_for(modules):
    """What to write after ``hiddenimports=``: ``collect_submodules(PACKAGE)`` for the package the modules share, or
    the list of names."""
    package = os.path.commonprefix([module.split(".")[:-1] for module in modules])
    if len(modules) > 1 and package:
        return 'collect_submodules("%s") (from PyInstaller.utils.hooks)' % ".".join(package)
    return repr(list(modules))


def import_into_graph(hook_api, name):
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


def outdir(analysis, workpath):
    """A folder for the files oxmp writes for this Analysis: a spec may have several, with settings of their own."""
    name = os.path.splitext(os.path.basename(getattr(analysis, "tocfilename", "") or "Analysis"))[0]
    path = os.path.join(workpath, "oxmp", name)
    os.makedirs(path, exist_ok=True)
    return path


def write_settings(analysis, folder):
    """Validate ``hooksconfig["multiprocessing"]``, log it and write the settings file in ``folder``; returns
    (settings, the file's path)."""
    from PyInstaller.utils.hooks import logger

    values, errors = config.validate(analysis.hooksconfig.get(config.SECTION), sys.platform)
    if errors:
        raise SystemExit("ERROR: oxmp: invalid multiprocessing settings in the spec file:\n"
                         + "\n".join("  - " + error for error in errors))
    logger.info(config.describe(values, sys.platform))
    entry_code = [posixpath.normpath(posixpath.join(ENTRY_CODE_DIR, entry_code_name(script)))
                  for script in analysis.inputs]
    path = os.path.join(folder, posixpath.basename(config.schema.BAKED_PATH))
    with open(path, "w", encoding="utf-8") as baked:
        baked.write(config.schema.Baked(values, entry_code, build_facts()).encode())
    return values, path


def build_facts():
    import PyInstaller

    return {
        "oxmp": __version__,
        "pyinstaller": PyInstaller.__version__,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "platform": sys.platform,
    }


def entry_code_name(script):
    """The name of an entry script's code file in the bundle: ``<script name>.code``."""
    return os.path.splitext(os.path.basename(script))[0] + runtime_module("entry").CODE_SUFFIX
