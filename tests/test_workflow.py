"""The CI workflow: valid for GitHub Actions (checked by check-jsonschema, from the [test] extra, against its vendored
schema, offline), and running what tox.ini defines on every supported platform and Python."""

import configparser
import os
import subprocess
import sys

import yaml

from tests import bundles

WORKFLOW = os.path.join(bundles.REPO, ".github", "workflows", "tests.yml")
TOX_INI = os.path.join(bundles.REPO, "tox.ini")
PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]
PLATFORMS = {"ubuntu-latest", "macos-latest", "windows-latest"}


def lint(path):
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)


def test_workflow_passes_the_linter():
    result = lint(WORKFLOW)
    assert result.returncode == 0, result.stdout


def test_linter_rejects_a_broken_workflow(tmp_path):
    # Guards the test above: the linter really checks (a job needs runs-on, steps must be a list).
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  tests:\n    steps: run the tests\n")
    result = lint(str(broken))
    assert result.returncode != 0, result.stdout


def matrix_jobs():
    """Every (os, python, toxenv) the workflow's matrix expands to."""
    with open(WORKFLOW, encoding="utf-8") as workflow:
        matrix = yaml.safe_load(workflow)["jobs"]["tests"]["strategy"]["matrix"]
    jobs = {(os_name, python, toxenv) for os_name in matrix["os"] for python in matrix["python"]
            for toxenv in matrix["toxenv"]}
    return jobs | {(extra["os"], extra["python"], extra["toxenv"]) for extra in matrix.get("include", [])}


def tox_envlist():
    config = configparser.ConfigParser()
    config.read(TOX_INI)
    return [env.strip() for env in config["tox"]["envlist"].split(",")]


def test_workflow_runs_every_tox_env_on_every_platform():
    jobs = matrix_jobs()
    for toxenv in tox_envlist():
        assert {os_name for os_name, _, env in jobs if env == toxenv} >= PLATFORMS, toxenv
    assert {os_name.split("-")[0] for os_name, _, _ in jobs} == {os_name.split("-")[0] for os_name in PLATFORMS}
    assert {env for _, _, env in jobs} == set(tox_envlist())


def test_workflow_runs_the_oldest_supported_python():
    # Python 3.8 (pyproject.toml's requires-python) runs on the oldest PyInstaller, where a runner still offers it.
    assert ("ubuntu-22.04", "3.8", "pyinstaller-6.0") in matrix_jobs()


def test_workflow_runs_every_supported_python_on_the_newest_pyinstaller():
    jobs = matrix_jobs()
    for platform in PLATFORMS:
        assert sorted({python for os_name, python, env in jobs if os_name == platform and env == "pyinstaller-latest"},
                      key=lambda version: tuple(map(int, version.split(".")))) == PYTHONS
