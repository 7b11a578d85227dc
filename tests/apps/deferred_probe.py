"""What PyInstaller's runtime hooks for inspect and pkgutil imported before the app's code, and whether their fixes
work once the app imports the modules: one `RESULT {json}` line. It has no multiprocessing: oxmp defers the hooks in
every bundle it builds."""

import sys

# Before any import of ours: what did the runtime hooks import?
imported_at_start = sorted(name for name in ("inspect", "pkgutil", "zipfile") if name in sys.modules)
oxmp_modules_at_start = sorted(name for name in sys.modules if name.startswith("_oxmp_runtime"))

import importlib.util  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pkgutil  # noqa: E402

source_file = inspect.getsourcefile(json.decoder.JSONDecoder.decode)
print(
    "RESULT "
    + json.dumps(
        {
            "imported_at_start": imported_at_start,
            # PyInstaller's inspect hook resolves the relative file names of frozen code into the bundle's folder.
            "source_file": os.path.relpath(source_file, sys._MEIPASS) if os.path.isabs(source_file) else source_file,
            # PyInstaller's pkgutil hook lists the modules in the bundle's archive.
            "json_modules": sorted(module.name for module in pkgutil.iter_modules(json.__path__)),
            "multiprocessing_bundled": importlib.util.find_spec("multiprocessing") is not None,
            "oxmp_modules_at_start": oxmp_modules_at_start,
            "oxmp_modules": sorted(name for name in sys.modules if name.startswith("_oxmp_runtime")),
        }
    )
)
