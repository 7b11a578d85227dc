"""The workflows: every one valid for GitHub Actions (checked by check-jsonschema, from the [test] extra, against its
vendored schema, offline); the CI workflow running what tox.ini defines on every supported platform and Python; the
release workflow publishing only what passed those tests, built once, with PyPI's trusted publishing. And the CI
templates users copy (examples/ci/, docs/ci.md): valid, and their Linux steps run for real, so that they cannot rot."""

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


def lint(path, schema="vendor.github-workflows"):
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, path],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )


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
    jobs = {
        (os_name, python, toxenv)
        for os_name in matrix["os"]
        for python in matrix["python"]
        for toxenv in matrix["toxenv"]
    }
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
        assert (
            sorted(
                {python for os_name, python, env in jobs if os_name == platform and env == "pyinstaller-latest"},
                key=lambda version: tuple(map(int, version.split("."))),
            )
            == PYTHONS
        )


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
    publishers = [
        name
        for name, job in jobs.items()
        if any(step.get("uses", "").startswith("pypa/gh-action-pypi-publish@") for step in job.get("steps", []))
    ]
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
    uploaded = [
        step["with"]["name"]
        for job in jobs.values()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith("actions/upload-artifact@")
    ]
    downloaded = [
        step["with"]["name"]
        for step in jobs["publish"]["steps"]
        if step.get("uses", "").startswith("actions/download-artifact@")
    ]
    assert uploaded == downloaded == ["dist"]
    build_steps = "\n".join(step.get("run", "") for step in jobs["build"]["steps"])
    assert "python -m build" in build_steps and "twine check --strict" in build_steps
    # The tag must name the version the packages carry (oxmp_hooks/__init__.py, the one place it is written).
    assert "oxmp_hooks.__version__" in build_steps and "$GITHUB_REF_NAME" in build_steps


# --- The templates users copy: examples/ci/ ---------------------------------------------------------------------------

TEMPLATES = os.path.join(bundles.REPO, "examples", "ci")
GITHUB_TEMPLATE = os.path.join(TEMPLATES, "github-actions.yml")
GITLAB_TEMPLATE = os.path.join(TEMPLATES, "gitlab-ci.yml")
# What each template is checked against: GitHub's workflow schema, with the rule that every job has a time limit;
# GitLab's CI schema.
TEMPLATE_SCHEMAS = {
    GITHUB_TEMPLATE: ["vendor.github-workflows", "custom.github-workflows-require-timeout"],
    GITLAB_TEMPLATE: ["vendor.gitlab-ci"],
}


def test_every_template_is_linted():
    assert sorted(glob.glob(os.path.join(TEMPLATES, "*"))) == sorted(TEMPLATE_SCHEMAS)


@pytest.mark.parametrize(
    "path, schema",
    [(path, schema) for path, schemas in sorted(TEMPLATE_SCHEMAS.items()) for schema in schemas],
    ids=lambda value: os.path.basename(value),
)
def test_template_passes_the_linter(path, schema):
    result = lint(path, schema)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "schema, broken",
    [
        (
            "custom.github-workflows-require-timeout",
            "on: push\njobs:\n  build:\n    runs-on: x\n    steps: [{run: a}]\n",
        ),
        ("vendor.gitlab-ci", "build:\n  script: 3\n  artifacts: {when: sometimes}\n"),
    ],
)
def test_template_linters_reject_a_broken_file(tmp_path, schema, broken):
    path = tmp_path / "broken.yml"
    path.write_text(broken)
    assert lint(str(path), schema).returncode != 0


