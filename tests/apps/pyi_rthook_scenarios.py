"""PyInstaller's own functional tests of its runtime hooks for inspect and pkgutil, as one app: one `RESULT {json}`.

From PyInstaller's tests/functional, with standard-library packages in place of its test packages:
test_misc.py test_inspect_getmodule_from_stackframes (#5963) and test_inspect_rthook_robustness (#7642),
test_import.py test_source_utf8_emoji (inspect.getsource of frozen code whose source is collected as data: the
spec collects html/__init__.py),
test_pkgutil.py test_pkgutil_iter_modules (json, a package; xml.dom, a sub-package; with and without a prefix),
test_pkgutil_iter_modules_with_module_path and ..._subdir (#8191). Plus tracebacks: inspect.getinnerframes() of a
traceback through frozen code. Under plain python the same script gives the answers a bundle must give.
"""

import html
import json

# json's and xml.dom's submodules: what PyInstaller's test collects with --collect-submodules (every submodule), so
# that listing them is comparable.
import json.decoder
import json.encoder
import json.scanner
import json.tool
import os
import re
import sys
import xml.dom
import xml.dom.domreg
import xml.dom.expatbuilder
import xml.dom.minicompat
import xml.dom.minidom
import xml.dom.NodeFilter
import xml.dom.pulldom
import xml.dom.xmlbuilder

report = {}


def names(modules):
    return [getattr(module, "__name__", None) for module in modules]


def modules_on_stack():
    import inspect

    return names(inspect.getmodule(frame_info[0]) for frame_info in inspect.stack())


def from_json_callback(callback):
    # Frozen code between two frames of the app: json.loads() calls back from json.decoder.
    found = {}

    def object_hook(obj):
        found["result"] = callback()
        return obj

    json.loads('{"a": 1}', object_hook=object_hook)
    return found["result"]


def where(path):
    """A file name as the same everywhere: relative to the bundle's folder or to the standard library's."""
    if not path or not os.path.isabs(path):
        return path
    base = getattr(sys, "_MEIPASS", None) or os.path.dirname(os.path.dirname(json.__file__))
    return os.path.relpath(path, base).replace(os.sep, "/")


# --- inspect -------------------------------------------------------------------------------------------------------

import inspect  # noqa: E402

report["stack_modules"] = from_json_callback(modules_on_stack)
report["stack_modules_through_re"] = re.sub("x", lambda match: ",".join(map(str, modules_on_stack())), "x")
report["getsourcefile"] = where(inspect.getsourcefile(json.decoder.JSONDecoder.decode))
report["getsource_first_line"] = inspect.getsource(html.escape).splitlines()[0].strip()


def fail():
    raise ValueError("from a json callback")


try:
    from_json_callback(fail)
except ValueError:
    frames = inspect.getinnerframes(sys.exc_info()[2])
    report["traceback_modules"] = names(inspect.getmodule(frame_info.frame) for frame_info in frames)
    report["traceback_files"] = [
        where(frame_info.filename)
        for frame_info in frames
        if not frame_info.filename.endswith(os.path.basename(__file__))
    ]

# --- pkgutil -------------------------------------------------------------------------------------------------------

import pkgutil  # noqa: E402


def listing(path, prefix=""):
    return sorted([module.name, module.ispkg] for module in pkgutil.iter_modules(path, prefix))


report["iter_modules_json"] = listing(json.__path__)
report["iter_modules_json_prefix"] = listing(json.__path__, "json.")
report["iter_modules_xml_dom"] = listing(xml.dom.__path__)
module_path = os.path.splitext(json.encoder.__file__)[0]
report["iter_modules_module_path"] = listing([module_path])
report["iter_modules_module_path_subdir"] = listing([os.path.join(module_path, "nonexistent")])
report["iter_modules_top_level_has_json"] = "json" in {module.name for module in pkgutil.iter_modules()}


# --- Robustness (#7642): the app rebinds the global name `inspect`; the hook must not use the app's globals. ----------


def inspect(something):
    return "inspected %s" % something


def some_interactive_debugger_function():
    import inspect

    return len(inspect.stack()) > 0


report["robust_to_global_inspect"] = some_interactive_debugger_function()
print("RESULT " + json.dumps(report))
