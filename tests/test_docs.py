"""The documentation says what the code does: the README's settings table is rendered from the schema."""

import os
import re

import pytest

from _oxmp_runtime import settings as schema
from oxmp_hooks.tools import docs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(*path):
    with open(os.path.join(REPO, *path), encoding="utf-8") as text:
        return text.read()


def test_readme_settings_table_is_the_schemas():
    # To fix a failure: python -m oxmp_hooks.tools.docs README.md
    assert docs.table_in(read("README.md")) == docs.settings_table()


def test_table_has_one_row_per_setting_with_its_default():
    rows = docs.settings_table().splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == ["| `%s`" % setting.key for setting in schema.SETTINGS]
    assert "| `auto_dispatch` | `True`, `False` | `True` |" in docs.settings_table()


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
