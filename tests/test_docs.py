"""The documentation says what the code does: its generated parts are rendered from the code, its versions agree with
the project's files, and its links and anchors lead somewhere."""

import os
import re

import pytest

from _oxmp_runtime import settings
from oxmp_hooks import config, deferred, versions
from oxmp_hooks.tools import docs
from tests import pythons

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(*path):
    with open(os.path.join(REPO, *path), encoding="utf-8") as text:
        return text.read()


@pytest.mark.parametrize("path", docs.FILES)
def test_generated_blocks_are_current(path):
    # To fix a failure: python -m oxmp_hooks.tools.docs
    text = read(path)
    names = [name for name in docs.BLOCKS if docs.block_in(text, name) is not None]
    assert names, "%s has no generated block" % path
    for name in names:
        assert docs.block_in(text, name) == docs.BLOCKS[name](), "%s: block %s is stale" % (path, name)


def test_every_block_is_in_a_file():
    texts = [read(path) for path in docs.FILES]
    for name in docs.BLOCKS:
        assert [text for text in texts if docs.block_in(text, name) is not None], name


def readme_rows():
    """The README's settings table as a user reads it: {key: (allowed values or None, default)}, from its Markdown."""
    text = read("README.md")
    start, end = docs.markers("settings-table")
    table = text[text.index(start):text.index(end)]
    rows = {}
    for line in table.splitlines()[3:]:  # after the marker, the header and the rule
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


def test_with_block_replaces_only_the_block():
    start, end = docs.markers("settings-table")
    text = "before\n%s\nold table\n%s\nafter\n" % (start, end)
    updated = docs.generated(text)
    assert updated == "before\n%s\n%s%s\nafter\n" % (start, docs.settings_table(), end)
    assert docs.generated(updated) == updated
    with pytest.raises(ValueError):
        docs.with_block("no markers", "settings-table", "table")


def test_doctor_sample_shows_every_setting():
    sample = docs.doctor_sample()
    for setting in settings.SETTINGS:
        assert "\n  %s " % setting.key in sample
    assert "All 6 checks passed." in sample


def test_build_log_sample_is_the_build_hooks_line():
    from oxmp_hooks import config

    assert "INFO: %s\n" % config.describe(settings.DEFAULTS, "linux", (3, 11)) in docs.build_log()


def _pair(text):
    return tuple(int(part) for part in text.split("."))


def test_supported_pythons_are_those_of_pyproject_ci_and_the_lane_of_other_pythons():
    oldest, newest = (_pair(version) for version in versions.CHECKED["CPython"].supported)
    assert re.search(r'^requires-python = ">=%d\.%d"$' % oldest, read("pyproject.toml"), re.MULTILINE)
    jobs, _ = docs.workflow_jobs(os.path.join(REPO, docs.WORKFLOW))
    ci = sorted({_pair(python) for _, python, _ in jobs})
    assert (ci[0], ci[-1]) == (oldest, newest)
    assert (pythons.OLDEST, pythons.NEWEST) == (oldest, newest)


def test_supported_pyinstaller_is_the_dependency_and_toxs_oldest():
    oldest = versions.CHECKED["PyInstaller"].supported[0]
    floor = re.search(r'"pyinstaller>=([\d.]+)"', read("pyproject.toml")).group(1)
    assert _pair(floor) + (0,) * (3 - len(_pair(floor))) == _pair(oldest)
    _, pins = docs.tox_envs(os.path.join(REPO, "tox.ini"))
    assert min(_pair(version) for (env, name), version in pins.items() if name == "pyinstaller") == _pair(oldest)


def test_checked_pyinstallers_are_those_of_the_hook_digests():
    releases = [_pair(release) for digests in deferred.CHECKED.values() for span in digests.values()
                for release in span.split("-")]
    assert (min(releases), max(releases)) == tuple(_pair(v) for v in versions.CHECKED["PyInstaller"].checked)


def test_versions_shown():
    assert versions.shown(("6.0.0", None)) == "6.0.0 and later"
    assert versions.shown(("3.8", "3.15")) == "3.8 - 3.15"
    assert versions.shown(("3.x", "3.x")) == "3.x"
    assert versions.shown(None) == "-"


def test_ci_table_groups_runners_and_spans_consecutive_pythons(tmp_path):
    workflow = tmp_path / docs.WORKFLOW
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "jobs:\n  tests:\n    strategy:\n      matrix:\n        os: [linux, mac]\n"
        "        python: ['3.9', '3.10', '3.11']\n        toxenv: [new]\n"
        "        include:\n          - {os: old-linux, python: '3.8', toxenv: old}\n"
        "          - {os: linux, python: '3.11', toxenv: old}\n")
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = old, new\n[testenv]\ndeps =\n    old: pyinstaller==6.0.0\n")
    assert docs.ci_table(str(tmp_path)).splitlines()[2:] == [
        "| `old` | 6.0.0 | the oldest the PyInstaller allows | 3.11 | linux |",
        "| `old` | 6.0.0 | the oldest the PyInstaller allows | 3.8 | old-linux |",
        "| `new` | the newest release | the oldest the PyInstaller allows | 3.9 - 3.11 | linux, mac |",
    ]


def test_readme_links_every_document():
    readme = read("README.md")
    linked = re.findall(r"\]\((docs/[\w.-]+\.md)\)", readme.split("## Documentation", 1)[1])
    assert sorted(linked) == sorted("docs/" + name for name in os.listdir(os.path.join(REPO, "docs"))
                                    if name.endswith(".md"))


def test_migration_guide_names_every_setting_and_its_pyoxidizer_name():
    guide = read("docs", "migrating.md")
    for setting in settings.SETTINGS:
        assert "`%s`" % setting.key in guide
        if setting.pyoxidizer_name:  # None: PyOxidizer has no such setting
            assert "`%s`" % setting.pyoxidizer_name in guide


def guarantees(text):
    start, end = "<!-- security-guarantees:start -->", "<!-- security-guarantees:end -->"
    return text[text.index(start) + len(start):text.index(end)].strip().splitlines()


def test_readme_and_security_doc_state_the_same_guarantees_word_for_word():
    in_readme = guarantees(read("README.md"))
    assert len(in_readme) >= 5
    assert in_readme == guarantees(read("docs", "security.md"))


MARKDOWN = ["README.md"] + [os.path.join("docs", name) for name in sorted(os.listdir(os.path.join(REPO, "docs")))
                            if name.endswith(".md")]


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
        "a-b-c", "fast-start-pyinstallers-x", "a-b-c-1"}


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
