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
    """One setting: its key in ``hooksconfig``, its type, default, allowed values and documentation."""

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
        "Start method that multiprocessing reports and uses unless the app sets one: `auto` is `spawn` on Windows "
        "and `fork` elsewhere; `none` leaves the interpreter's default.",
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
)

BY_KEY = {setting.key: setting for setting in SETTINGS}
DEFAULTS = {setting.key: setting.default for setting in SETTINGS}


def platform_start_methods(platform):
    """The start methods multiprocessing offers on ``platform`` (a ``sys.platform`` value)."""
    return WINDOWS_START_METHODS if platform == "win32" else POSIX_START_METHODS


def allowed_start_methods(platform):
    """The ``start_method`` values a bundle for ``platform`` accepts: `auto`, `none` and what it can run."""
    return ("auto", "none") + platform_start_methods(platform)


def resolve_start_method(value, platform):
    """The concrete start method for a ``start_method`` value, or None for `none` (leave the interpreter's)."""
    if value == "none":
        return None
    if value == "auto":
        return "spawn" if platform == "win32" else "fork"
    return value


def start_method_override(env_value, platform):
    """Read ``OXMP_START_METHOD``: returns ``(value or None, warning or None)``. A bad value is ignored, with a warning."""
    if env_value is None or env_value == "":
        return None, None
    allowed = allowed_start_methods(platform)
    if env_value in allowed:
        return env_value, None
    return None, "oxmp: ignoring %s=%r: allowed values are %s" % (START_METHOD_ENV, env_value, ", ".join(allowed))


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
