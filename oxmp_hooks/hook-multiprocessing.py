# oxmp's build hook for multiprocessing: validates `hooksconfig={"multiprocessing": {...}}` from the spec file and
# bakes the settings and the entry scripts' code into the bundle for oxmp's runtime hook. See oxmp_hooks/build.py.
#
# Example, in a .spec file:
#     a = Analysis(["app.py"], hooksconfig={"multiprocessing": {"start_method": "spawn", "auto_dispatch": True}})

import importlib.util
import os
import sys

from PyInstaller.config import CONF


def _oxmp_hooks():
    # With --additional-hooks-dir or hookspath, this folder may be a checkout that is not installed: load the package
    # from here, so that the hook and the package always come from the same place.
    here = os.path.dirname(os.path.abspath(__file__))
    package = sys.modules.get("oxmp_hooks")
    if package is None or os.path.dirname(os.path.abspath(package.__file__)) != here:
        spec = importlib.util.spec_from_file_location(
            "oxmp_hooks", os.path.join(here, "__init__.py"), submodule_search_locations=[here])
        package = importlib.util.module_from_spec(spec)
        sys.modules["oxmp_hooks"] = package
        spec.loader.exec_module(package)
    return package


def hook(hook_api):
    _oxmp_hooks()
    from oxmp_hooks import build

    hook_api.add_datas(build.bake(hook_api, hook_api.analysis.hooksconfig, CONF["workpath"]))
    # The runtime hook imports these; naming them here makes PyInstaller look for them with the pre-find hook.
    hook_api.add_imports("_oxmp_runtime.boot")
