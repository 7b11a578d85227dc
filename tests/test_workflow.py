"""The workflows: every one valid for GitHub Actions (checked by check-jsonschema, from the [test] extra, against its
vendored schema, offline); the CI workflow running what tox.ini defines on every supported platform and Python; the
release workflow publishing only what passed those tests, built once, with PyPI's trusted publishing."""

import configparser
import glob
import os
import subprocess
import sys

import pytest
import yaml

from tests import bundles

WORKFLOWS = os.path.join(bundles.REPO, ".github", "workflows")
WORKFLOW = os.path.join(WORKFLOWS, "tests.yml")
RELEASE = os.path.join(WORKFLOWS, "release.yml")
TOX_INI = os.path.join(bundles.REPO, "tox.ini")
PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
PLATFORMS = {"ubuntu-latest", "macos-latest", "windows-latest"}


def lint(path):
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(WORKFLOWS, "*.yml"))), ids=os.path.basename)
def test_workflow_passes_the_linter(path):
    result = lint(path)
    assert result.returncode == 0, result.stdout


def test_the_linter_sees_every_workflow():
    assert {os.path.basename(path) for path in glob.glob(os.path.join(WORKFLOWS, "*"))} == {"tests.yml", "release.yml"}


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


# --- The release workflow --------------------------------------------------------------------------------------------

def load(path):
    with open(path, encoding="utf-8") as workflow:
        data = yaml.safe_load(workflow)
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def needed(jobs, name):
    """Every job that ``name`` waits for, directly or through others."""
    found, queue = set(), [name]
    while queue:
        needs = jobs[queue.pop()].get("needs", [])
        for job in [needs] if isinstance(needs, str) else needs:
            if job not in found:
                found.add(job)
                queue.append(job)
    return found


def test_release_runs_on_version_tags_only():
    assert load(RELEASE)["on"] == {"push": {"tags": ["v*"]}}


def test_release_publishes_with_trusted_publishing_after_the_tests():
    jobs = load(RELEASE)["jobs"]
    publishers = [name for name, job in jobs.items() if any(
        step.get("uses", "").startswith("pypa/gh-action-pypi-publish@") for step in job.get("steps", []))]
    assert len(publishers) == 1, publishers
    (publish,) = publishers
    assert jobs[publish]["permissions"] == {"id-token": "write"}
    # No other job may mint the identity token PyPI trusts; the workflow's default is read-only.
    assert load(RELEASE)["permissions"] == {"contents": "read"}
    assert [name for name, job in jobs.items() if "id-token" in job.get("permissions", {})] == [publish]
    # Only once the CI workflow, every job of its matrix, has passed for the tagged commit.
    testers = [name for name in needed(jobs, publish) if jobs[name].get("uses") == "./.github/workflows/tests.yml"]
    assert testers, needed(jobs, publish)


def test_the_ci_workflow_can_be_called_by_the_release():
    # A called workflow needs the trigger `workflow_call`; without it the release fails at its start, which the linter
    # cannot see. A tag's push runs the tests once, through the release, not a second time on its own.
    triggers = load(WORKFLOW)["on"]
    assert "workflow_call" in triggers
    assert "tags" not in triggers["push"] and triggers["push"].get("branches") == ["**"]


def test_release_builds_once_and_publishes_what_it_built():
    jobs = load(RELEASE)["jobs"]
    uploaded = [step["with"]["name"] for job in jobs.values() for step in job.get("steps", [])
                if step.get("uses", "").startswith("actions/upload-artifact@")]
    downloaded = [step["with"]["name"] for step in jobs["publish"]["steps"]
                  if step.get("uses", "").startswith("actions/download-artifact@")]
    assert uploaded == downloaded == ["dist"]
    build_steps = "\n".join(step.get("run", "") for step in jobs["build"]["steps"])
    assert "python -m build" in build_steps and "twine check --strict" in build_steps
    # The tag must name the version the packages carry (oxmp_hooks/__init__.py, the one place it is written).
    assert "oxmp_hooks.__version__" in build_steps and "$GITHUB_REF_NAME" in build_steps
