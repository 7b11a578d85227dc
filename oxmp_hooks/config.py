"""Validate the spec file's ``hooksconfig["multiprocessing"]`` against the settings' one description,
``settings.SETTINGS``. Pure; runs at build time."""

from __future__ import annotations

import difflib
import sys
from typing import Any, Sequence

from oxmp_hooks import runtime_module

settings = runtime_module("settings")
commands = runtime_module("commands")

__all__ = ["SECTION", "validate", "describe"]

SECTION = "multiprocessing"

# PyOxidizer's names for the same settings, so that a migrating user is told what to write instead.
PYOXIDIZER_NAMES = {setting.pyoxidizer_name: setting.key for setting in settings.SETTINGS if setting.pyoxidizer_name}

_TYPE_NAMES = {bool: "bool (True or False)", str: "str", list: "list of module names"}


def validate(section: object, platform: str) -> tuple[dict[str, Any], list[str]]:
    """Check a ``hooksconfig["multiprocessing"]`` value. Returns ``(values, errors)``; values has every key.

    ``platform`` is the ``sys.platform`` of the build, which PyInstaller always builds for.
    """
    values = dict(settings.DEFAULTS)
    if section is None:
        return values, []
    if not isinstance(section, dict):
        return values, ['hooksconfig["%s"] must be a dict, not %s' % (SECTION, type(section).__name__)]

    errors: list[str] = []
    for key, value in section.items():
        setting = settings.BY_KEY.get(key)
        if setting is None:
            errors.append(_unknown_key(key))
            continue
        if setting.type is list and type(value) in (list, tuple):
            value, problems = module_names(key, value)
            errors += problems
            if not problems:
                values[key] = value
            continue
        # bool is a subclass of int, and True is not a valid start method, so compare types exactly.
        if type(value) is not setting.type:
            errors.append(
                'hooksconfig["%s"]["%s"] is %s (%r), expected %s'
                % (SECTION, key, type(value).__name__, value, _TYPE_NAMES[setting.type])
            )
            continue
        if setting.choices is not None and value not in setting.choices:
            errors.append(
                'hooksconfig["%s"]["%s"] is %r; allowed values: %s' % (SECTION, key, value, ", ".join(setting.choices))
            )
            continue
        values[key] = value

    method = values["start_method"]
    if method not in settings.allowed_start_methods(platform):
        errors.append(
            'hooksconfig["%s"]["start_method"] is %r, which %s cannot run; it offers: %s (or use "auto")'
            % (SECTION, method, settings.platform_name(platform), ", ".join(settings.platform_start_methods(platform)))
        )
    return values, errors


def module_names(key: str, value: Sequence[object]) -> tuple[tuple[object, ...], list[str]]:
    """Check a list of module names (``run_modules``): returns ``(tuple of names, errors)``. Each must be a dotted name
    of identifiers, named once, and not a worker module that oxmp already runs strictly (loky's)."""
    errors: list[str] = []
    seen: set[str] = set()
    where = 'hooksconfig["%s"]["%s"]' % (SECTION, key)
    for name in value:
        if not isinstance(name, str):
            errors.append("%s holds %s (%r); expected module names (str)" % (where, type(name).__name__, name))
        elif not commands.is_module_name(name):
            errors.append(
                "%s holds %r, which is not a module name (dotted identifiers, as in `python -m NAME`)" % (where, name)
            )
        elif name in seen:
            errors.append("%s names %r twice" % (where, name))
        elif name in commands.MODULE_WORKERS:
            errors.append(
                "%s holds %r, a worker module that oxmp already runs (with its options checked); "
                "leave it out" % (where, name)
            )
        if isinstance(name, str):
            seen.add(name)
    return tuple(value), errors


def describe(values: dict[str, Any], platform: str, version_info: tuple[Any, ...] = sys.version_info) -> str:
    """The one INFO line the build log gets for validated settings ``values`` (for a bundle of this Python)."""
    # What it comes to in the bundle, before any OXMP_START_METHOD at run time.
    found = settings.effective_start_method(values["start_method"], None, platform, version_info)
    where = "%s with Python %d.%d" % (settings.platform_name(platform), version_info[0], version_info[1])
    method = settings.show_start_method(found.value, found.method, where)
    return (
        "oxmp: multiprocessing settings: start_method=%s, auto_dispatch=%s, sys_frozen=%s, "
        "defer_pyinstaller_hooks=%s, run_modules=%s"
        % (
            method,
            values["auto_dispatch"],
            values["sys_frozen"],
            values["defer_pyinstaller_hooks"],
            ", ".join(values["run_modules"]) or "none",
        )
    )


def _unknown_key(key: object) -> str:
    valid = [setting.key for setting in settings.SETTINGS]
    message = 'unknown key %r in hooksconfig["%s"]' % (key, SECTION)
    if key in PYOXIDIZER_NAMES:
        return message + "; %r is PyOxidizer's name, oxmp's is %r" % (key, PYOXIDIZER_NAMES[key])
    close = difflib.get_close_matches(str(key), valid + list(PYOXIDIZER_NAMES), n=1, cutoff=0.6)
    if close:
        return message + "; did you mean %r? Valid keys: %s" % (
            PYOXIDIZER_NAMES.get(close[0], close[0]),
            ", ".join(valid),
        )
    return message + "; valid keys: %s" % ", ".join(valid)
