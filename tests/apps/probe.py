"""Reports what oxmp's runtime did before the app's code, as one `RESULT {json}` line.

`probe [set METHOD | lazy-only]`."""

import json
import sys

lazy = "multiprocessing" not in sys.modules  # before any import of ours: did a runtime hook import it?
if len(sys.argv) > 1 and sys.argv[1] == "lazy-only":
    print("RESULT " + json.dumps({"multiprocessing_imported_at_start": not lazy}))
    sys.exit(0)

import multiprocessing  # noqa: E402
import multiprocessing.process  # noqa: E402

set_to = None
if len(sys.argv) > 2 and sys.argv[1] == "set":
    # The app's own choice must win over oxmp's default, without force=True.
    set_to = sys.argv[2]
    multiprocessing.set_start_method(set_to)

report = {
    "multiprocessing_imported_at_start": not lazy,
    "frozen": getattr(sys, "frozen", None),
    "start_method": multiprocessing.get_start_method(),
    "all_start_methods": multiprocessing.get_all_start_methods(),
    "freeze_support": "%s.%s"
    % (multiprocessing.freeze_support.__module__, multiprocessing.freeze_support.__qualname__),
    "original_dir_is_none": multiprocessing.process.ORIGINAL_DIR is None,
    "contexts": {m: multiprocessing.get_context(m).get_start_method() for m in multiprocessing.get_all_start_methods()},
}
boot = sys.modules.get("_oxmp_runtime.boot")
if boot is not None:
    report["baked"] = boot.baked().settings
multiprocessing.freeze_support()  # harmless in the app process
print("RESULT " + json.dumps(report))
