# oxmp's build hook for multiprocessing: validates `hooksconfig={"multiprocessing": {...}}` from the spec file, checks
# that the bundle accepts the command lines its multiprocessing will emit, and writes the settings (in the baked
# record) and the entry scripts' code into the bundle for oxmp's runtime hook. See oxmp_hooks/build.py.
#
# Example, in a .spec file:
#     a = Analysis(["app.py"], hooksconfig={"multiprocessing": {"start_method": "spawn", "auto_dispatch": True}})

import os
import runpy

runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "_this_package.py"))["load"]()

from oxmp_hooks.build import hook  # noqa: E402,F401  (the package loaded just above)
