"""The doctor's report as JUnit XML (``--junit-xml PATH``), the test report that CI systems show on their test pages.

One test suite per run of the doctor; in it one test case per check and one per start method (its smoke test).
A failed check is a ``<failure>`` whose message is what went wrong and whose text ends with the doctor's hint; a
start method that was not tried (the doctor stopped before running the bundle) is ``<skipped>``, saying why; a
bundle whose oxmp files cannot be read is one ``<error>``. The whole report, as ``--json`` prints it, is the suite's
``<system-out>``. The layout is the one Jenkins, GitLab, Azure Pipelines and the GitHub Actions reporters read
(the JUnit 4 / Ant schema); written with the standard library only.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import xml.etree.ElementTree as ElementTree
from typing import Any, Sequence

__all__ = ["write", "suite_name", "CLASSNAME"]

CLASSNAME = "oxmp.doctor"

# What XML 1.0 cannot hold, even escaped (control characters a bundle may print): replaced by U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def write(
    path: str,
    report: dict[str, Any] | None = None,
    start_methods: Sequence[str] = (),
    error: str | None = None,
    executable: str | None = None,
) -> None:
    """Write the JUnit XML of one doctor's run to ``path``: of ``report`` (``doctor.diagnose()``'s), whose
    ``start_methods`` (the platform's) each get a test case, or of ``error``, the one line the doctor stopped with
    for ``executable``."""
    suite = ElementTree.Element("testsuite")
    cases = []
    seconds = 0.0 if report is None else (report["run"] or {}).get("seconds") or 0.0  # the diagnostic run's
    if report is None:
        case = _case("the bundle's oxmp files can be read", 0.0)
        ElementTree.SubElement(case, "error", message=_xml(error), type="unreadable").text = _xml(error)
        cases.append(case)
    else:
        executable = report["executable"]
        for check in report["checks"]:
            case = _case(check["name"], 0.0)
            if not check["passed"]:
                _failure(case, check["detail"] or check["name"], check["hint"])
            cases.append(case)
        tried = {test["start_method"]: test for test in report["smoke_tests"]}
        stopped_at = next((check["name"] for check in report["checks"] if not check["passed"]), None)
        for method in list(start_methods) + [method for method in tried if method not in start_methods]:
            test = tried.get(method)
            case = _case("smoke test: %s" % method, (test or {}).get("seconds") or 0.0)
            if test is None:
                reason = (
                    "not run: the doctor stopped at the check %r" % stopped_at
                    if stopped_at
                    else "not run: the bundle's Python does not offer %s" % method
                )
                ElementTree.SubElement(case, "skipped", message=_xml(reason))
            elif not test["passed"]:
                _failure(case, test["error"] or "failed", test["hint"])
            cases.append(case)
        ElementTree.SubElement(suite, "system-out").text = _xml(json.dumps(report, indent=2))
    suite.attrib.update(
        {
            "name": suite_name(report, executable),
            "tests": str(len(cases)),
            "failures": str(sum(case.find("failure") is not None for case in cases)),
            "errors": str(sum(case.find("error") is not None for case in cases)),
            "skipped": str(sum(case.find("skipped") is not None for case in cases)),
            "time": "%.3f" % seconds,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "hostname": _xml(socket.gethostname()),
        }
    )
    for position, case in enumerate(cases):
        suite.insert(position, case)
    root = ElementTree.Element(
        "testsuites",
        name="oxmp doctor",
        tests=suite.attrib["tests"],
        failures=suite.attrib["failures"],
        errors=suite.attrib["errors"],
        time=suite.attrib["time"],
    )
    root.append(suite)
    _indent(root)
    with open(path, "wb") as out:
        ElementTree.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)


def suite_name(report: dict[str, Any] | None, executable: str | None) -> str:
    """``oxmp doctor: NAME (PLATFORM, Python X.Y.Z)``: distinct for each job of a build matrix."""
    name = os.path.splitext(os.path.basename(executable or "?"))[0]
    build = (report or {}).get("build") or {}
    python = build.get("python") or ((report or {}).get("bundle") or {}).get("python_version")
    where = ", ".join(part for part in (build.get("platform"), python and "Python %s" % python) if part)
    return _xml("oxmp doctor: %s%s" % (name, " (%s)" % where if where else ""))


def _case(name: str, seconds: float) -> ElementTree.Element:
    return ElementTree.Element("testcase", classname=CLASSNAME, name=_xml(name), time="%.3f" % seconds)


def _failure(case: ElementTree.Element, message: str, hint: str | None) -> None:
    failure = ElementTree.SubElement(case, "failure", message=_xml(message), type="check")
    failure.text = _xml(message + ("\nhint: %s" % hint if hint else ""))


def _xml(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _indent(element: ElementTree.Element, level: int = 0) -> None:
    # ElementTree.indent() is Python 3.9+.
    pad = "\n" + "  " * level
    if len(element):
        if not (element.text or "").strip():
            element.text = pad + "  "
        for child in element:
            _indent(child, level + 1)
        if not (child.tail or "").strip():
            child.tail = pad
    if level and not (element.tail or "").strip():
        element.tail = pad
