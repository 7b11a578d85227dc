"""The documentation says what the code does: its generated parts are rendered from the code, its versions agree with
the project's files, and its links and anchors lead somewhere."""

import os
import re

import pytest

from _oxmp_runtime import settings
from docs import blocks, versions
from oxmp_hooks import config, deferred
from tests import pythons

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(*path):
    with open(os.path.join(REPO, *path), encoding="utf-8") as text:
        return text.read()


def test_generated_blocks_are_current(capsys):
    # cog (cogapp) runs each block's code and compares its output with the block's text.
    status = blocks.run_cog("--check", "--diff")
    assert status == 0, "stale generated blocks (regenerate them with `%s`):\n%s" % (
        blocks.REGENERATE,
        capsys.readouterr().out,
    )


def test_check_of_generated_blocks_can_fail(tmp_path, monkeypatch):
    # A file whose block differs from what its function renders: cog --check says so, and says which file.
    stale = tmp_path / "stale.md"
    stale.write_text(
        "before\n<!-- [[[cog from docs import blocks; cog.out(blocks.settings_table()) ]]] -->\n"
        "| an old table |\n<!-- [[[end]]] -->\nafter\n"
    )
    monkeypatch.setattr(blocks, "FILES", (str(stale),))
    assert blocks.run_cog("--check") != 0
    monkeypatch.setattr(blocks, "FILES", (os.path.join(REPO, "README.md"),))
    assert blocks.run_cog("--check") == 0


# A block: cog's markers around the call of one function of docs/blocks.py, then the text it generated.
BLOCK = re.compile(
    r"^<!-- \[\[\[cog from docs import blocks; cog\.out\(blocks\.(\w+)\(\)\) \]\]\] -->\n"
    r"(.*?)^<!-- \[\[\[end\]\]\] -->",
    re.MULTILINE | re.DOTALL,
)


def cog_blocks(text):
    """{function name: the text cog generated for it} of each block of ``text``."""
    return dict(BLOCK.findall(text))


def test_every_file_has_a_block_and_every_block_is_in_a_file():
    found = {}
    for path in blocks.FILES:
        in_file = cog_blocks(read(path))
        assert in_file, "%s has no generated block" % path
        found.update(in_file)
    assert sorted(found) == sorted(render.__name__ for render in blocks.BLOCKS)
    assert found["settings_table"] == blocks.settings_table()  # what cog_blocks() reads is what the function wrote


def readme_rows():
    """The README's settings table as a user reads it: {key: (allowed values or None, default)}, from its Markdown."""
    table = cog_blocks(read("README.md"))["settings_table"]
    rows = {}
    for line in table.splitlines()[2:]:  # after the header and the rule
        key, values, default = [cell.strip() for cell in line.strip("|").split(" | ")[:3]]
        literals = [_literal(value) for value in re.findall(r"`([^`]*)`", values)] or None
        rows[key.strip("`")] = (literals, _literal(default.strip("`")))
    return rows


def _literal(text):
    return {"True": True, "False": False, "[]": ()}.get(text, text)


def test_readme_table_says_what_the_build_accepts():
    # Checked against the build's validation, not against the loop over settings.SETTINGS that
    # wrote the table.
    rows = readme_rows()
    defaults, _ = config.validate(None, "linux")
    assert sorted(rows) == sorted(defaults)
    for key, (values, default) in rows.items():
        assert defaults[key] == default, key
        for value in values or ():
            assert config.validate({key: value}, "linux") == (dict(defaults, **{key: value}), []), (key, value)
        if values is not None:  # a value the table does not list is refused, and the refusal lists the same values
            (refusal,) = config.validate({key: "not-listed"}, "linux")[1]
            if values == [True, False]:
                assert "expected bool" in refusal, refusal
            else:
                assert refusal.endswith("allowed values: " + ", ".join(values)), refusal
    assert config.validate({"run_modules": ["ipykernel_launcher"]}, "linux")[1] == []  # "list of module names"


def test_doctor_sample_shows_every_setting():
    sample = blocks.doctor_sample()
    for setting in settings.SETTINGS:
        assert "\n  %s " % setting.key in sample
    assert "All 6 checks passed." in sample


def test_build_log_sample_is_the_build_hooks_line():
    from oxmp_hooks import config

    assert "INFO: %s\n" % config.describe(settings.DEFAULTS, "linux", (3, 11)) in blocks.build_log()


def _pair(text):
    return tuple(int(part) for part in text.split("."))


def test_supported_pythons_are_those_of_pyproject_ci_and_the_lane_of_other_pythons():
    oldest, newest = (_pair(version) for version in versions.CHECKED["CPython"].supported)
    assert re.search(r'^requires-python = ">=%d\.%d"$' % oldest, read("pyproject.toml"), re.MULTILINE)
    jobs, _ = blocks.workflow_jobs(os.path.join(REPO, blocks.WORKFLOW))
    ci = sorted({_pair(python) for _, python, _ in jobs})
    assert (ci[0], ci[-1]) == (oldest, newest)
    assert (pythons.OLDEST, pythons.NEWEST) == (oldest, newest)