def test_github_template_builds_on_every_platform_and_python_and_keeps_its_artifacts():
    job = load(GITHUB_TEMPLATE)["jobs"]["build"]
    assert set(job["strategy"]["matrix"]["os"]) == PLATFORMS and job["strategy"]["matrix"]["python"] == PYTHONS
    assert job["strategy"]["fail-fast"] is False and job["defaults"]["run"]["shell"] == "bash"
    (upload,) = [step for step in job["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()" and upload["with"]["path"] == "artifacts/"
    for step in job["steps"]:
        # Every value reaches a script through the environment, never spliced into its text by an expression.
        assert "${{" not in step.get("run", ""), step


def test_gitlab_template_builds_with_every_python_and_reports_junit():
    template = load(GITLAB_TEMPLATE)
    assert template["linux"]["parallel"]["matrix"] == [{"PYTHON": PYTHONS}]
    assert {name for name, job in template.items() if isinstance(job, dict) and job.get("extends") == ".build"} == {
        "linux",
        "macos",
        "windows",
    }
    artifacts = template[".build"]["artifacts"]
    assert artifacts["when"] == "always" and artifacts["reports"]["junit"] == "artifacts/doctor.xml"


class TemplateRun:
    """Runs a template's Linux steps in ``workdir``, as the CI system would: its variables in the environment, each
    script in bash. The caches are restored with a virtual environment that sees this test run's packages (oxmp,
    PyInstaller), so that its install step finds everything installed, as on a cache hit, without the network."""

    def __init__(self, workdir, extra_env=None):
        self.workdir = workdir
        self.extra_env = dict(extra_env or {})
        self.python_dir = os.path.join(workdir, "setup-python")  # the Python the job asks for: this test run's

    def environment(self, variables):
        env = {
            "PATH": os.pathsep.join([self.python_dir, os.environ["PATH"]]),
            "HOME": self.workdir,
            "LC_ALL": "C.UTF-8",
            "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "RUNNER_OS": "Linux",
            "GITHUB_WORKSPACE": self.workdir,
            "CI_PROJECT_DIR": self.workdir,
            "CI_JOB_NAME_SLUG": "linux",
        }
        for key, value in variables.items():
            # The only expressions and variables the templates' values use: where the checkout is.
            env[key] = (
                str(value).replace("${{ github.workspace }}", self.workdir).replace("$CI_PROJECT_DIR", self.workdir)
            )
            assert "$" not in env[key], (key, value)
        env.update(self.extra_env)
        return env

    def setup_python(self):
        os.makedirs(self.python_dir, exist_ok=True)
        for name in ("python", "python3"):
            if not os.path.lexists(os.path.join(self.python_dir, name)):
                os.symlink(sys.executable, os.path.join(self.python_dir, name))

    def restore_cache(self):
        if os.path.isdir(os.path.join(self.workdir, ".venv")):
            return
        import sysconfig

        venv = os.path.join(self.workdir, ".venv")
        subprocess.check_call([sys.executable, "-m", "venv", "--without-pip", venv])
        python = os.path.join(venv, "bin", "python")
        purelib = subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], universal_newlines=True
        ).strip()
        with open(os.path.join(purelib, "test-run.pth"), "w") as pth:
            pth.write("import site; site.addsitedir(%r)\n" % sysconfig.get_paths()["purelib"])

    def checkout(self, spec):
        # What the template builds, at the same path as in the repository.
        import shutil

        relative = os.path.dirname(spec)
        if not os.path.isdir(os.path.join(self.workdir, relative)):
            shutil.copytree(os.path.join(bundles.REPO, relative), os.path.join(self.workdir, relative))

    def bash(self, script, env):
        # As GitHub runs a step with `shell: bash`; GitLab's scripts set pipefail themselves.
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script],
            cwd=self.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
        )

    def github(self, path=GITHUB_TEMPLATE):
        """Run the GitHub template's steps; returns {step name: (exit status, output)} of the steps run."""
        workflow = load(path)
        job = workflow["jobs"]["build"]
        variables = dict(workflow.get("env", {}), **job.get("env", {}))
        github_env = os.path.join(self.workdir, "github-env")
        open(github_env, "w").close()
        outcome, failed = {}, False
        for step in job["steps"]:
            name = step.get("name") or step.get("uses")
            if failed and step.get("if") != "always()":
                continue
            env = self.environment(variables)
            env["GITHUB_ENV"] = github_env
            with open(github_env) as exported:
                env.update(line.split("=", 1) for line in exported.read().splitlines() if "=" in line)
            uses = step.get("uses", "").split("@")[0]
            if "run" in step:
                result = self.bash(step["run"], env)
                outcome[name] = (result.returncode, result.stdout)
            elif uses == "actions/checkout":
                self.checkout(env["APP_SPEC"])
                outcome[name] = (0, "")
            elif uses == "actions/setup-python":
                self.setup_python()
                outcome[name] = (0, "")
            elif uses == "actions/cache":
                self.restore_cache()
                outcome[name] = (0, "")
            elif uses == "actions/upload-artifact":
                kept = os.path.join(self.workdir, step["with"]["path"])
                outcome[name] = (0, sorted(os.listdir(kept)) if os.path.isdir(kept) else [])
            else:
                raise AssertionError("a step this test cannot run: %r" % step)
            failed = failed or outcome[name][0] != 0
        return outcome

    def gitlab(self, path=GITLAB_TEMPLATE, job="linux"):
        """Run the script of one of the GitLab template's jobs, in one shell as GitLab does: (exit status, output)."""
        template = load(path)
        script = template[".build"]["script"] if "script" not in template[job] else template[job]["script"]
        env = self.environment(template["variables"])
        env["PYTHON"] = "%d.%d" % sys.version_info[:2]
        self.checkout(env["APP_SPEC"])
        self.setup_python()  # the image's
        self.restore_cache()
        result = self.bash("\n".join(script), env)
        return result.returncode, result.stdout


