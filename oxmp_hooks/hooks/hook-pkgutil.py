# oxmp's build hook for pkgutil. It bundles the code of PyInstaller's own runtime hook for pkgutil, which oxmp's
# runtime hook runs right after the app or a worker first imports pkgutil, and the settings (oxmp_hooks/deferred.py).
# PyInstaller runs it for every bundle that has pkgutil, with or without multiprocessing.

import os
import runpy

runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "_this_package.py"))["load"]()

from oxmp_hooks.deferred import hook  # noqa: E402,F401  (the package loaded just above)
