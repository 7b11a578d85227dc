"""Lines for pytest's own output, where CI logs keep them, from a test run with or without worker processes.

pytest-xdist's workers (``-n``) have no terminal of their own: what they print is lost. A worker keeps its lines in
``config.workeroutput``, which xdist hands to the controller when the worker finishes; the controller prints them
(``relay()``, from ``pytest_testnodedown`` in conftest.py).
"""

import contextlib

LINES_KEY = "oxmp_report_lines"


def report(config, line):
    """Print ``line`` in pytest's output, not captured; from a worker, through the controller when the worker ends."""
    workeroutput = getattr(config, "workeroutput", None)  # set on xdist workers only
    if workeroutput is not None:
        workeroutput.setdefault(LINES_KEY, []).append(line)
    else:
        _write_line(config, line)


def relay(config, workeroutput):
    """Print the lines a finished worker kept (``workeroutput``: what it sent, or None if it crashed)."""
    for line in (workeroutput or {}).get(LINES_KEY, []):
        _write_line(config, line)


def _write_line(config, line):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        reporter.ensure_newline()
        reporter.write_line(line)