def doctor_cases(path):
    import xml.etree.ElementTree as ElementTree

    return {
        case.get("name"): [child.tag for child in case] for case in ElementTree.parse(path).getroot().iter("testcase")
    }


GATE = "Check the bundle with the oxmp doctor (the gate)"
KEEP = "Keep the bundle and the doctor's reports"
ARTIFACTS = ["bundle.tar.gz", "doctor.txt", "doctor.xml"]


@pytest.mark.bundle
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the templates' Linux steps")
def test_templates_linux_steps_build_the_app_and_gate_it_on_the_doctor(bundle_root):
    # Both templates in one checkout, one after the other (a later build reuses the work folder, as a cached one
    # would): install (a cache hit), build, the doctor as the gate, the artifacts kept.
    import shutil

    workdir = bundles.scratch_dir(bundle_root)
    artifacts = os.path.join(workdir, "artifacts")
    steps = TemplateRun(workdir).github()
    assert [status for status, _ in steps.values()] == [0] * len(steps), steps
    assert "All 6 checks passed." in steps[GATE][1], steps[GATE]
    assert steps[KEEP][1] == ARTIFACTS
    cases = doctor_cases(os.path.join(artifacts, "doctor.xml"))
    assert len(cases) == 6 and set(map(tuple, cases.values())) == {()}, cases
    with open(os.path.join(artifacts, "doctor.txt")) as text:
        assert text.read() in steps[GATE][1]
    shutil.rmtree(artifacts)
    status, output = TemplateRun(workdir).gitlab()
    assert status == 0, output
    assert "All 6 checks passed." in output and sorted(os.listdir(artifacts)) == ARTIFACTS

    # The gate closes: a bad OXMP_START_METHOD in the job's environment fails a check. The job fails at the doctor's
    # step, and the reports are kept, with the failure and its hint in the JUnit XML.
    shutil.rmtree(artifacts)
    failing = TemplateRun(workdir, {"OXMP_START_METHOD": "threads"})
    steps = failing.github()
    statuses = {name: status for name, (status, _) in steps.items()}
    assert statuses.pop(GATE) == 1 and set(statuses.values()) == {0}, steps
    assert steps[KEEP][1] == ARTIFACTS
    assert doctor_cases(os.path.join(artifacts, "doctor.xml"))["OXMP_START_METHOD is valid"] == ["failure"]
    status, output = failing.gitlab()
    assert status == 1 and "hint: unset OXMP_START_METHOD" in output, output