def test_supported_pyinstaller_is_the_dependency_and_toxs_oldest():
    oldest = versions.CHECKED["PyInstaller"].supported[0]
    floor = re.search(r'"pyinstaller>=([\d.]+)"', read("pyproject.toml")).group(1)
    assert _pair(floor) + (0,) * (3 - len(_pair(floor))) == _pair(oldest)
    _, pins = blocks.tox_envs(os.path.join(REPO, "tox.ini"))
    assert min(_pair(version) for (env, name), version in pins.items() if name == "pyinstaller") == _pair(oldest)


def test_checked_pyinstallers_are_those_of_the_hook_digests():
    releases = [
        _pair(release)
        for digests in deferred.CHECKED.values()
        for span in digests.values()
        for release in span.split("-")
    ]
    assert (min(releases), max(releases)) == tuple(_pair(v) for v in versions.CHECKED["PyInstaller"].checked)


def test_versions_shown():
    assert versions.shown(("6.0.0", None)) == "6.0.0 and later"
    assert versions.shown(("3.8", "3.15")) == "3.8 - 3.15"
    assert versions.shown(("3.x", "3.x")) == "3.x"
    assert versions.shown(None) == "-"


def test_ci_table_groups_runners_and_spans_consecutive_pythons(tmp_path):
    workflow = tmp_path / blocks.WORKFLOW
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "jobs:\n  tests:\n    strategy:\n      matrix:\n        os: [linux, mac]\n"
        "        python: ['3.9', '3.10', '3.11']\n        toxenv: [new]\n"
        "        include:\n          - {os: old-linux, python: '3.8', toxenv: old}\n"
        "          - {os: linux, python: '3.11', toxenv: old}\n"
    )
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = old, new\n[testenv]\ndeps =\n    old: pyinstaller==6.0.0\n")
    assert blocks.ci_table(str(tmp_path)).splitlines()[2:] == [
        "| `old` | 6.0.0 | the oldest the PyInstaller allows | 3.11 | linux |",
        "| `old` | 6.0.0 | the oldest the PyInstaller allows | 3.8 | old-linux |",
        "| `new` | the newest release | the oldest the PyInstaller allows | 3.9 - 3.11 | linux, mac |",
    ]


def test_readme_links_every_document():
    readme = read("README.md")
    linked = re.findall(r"\]\((docs/[\w.-]+\.md)\)", readme.split("## Documentation", 1)[1])
    assert sorted(linked) == sorted(
        "docs/" + name for name in os.listdir(os.path.join(REPO, "docs")) if name.endswith(".md")
    )


def test_migration_guide_names_every_setting_and_its_pyoxidizer_name():
    guide = read("docs", "migrating.md")
    for setting in settings.SETTINGS:
        assert "`%s`" % setting.key in guide
        if setting.pyoxidizer_name:  # None: PyOxidizer has no such setting
            assert "`%s`" % setting.pyoxidizer_name in guide


def guarantees(text):
    start, end = "<!-- security-guarantees:start -->", "<!-- security-guarantees:end -->"
    return text[text.index(start) + len(start) : text.index(end)].strip().splitlines()


def test_readme_and_security_doc_state_the_same_guarantees_word_for_word():
    in_readme = guarantees(read("README.md"))
    assert len(in_readme) >= 5
    assert in_readme == guarantees(read("docs", "security.md"))


MARKDOWN = ["README.md"] + [
    os.path.join("docs", name) for name in sorted(os.listdir(os.path.join(REPO, "docs"))) if name.endswith(".md")
]


def anchors(text):
    """The anchors GitHub gives a Markdown file's headings."""
    found = set()
    for heading in re.findall(r"^#+ (.*)$", re.sub(r"```.*?```", "", text, flags=re.DOTALL), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor, number = slug, 0
        while anchor in found:
            number += 1
            anchor = "%s-%d" % (slug, number)
        found.add(anchor)
    return found


def test_anchors_follow_github():
    assert anchors("# A `b`: c\n## Fast start: PyInstaller's x\n## A `b`: c\n") == {
        "a-b-c",
        "fast-start-pyinstallers-x",
        "a-b-c-1",
    }


@pytest.mark.parametrize("path", MARKDOWN)
def test_every_relative_link_and_anchor_exists(path):
    text = read(path)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"\w+:", target):
            continue  # https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        assert os.path.exists(os.path.join(REPO, linked)), "%s links to %s" % (path, target)
        if anchor:
            assert anchor in anchors(read(linked)), "%s links to %s" % (path, target)
