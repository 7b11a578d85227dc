"""The one description of oxmp's settings, and of the record a build hands the runtime.

The build hook validates a spec file's ``hooksconfig["multiprocessing"]`` against ``SETTINGS`` and writes a
``Baked`` record into the bundle (``Baked.encode()``); the runtime reads it back (``read_baked()``). The effective
start method of a process (setting, ``OXMP_START_METHOD``, platform) is ``effective_start_method()``, and its text for
people ``show_start_method()``: the runtime, the doctor and the build log all use these. This module runs inside
bundles: it imports nothing.
"""

# Names for annotations only: nothing is imported for them at run time (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Mapping, Sequence

START_METHODS = ("auto", "none", "fork", "forkserver", "spawn")

# The start methods each platform can run: multiprocessing offers only `spawn` on Windows.
WINDOWS_START_METHODS = ("spawn",)
POSIX_START_METHODS = ("fork", "forkserver", "spawn")

# Run-time override of `start_method`; takes the same values.
START_METHOD_ENV = "OXMP_START_METHOD"

# Where the build hook puts the baked record: its path relative to sys._MEIPASS, and its name in a onefile archive.
BAKED_PATH = "_oxmp/settings.txt"


class Setting:
    """One setting: its key in ``hooksconfig``, its type, default, allowed values, PyOxidizer's name for it (None if
    PyOxidizer has no such setting) and documentation."""

    __slots__ = ("key", "type", "default", "choices", "pyoxidizer_name", "doc")

    def __init__(
        self,
        key: "str",
        type: "type",
        default: "Any",
        choices: "tuple[str, ...] | None",
        pyoxidizer_name: "str | None",
        doc: "str",
    ) -> "None":
        self.key, self.type, self.default, self.choices = key, type, default, choices
        self.pyoxidizer_name, self.doc = pyoxidizer_name, doc


SETTINGS = (
    Setting(
        "start_method",
        str,
        "auto",
        START_METHODS,
        "multiprocessing_start_method",
        "Start method that multiprocessing (and multiprocess, billiard) report and use unless the app sets one: "
        "`auto` is what `python app.py` uses (`spawn` on Windows and macOS, `fork` on Linux up to Python 3.13, "
        "`forkserver` from 3.14); `none` leaves the interpreter's default.",
    ),
    Setting(
        "auto_dispatch",
        bool,
        True,
        None,
        "multiprocessing_auto_dispatch",
        "Send a process started as a multiprocessing worker or helper straight to multiprocessing, before the app's "
        "code; off, the app must call `multiprocessing.freeze_support()` first thing in its main block.",
    ),
    Setting(
        "sys_frozen",
        bool,
        True,
        None,
        "sys_frozen",
        "Make sure `sys.frozen` is truthy when the app's code starts; off, it is left as the freezer set it.",
    ),
    Setting(
        "defer_pyinstaller_hooks",
        bool,
        True,
        None,
        None,
        "Run PyInstaller's runtime hooks for `inspect` and `pkgutil` right after the app (or a worker) first imports "
        "that module, instead of at every start-up; only hook versions checked to patch nothing but that module are "
        "deferred. Applies to every bundle built with oxmp, with or without multiprocessing; off, they run at "
        "start-up as without oxmp.",
    ),
    Setting(
        "run_modules",
        list,
        (),
        None,
        None,
        "Modules that the bundle runs as `python -m NAME ARGS` would when started as `APP -m NAME ARGS` (after the "
        "interpreter flags tools put first), for helpers that tools start as `sys.executable -m NAME`: "
        '`["ipykernel_launcher"]` for Jupyter kernels. A list of dotted module names that the build collects and '
        "checks; whoever can start the bundle can run them with any arguments (docs/security.md). Empty: no `-m` is "
        "run.",
    ),
)

BY_KEY = {setting.key: setting for setting in SETTINGS}
DEFAULTS = {setting.key: setting.default for setting in SETTINGS}


