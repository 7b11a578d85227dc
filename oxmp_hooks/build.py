"""What oxmp's build hook does: validate the settings, log them, and bake them and the entry scripts into the bundle."""

import importlib.util
import marshal
import os
import sys

from PyInstaller.utils.hooks import logger

from oxmp_hooks import __version__, config

# The entry scripts' code goes to sys._MEIPASS/<script name>.py: the path PyInstaller's bootloader gives the entry
# script as __main__.__file__. multiprocessing's spawn and forkserver workers run that path as __mp_main__, exactly
# as under plain Python, so the entry script's functions and classes work as worker targets.
ENTRY_CODE_DEST = "."


def bake(hook_api, hooksconfig, workpath):
    """Validate ``hooksconfig``, write the bundle's files under ``workpath``; return the ``datas`` to collect."""
    section = hooksconfig.get(config.SECTION)
    settings, errors = config.validate(section, sys.platform)
    if errors:
        raise SystemExit("ERROR: oxmp: invalid multiprocessing settings in the spec file:\n"
                         + "\n".join("  - " + error for error in errors))
    logger.info(config.describe(settings, sys.platform))

    outdir = os.path.join(workpath, "oxmp")
    os.makedirs(os.path.join(outdir, "entry"), exist_ok=True)
    analysis = hook_api.analysis
    optimize = getattr(analysis, "optimize", -1)  # Analysis(optimize=...) exists from PyInstaller 6.6
    entry_files = [write_entry_code(script, os.path.join(outdir, "entry"), optimize) for script in analysis.inputs]

    settings_path = os.path.join(outdir, config.schema.BAKED_FILE)
    facts = dict(build_facts(), entry_scripts=",".join(os.path.basename(path) for path in entry_files))
    with open(settings_path, "w", encoding="utf-8") as baked:
        baked.write(config.schema.encode(settings, facts))
    return [(settings_path, config.schema.BAKED_DIR)] + [(path, ENTRY_CODE_DEST) for path in entry_files]


def build_facts():
    import PyInstaller

    return {
        "oxmp": __version__,
        "pyinstaller": PyInstaller.__version__,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "platform": sys.platform,
    }


def write_entry_code(script, outdir, optimize):
    """Compile an entry script to a .pyc image named ``<script name>.py`` (as the bootloader names it).

    runpy.run_path() accepts compiled code under any name, so workers run it without the app's source being shipped.
    """
    name = os.path.splitext(os.path.basename(script))[0] + ".py"
    with open(script, "rb") as source:
        code = compile(source.read(), name, "exec", dont_inherit=True,
                       optimize=sys.flags.optimize if optimize in (None, -1) else optimize)
    path = os.path.join(outdir, name)
    with open(path, "wb") as compiled:
        # The .pyc header: magic number, flags (0: not hash-based), then source mtime and size, unused here.
        compiled.write(importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(code))
    return path
