"""Make ``oxmp_hooks`` mean the package this folder belongs to, for the hook files beside it.

PyInstaller loads each ``hook-*.py`` by its path. Named with ``--additional-hooks-dir`` or ``hookspath=[...]``, this
folder may be in a checkout that is not installed, or another copy than an installed one: a hook must use the package
it came with. Each hook file runs this file (``runpy.run_path``) and calls ``load()``, then imports what it needs.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType
from typing import cast


def load() -> ModuleType:
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    package = sys.modules.get("oxmp_hooks")
    if package is None or os.path.dirname(os.path.abspath(cast(str, package.__file__))) != package_dir:
        for name in [name for name in sys.modules if name.startswith(("oxmp_hooks.", "_oxmp_runtime"))]:
            del sys.modules[name]  # the other copy's modules, which the imports below must not reuse
        spec = importlib.util.spec_from_file_location(
            "oxmp_hooks", os.path.join(package_dir, "__init__.py"), submodule_search_locations=[package_dir]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules["oxmp_hooks"] = package
        spec.loader.exec_module(package)
    return package
