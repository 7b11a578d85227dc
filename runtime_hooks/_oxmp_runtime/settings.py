"""The one description of oxmp's settings.

The build hook validates a spec file's ``hooksconfig["multiprocessing"]`` against ``SETTINGS`` and writes the result
into the bundle with ``encode()``; the runtime reads it back with ``decode()``; the README's settings table and the
doctor are checked against the same ``SETTINGS``. This module runs inside bundles: it imports nothing.
"""

START_METHODS = ("auto", "none", "fork", "forkserver", "spawn")

# The start methods each platform can run: multiprocessing offers only `spawn` on Windows.
WINDOWS_START_METHODS = ("spawn",)
POSIX_START_METHODS = ("fork", "forkserver", "spawn")

# Run-time override of `start_method`; takes the same values.
START_METHOD_ENV = "OXMP_START_METHOD"

# Where the build hook puts the baked settings and build facts, relative to sys._MEIPASS.
BAKED_DIR = "_oxmp"
BAKED_FILE = "settings.txt"


class Setting:
    """One setting: its key in ``hooksconfig``, its type, default, allowed values, PyOxidizer's name for it (None if
    PyOxidizer has no such setting) and documentation."""

    __slots__ = ("key", "type", "default", "choices", "pyoxidizer_name", "doc")

    def __init__(self, key, type, default, choices, pyoxidizer_name, doc):
        self.key = key
        self.type = type
        self.default = default
        self.choices = choices
        self.pyoxidizer_name = pyoxidizer_name
        self.doc = doc


SETTINGS = (
    Setting(
        "start_method", str, "auto", START_METHODS, "multiprocessing_start_method",
        "Start method that multiprocessing (and multiprocess, billiard) report and use unless the app sets one: "
        "`auto` is what `python app.py` uses (`spawn` on Windows and macOS, `fork` on Linux up to Python 3.13, "
        "`forkserver` from 3.14); `none` leaves the interpreter's default.",
    ),
    Setting(
        "auto_dispatch", bool, True, None, "multiprocessing_auto_dispatch",
        "Send a process started as a multiprocessing worker or helper straight to multiprocessing, before the app's "
        "code; off, the app must call `multiprocessing.freeze_support()` first thing in its main block.",
    ),
    Setting(
        "sys_frozen", bool, True, None, "sys_frozen",
        "Make sure `sys.frozen` is truthy when the app's code starts; off, it is left as the freezer set it.",
    ),
    Setting(
        "defer_pyinstaller_hooks", bool, True, None, None,
        "Run PyInstaller's runtime hooks for `inspect` and `pkgutil` right after the app (or a worker) first imports "
        "that module, instead of at every start-up; only hook versions checked to patch nothing but that module are "
        "deferred. Applies to every bundle built with oxmp, with or without multiprocessing; off, they run at "
        "start-up as without oxmp.",
    ),
)

BY_KEY = {setting.key: setting for setting in SETTINGS}
DEFAULTS = {setting.key: setting.default for setting in SETTINGS}


def platform_start_methods(platform):
    """The start methods multiprocessing offers on ``platform`` (a ``sys.platform`` value)."""
    return WINDOWS_START_METHODS if platform == "win32" else POSIX_START_METHODS


def allowed_start_methods(platform):
    """The ``start_method`` values a bundle for ``platform`` accepts: `auto`, `none` and what it can run."""
    return ("auto", "none") + platform_start_methods(platform)


def python_start_method(platform, version_info):
    """The start method ``python app.py`` uses with multiprocessing on ``platform`` and Python ``version_info``: what
    `auto` means. CPython: spawn on Windows and macOS (3.8+), fork elsewhere up to 3.13, forkserver from 3.14 (spawn
    where the platform cannot pass descriptors or, from 3.14.9, has no writable temporary folder)."""
    if platform in ("win32", "darwin"):
        return "spawn"
    return "forkserver" if tuple(version_info[:2]) >= (3, 14) else "fork"


def resolve_start_method(value, platform, version_info):
    """The concrete start method a ``start_method`` value stands for, or None for `none` (the interpreter's)."""
    if value == "none":
        return None
    if value == "auto":
        return python_start_method(platform, version_info)
    return value


def start_method_to_set(value):
    """The start method oxmp sets as the default of each multiprocessing library, or None to leave their own.

    `auto` sets nothing: the interpreter's own default in a bundle is the one ``python app.py`` uses, and so is each
    fork's (multiprocess and billiard keep fork on macOS and on Linux with 3.14, unlike multiprocessing); `none` sets
    nothing by definition.
    """
    return None if value in ("auto", "none") else value


def start_method_override(env_value, platform):
    """Read ``OXMP_START_METHOD``: returns ``(value or None, warning or None)``. A bad value is ignored, with a warning."""
    if env_value is None or env_value == "":
        return None, None
    allowed = allowed_start_methods(platform)
    if env_value in allowed:
        return env_value, None
    return None, "ignoring %s=%r: allowed values are %s" % (START_METHOD_ENV, env_value, ", ".join(allowed))


def encode(settings, facts=None):
    """Text the build hook writes into the bundle: one ``key=value`` line per setting, then ``build.*`` facts."""
    lines = ["%s=%s" % (setting.key, _format(settings[setting.key])) for setting in SETTINGS]
    lines += ["build.%s=%s" % item for item in sorted((facts or {}).items())]
    return "\n".join(lines) + "\n"


def decode(text):
    """Inverse of ``encode()``: returns ``(settings, facts)``. Keys it does not know are ignored, missing ones default."""
    settings = dict(DEFAULTS)
    facts = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key.startswith("build."):
            facts[key[len("build."):]] = value
        elif key in BY_KEY:
            settings[key] = _parse(BY_KEY[key], value)
    return settings, facts


def _format(value):
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _parse(setting, text):
    if setting.type is bool:
        return text == "true"
    return text