# --- What the build hands the runtime ---------------------------------------------------------------------------------

# The key of an entry script's code file in the record: one line each, as a name may hold any character but a newline.
ENTRY_CODE_KEY = "entry_code"


class Baked:
    """What a bundle carries from its build, in one file (``BAKED_PATH``): the validated ``settings`` (every key), the
    entry scripts' code files ``entry_code`` (paths relative to sys._MEIPASS, '/'-separated), and ``facts`` about the
    build (versions of oxmp, PyInstaller and Python; the platform)."""

    __slots__ = ("settings", "entry_code", "facts")

    def __init__(
        self,
        settings: "Mapping[str, Any] | None" = None,
        entry_code: "Iterable[str]" = (),
        facts: "Mapping[str, str] | None" = None,
    ) -> "None":
        self.settings = dict(DEFAULTS if settings is None else settings)
        self.entry_code = list(entry_code)
        self.facts = dict(facts or {})

    def __eq__(self, other: "object") -> "bool":
        return isinstance(other, Baked) and (self.settings, self.entry_code, self.facts) == (
            other.settings,
            other.entry_code,
            other.facts,
        )

    def __repr__(self) -> "str":
        return "Baked(%r, %r, %r)" % (self.settings, self.entry_code, self.facts)

    def encode(self) -> "str":
        """The file's text: a ``key=value`` line per setting, an ``entry_code=`` line per entry script, then one
        ``build.*`` line per fact."""
        lines = ["%s=%s" % (setting.key, _format(self.settings[setting.key])) for setting in SETTINGS]
        lines += ["%s=%s" % (ENTRY_CODE_KEY, path) for path in self.entry_code]
        lines += ["build.%s=%s" % item for item in sorted(self.facts.items())]
        return "\n".join(lines) + "\n"

    @classmethod
    def decode(cls, text: "str") -> "Baked":
        """Inverse of ``encode()``. Keys it does not know are ignored, and missing settings default."""
        baked = cls()
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if not sep:
                continue
            if key.startswith("build."):
                baked.facts[key[len("build.") :]] = value
            elif key == ENTRY_CODE_KEY:
                baked.entry_code.append(value)
            elif key in BY_KEY:
                baked.settings[key] = _parse(BY_KEY[key], value)
        return baked


def read_baked(meipass: "str | None") -> "Baked":
    """The ``Baked`` record of the bundle unpacked at ``meipass`` (sys._MEIPASS; defaults where it has none)."""
    if not meipass:
        return Baked()
    try:
        with open(meipass + "/" + BAKED_PATH, encoding="utf-8") as record_file:
            return Baked.decode(record_file.read())
    except OSError:
        return Baked()


# --- What start_method comes to ---------------------------------------------------------------------------------------


class StartMethod:
    """What ``start_method`` comes to in one process: ``value``, the setting after ``OXMP_START_METHOD``; ``method``,
    the start method it stands for (None: the interpreter's own); ``to_set``, what oxmp sets as the libraries' default
    (None: nothing); ``warning``, why ``OXMP_START_METHOD`` was ignored (or None)."""

    __slots__ = ("value", "method", "to_set", "warning")

    def __init__(self, value: "str", method: "str | None", to_set: "str | None", warning: "str | None") -> "None":
        self.value, self.method, self.to_set, self.warning = value, method, to_set, warning


def effective_start_method(
    configured: "str", env_value: "str | None", platform: "str", version_info: "Sequence[Any]"
) -> "StartMethod":
    """The ``StartMethod`` of a bundle whose ``start_method`` setting is ``configured`` (the record's at run time, the
    validated spec's in the build log), run with ``OXMP_START_METHOD=env_value`` (None: unset) on ``platform`` with
    Python ``version_info``."""
    override, warning = start_method_override(env_value, platform)
    value = override or configured
    return StartMethod(value, resolve_start_method(value, platform, version_info), start_method_to_set(value), warning)


