# oxmp's build hook for inspect. It bundles the code of PyInstaller's own runtime hook for inspect, which oxmp's
# runtime hook runs right after the app or a worker first imports inspect, and the settings (oxmp_hooks/deferred.py).
# PyInstaller runs it for every bundle that has inspect, with or without multiprocessing.

import os
import runpy

runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "_this_package.py"))["load"]()

from oxmp_hooks.deferred import hook  # noqa: E402,F401  (the package loaded just above)
