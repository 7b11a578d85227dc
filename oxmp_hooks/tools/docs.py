"""Documentation generated from the settings schema, so that it cannot drift from what the code accepts.

``python -m oxmp_hooks.tools.docs README.md`` rewrites the settings table in a README between ``TABLE_START`` and
``TABLE_END``; ``tests/test_docs.py`` fails when the README's table differs from ``settings_table()``.
"""

import sys
from typing import Optional, Sequence

from oxmp_hooks import runtime_module

__all__ = ["settings_table", "with_table", "main"]

schema = runtime_module("settings")

TABLE_START = "<!-- settings-table:start -->"
TABLE_END = "<!-- settings-table:end -->"


def settings_table():
    """The settings as a Markdown table: key, allowed values, default, what it does."""
    lines = ["| key | values | default | what it does |", "|---|---|---|---|"]
    for setting in schema.SETTINGS:
        if setting.type is list:
            values, default = "list of module names", "[]" if not setting.default else list(setting.default)
        else:
            values = setting.choices if setting.choices is not None else _values_of(setting.type)
            values, default = ", ".join("`%s`" % value for value in values), setting.default
        lines.append("| `%s` | %s | `%s` | %s |" % (setting.key, values, default, setting.doc))
    return "\n".join(lines) + "\n"


def table_in(text):
    """The text between the table markers (None if a marker is missing)."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        return None
    return text[start + len(TABLE_START):end].lstrip("\n")


def with_table(text):
    """``text`` with the block between the markers replaced by ``settings_table()``."""
    if table_in(text) is None:
        raise ValueError("no %s ... %s block" % (TABLE_START, TABLE_END))
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    return text[:start + len(TABLE_START)] + "\n" + settings_table() + text[end:]


def _values_of(kind):
    if kind is bool:
        return (True, False)
    raise AssertionError("a setting of type %s needs choices" % kind.__name__)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m oxmp_hooks.tools.docs README.md ...`` (argv None: sys.argv): rewrite each file's settings table."""
    paths = sys.argv[1:] if argv is None else argv
    for path in paths:
        with open(path, encoding="utf-8") as readme:
            text = readme.read()
        updated = with_table(text)
        if updated != text:
            with open(path, "w", encoding="utf-8") as readme:
                readme.write(updated)
            print("updated the settings table in %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
