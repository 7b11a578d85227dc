"""What oxmp's runtime loaded before the app's code, and after the app's first import of multiprocessing: one
`RESULT {json}` line. `startup_probe [import]`; any other arguments are the app's own (`-c settings.toml`)."""

import json
import sys


def oxmp_modules():
    return sorted(name for name in sys.modules if name.startswith("_oxmp_runtime"))


report = {"at_start": oxmp_modules()}  # before any import of ours
if "import" in sys.argv[1:]:
    import multiprocessing

    report["after_import"] = oxmp_modules()
    report["freeze_support"] = multiprocessing.freeze_support.__module__
    report["start_method"] = multiprocessing.get_start_method()
print("RESULT " + json.dumps(report))