def show_start_method(value: "str", method: "str | None", where: "str | None" = None) -> "str":
    """A ``start_method`` value for people: `auto` and `none` with the start method they stand for (``method``, from
    ``resolve_start_method()``), `auto` also with ``where`` that is, if given ("Linux with Python 3.11")."""
    if value == "none":
        return "none (the interpreter's default)"
    if value != "auto":
        return value
    return "auto (%s on %s, as python uses)" % (method, where) if where else "auto (%s)" % method


def platform_name(platform: "str") -> "str":
    """A ``sys.platform`` value as people name the system."""
    if platform == "win32":
        return "Windows"
    if platform == "darwin":
        return "macOS"
    if platform.startswith("linux"):
        return "Linux"
    return platform


def platform_start_methods(platform: "str") -> "tuple[str, ...]":
    """The start methods multiprocessing offers on ``platform`` (a ``sys.platform`` value)."""
    return WINDOWS_START_METHODS if platform == "win32" else POSIX_START_METHODS


def allowed_start_methods(platform: "str") -> "tuple[str, ...]":
    """The ``start_method`` values a bundle for ``platform`` accepts: `auto`, `none` and what it can run."""
    return ("auto", "none") + platform_start_methods(platform)


def python_start_method(platform: "str", version_info: "Sequence[Any]") -> "str":
    """The start method ``python app.py`` uses with multiprocessing on ``platform`` and Python ``version_info``: what
    `auto` means. CPython: spawn on Windows and macOS (3.8+), fork elsewhere up to 3.13, forkserver from 3.14.

    Not modelled: CPython 3.14 falls back to spawn where the platform cannot pass descriptors or, from 3.14.9, has no
    writable temporary folder. This answer is what the build log and the doctor show and expect; `auto` sets nothing
    (``start_method_to_set()``), so a bundle there still gets spawn, as python does."""
    if platform in ("win32", "darwin"):
        return "spawn"
    return "forkserver" if tuple(version_info[:2]) >= (3, 14) else "fork"


def resolve_start_method(value: "str", platform: "str", version_info: "Sequence[Any]") -> "str | None":
    """The concrete start method a ``start_method`` value stands for, or None for `none` (the interpreter's)."""
    if value == "none":
        return None
    if value == "auto":
        return python_start_method(platform, version_info)
    return value


def start_method_to_set(value: "str") -> "str | None":
    """The start method oxmp sets as the default of each multiprocessing library, or None to leave their own.

    `auto` sets nothing: the interpreter's own default in a bundle is the one ``python app.py`` uses, and so is each
    fork's (multiprocess and billiard keep fork on macOS and on Linux with 3.14, unlike multiprocessing); `none` sets
    nothing by definition.
    """
    return None if value in ("auto", "none") else value


def start_method_override(env_value: "str | None", platform: "str") -> "tuple[str | None, str | None]":
    """Read ``OXMP_START_METHOD``: returns ``(value or None, warning or None)``; a bad value is ignored, with a
    warning."""
    if env_value is None or env_value == "":
        return None, None
    allowed = allowed_start_methods(platform)
    if env_value in allowed:
        return env_value, None
    return None, "ignoring %s=%s: allowed values are %s" % (START_METHOD_ENV, shown(env_value), ", ".join(allowed))


def shown(value: "object", limit: "int" = 200) -> "str":
    """``repr(value)`` cut to about ``limit`` characters, as refusals are cut: a warning stays one line of reasonable
    length, whatever the environment held."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...(%d characters)" % len(text)


def _format(value: "object") -> "str":
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(value)  # module names: no comma in them
    return str(value)


def _parse(setting: "Setting", text: "str") -> "object":
    if setting.type is bool:
        return text == "true"
    if setting.type is list:
        return tuple(name for name in text.split(",") if name)
    return text
