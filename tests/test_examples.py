"""Every example in examples/ builds from its own .spec file and prints what it should, run contained."""

import os
import re

import pytest

from tests import bundles

pytestmark = pytest.mark.bundle

AUTO = bundles.AUTO_START_METHOD

# example -> runs: (arguments, lines its output must contain)
EXAMPLES = {
    "pool_map": [
        ([], ["start method: " + AUTO, "squares: [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]"]),
    ],
    "process_pool_executor": [
        ([], ["start method: " + AUTO, "primes: [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47]"]),
    ],
    "manager": [
        ([], ["letters: {'alpha': 5, 'beta': 4, 'delta': 5, 'gamma': 5}", "finished: 4 of 4"]),
    ],
    "argparse_cli": [
        (
            ["--workers", "2", "--limit", "1000"],
            ["start method: " + AUTO, "workers: 2, longest below 1000: 871 (178 steps)"],
        ),
        # spawn starts each worker as the bundle with multiprocessing's arguments: the app's argparse never sees them.
        (
            ["--workers", "3", "--limit", "10000", "--method", "spawn"],
            ["start method: spawn", "workers: 3, longest below 10000: 6171 (261 steps)"],
        ),
    ],
    "progress_queue": [
        (
            [],
            ["progress: [%s%s] %d/20" % ("#" * done, "." * (20 - done), done) for done in range(1, 21)]
            + ["checksum of checksums: 600093"],
        ),
    ],
    "spawn_start_method": [
        ([], ["start method: spawn"] + ["%d squared is %d (in __mp_main__)" % (n, n * n) for n in range(3)]),
    ],
}

RUNS = [(name, args, lines) for name, runs in sorted(EXAMPLES.items()) for args, lines in runs]


def spec_path(name):
    return os.path.join(bundles.EXAMPLES, name, name + ".spec")


@pytest.mark.parametrize("name, args, lines", RUNS, ids=[" ".join([name] + args) for name, args, _ in RUNS])
def test_example_builds_from_its_spec_and_runs(builder, run, name, args, lines):
    bundle = builder.build_spec(spec_path(name))
    result = run(bundle, *args)
    assert result.returncode == 0, result
    assert not result.timed_out and not result.bombed, result
    assert "Traceback" not in result.stderr, result
    output = result.stdout.splitlines()
    # The expected lines, in this order (other lines may come between them).
    positions = [output.index(line) if line in output else None for line in lines]
    assert None not in positions, (lines, result)
    assert positions == sorted(positions), result


def test_spawn_example_is_onefile_and_takes_its_start_method_from_the_spec(builder):
    bundle = builder.build_spec(spec_path("spawn_start_method"))
    assert bundle.onefile
    assert "oxmp: multiprocessing settings: start_method=spawn" in bundle.log


def test_every_example_is_tested_and_in_the_readme():
    # ci/ holds CI templates, not an app: tests/test_workflow.py runs them.
    folders = sorted(
        name
        for name in os.listdir(bundles.EXAMPLES)
        if os.path.isdir(os.path.join(bundles.EXAMPLES, name)) and name != "ci"
    )
    assert folders == sorted(EXAMPLES)
    for name in folders:
        assert os.path.isfile(spec_path(name)), name
    with open(os.path.join(bundles.EXAMPLES, "README.md"), encoding="utf-8") as readme:
        lines = readme.read().splitlines()
    for name in folders:
        # One line per example, that builds it from the top of the checkout and runs it contained.
        found = [line for line in lines if line.startswith("- `%s`: " % name)]
        assert len(found) == 1, name
        assert "pyinstaller --noconfirm examples/%s/%s.spec && " % (name, name) in found[0]
        assert re.search(r"python -m oxmp_hooks run dist/%s(/%s)?( |`|$)" % (name, name), found[0]), found[0]
