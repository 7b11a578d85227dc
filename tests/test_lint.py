"""Lint, format and types: `ruff check`, `ruff format --check` and `mypy`, configured in pyproject.toml, over the whole
checkout. Each runs as a contributor runs it, from the top of the checkout, and fails with the tool's own output.

The tools come with the [test] extra, at the versions pyproject.toml pins; a check whose tool is not installed (mypy
before Python 3.10) is skipped and says so.
"""

import importlib.util
import subprocess
import sys

import pytest

from tests import bundles


def run_tool(module, *args):
    if importlib.util.find_spec(module) is None:
        pytest.skip("%s is not installed for this Python (the [test] extra installs it where it runs)" % module)
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=bundles.REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=600,
    )
    assert done.returncode == 0, "`python -m %s %s` found:\n%s" % (module, " ".join(args), done.stdout)


def test_ruff_check():
    run_tool("ruff", "check", "--no-cache", ".")


def test_ruff_format():
    run_tool("ruff", "format", "--check", "--no-cache", ".")


def test_mypy():
    run_tool("mypy")  # the files and settings: pyproject.toml's [tool.mypy]
