"""The documentation says what the code does: the README's settings table is rendered from the schema."""

import os
import re

import pytest

from _oxmp_runtime import settings as schema
from oxmp_hooks import config
from oxmp_hooks.tools import docs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(*path):
    with open(os.path.join(REPO, *path), encoding="utf-8") as text:
        return text.read()


def test_readme_settings_table_is_the_schemas():
    # To fix a failure: python -m oxmp_hooks.tools.docs README.md
    assert docs.table_in(read("README.md")) == docs.settings_table()


def readme_rows():
    """The README's settings table as a user reads it: {key: (allowed values or None, default)}, from its Markdown."""
    text = read("README.md")
    table = text[text.index(docs.TABLE_START):text.index(docs.TABLE_END)]
    rows = {}
    for line in table.splitlines()[3:]:  # after the marker, the header and the rule
        key, values, default = [cell.strip() for cell in line.strip("|").split(" | ")[:3]]
        literals = [_literal(value) for value in re.findall(r"`([^`]*)`", values)] or None
        rows[key.strip("`")] = (literals, _literal(default.strip("`")))
    return rows


def _literal(text):
    return {"True": True, "False": False, "[]": ()}.get(text, text)


def test_readme_table_says_what_the_build_accepts():
    # Checked against the build's validation, not against the schema's loop that wrote the table.
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


def test_with_table_replaces_only_the_block():
    text = "before\n%s\nold table\n%s\nafter\n" % (docs.TABLE_START, docs.TABLE_END)
    updated = docs.with_table(text)
    assert updated == "before\n%s\n%s%s\nafter\n" % (docs.TABLE_START, docs.settings_table(), docs.TABLE_END)
    assert docs.with_table(updated) == updated
    with pytest.raises(ValueError):
        docs.with_table("no markers")


def test_readme_links_every_document():
    readme = read("README.md")
    linked = re.findall(r"\]\((docs/[\w.-]+\.md)\)", readme.split("## Documentation", 1)[1])
    assert sorted(linked) == sorted("docs/" + name for name in os.listdir(os.path.join(REPO, "docs"))
                                    if name.endswith(".md"))


def test_migration_guide_names_every_setting_and_its_pyoxidizer_name():
    guide = read("docs", "migrating.md")
    for setting in schema.SETTINGS:
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
