"""What can be learned about a PyInstaller bundle without running it: its layout, and whether oxmp is in it.

A bundle's executable is PyInstaller's bootloader with an archive (the CArchive, or PKG) appended. Its table of
contents lists the scripts run at start-up (the runtime hooks, then the entry script) and, in a onefile bundle, every
other file, unpacked to a temporary folder at each start. A onedir bundle keeps those files in a folder beside the
executable instead (``_internal/`` since PyInstaller 6). The format is the bootloader's, read here as PyInstaller's
own ``archive/readers.py`` reads it, so the doctor does not depend on PyInstaller's private modules.
"""

from __future__ import annotations

import ast
import os
import struct
from typing import IO, Any, Callable, Tuple

from oxmp_hooks import RUNTIME_HOOKS_DIR, runtime_module

__all__ = ["BundleInfo", "inspect", "oxmp_runtime_hook"]

# At the end of the archive: magic, archive length, TOC offset, TOC length, Python version (major * 100 + minor),
# name of the Python shared library.
COOKIE_MAGIC = b"MEI\014\013\012\013\016"
COOKIE_FORMAT = "!8sIIII64s"
# Each TOC entry: entry length, offset, stored length, unpacked length, compressed flag, type code; then its name.
TOC_ENTRY_FORMAT = "!IIIIBc"
SCRIPT = "s"  # type code of a script run at start-up (runtime hooks, the entry script); "s1", "s2" when optimized
OPTION = "o"
CONTENTS_OPTION = "pyi-contents-directory "

# Every bundle holds this (the standard library modules Python needs to start): where it is tells the layout.
STDLIB_ARCHIVE = "base_library.zip"
# Where a onedir bundle's files may be, relative to its executable, after the folder its archive names: PyInstaller
# 6's default, PyInstaller 5 (beside the executable), and a macOS .app bundle.
CONTENTS_CANDIDATES = ("_internal", ".", os.path.join("..", "Frameworks"), os.path.join("..", "Resources"))

STOCK_RUNTIME_HOOK = "pyi_rth_multiprocessing"
# oxmp's settings file is a few hundred bytes: more is not oxmp's, and is not read into memory (nor unpacked).
MAX_SETTINGS_BYTES = 64 * 1024
BOOTSTRAP_SCRIPT_PREFIX = "pyiboot"
RUNTIME_HOOK_PREFIX = "pyi_rth_"
settings = runtime_module("settings")
BAKED_PATH = settings.BAKED_PATH
ENTRY_CODE_DIR = runtime_module("entry").CODE_DIR
ENTRY_CODE_SUFFIX = runtime_module("entry").CODE_SUFFIX
# What oxmp's build always writes into the record (oxmp_hooks/baked.py build_facts()).
BUILD_FACTS = ("oxmp", "pyinstaller", "python", "platform")

# A table of contents entry: (offset, stored length, unpacked length, compressed, type code)
TocEntry = Tuple[int, int, int, int, str]


def oxmp_runtime_hook() -> str:
    """The name of oxmp's runtime hook for multiprocessing, as its ``rthooks.dat`` gives it (without ``.py``)."""
    with open(os.path.join(RUNTIME_HOOKS_DIR, "rthooks.dat"), encoding="utf-8") as dat:
        return os.path.splitext(ast.literal_eval(dat.read())["multiprocessing"][0])[0]


class ArchiveError(Exception):
    pass


class Archive:
    """The table of contents of the archive appended to a bundle's executable."""

    def __init__(self, path: str) -> None:
        self.path = path
        with open(path, "rb") as exe:
            cookie_at = _find_last(exe, COOKIE_MAGIC)
            if cookie_at < 0:
                raise ArchiveError("no PyInstaller archive in %s" % path)
            exe.seek(cookie_at)
            cookie = exe.read(struct.calcsize(COOKIE_FORMAT))
            if len(cookie) != struct.calcsize(COOKIE_FORMAT):
                raise ArchiveError("truncated PyInstaller archive in %s" % path)
            _, length, toc_offset, toc_length, python, library = struct.unpack(COOKIE_FORMAT, cookie)
            self.start = cookie_at + len(cookie) - length
            exe.seek(self.start + toc_offset)
            self.entries, self.options = _parse_toc(exe.read(toc_length))
        self.python_version = "%d.%d" % divmod(python, 100)
        self.python_library = library.rstrip(b"\0").decode("utf-8", "replace")

    def scripts(self) -> list[str]:
        """Names of the scripts the bootloader runs, in order: bootstrap, runtime hooks, entry script(s)."""
        return [name for name, entry in self.entries.items() if entry[4].startswith(SCRIPT)]

    def contents_directory(self) -> str | None:
        for option in self.options:
            if option.startswith(CONTENTS_OPTION):
                return option[len(CONTENTS_OPTION) :]
        return None  # PyInstaller 5: the files are beside the executable

    def read(self, name: str, limit: int | None = None) -> bytes | None:
        """The data of one entry, or None if there is no such entry; ArchiveError if it cannot be read, or would be
        more than ``limit`` bytes."""
        entry = self.entries.get(name) or self.entries.get(name.replace("/", "\\"))
        if entry is None:
            return None
        offset, length, _, compressed, _ = entry
        if limit is not None and length > limit:
            raise ArchiveError("%s is %d bytes, more than %d" % (name, length, limit))
        with open(self.path, "rb") as exe:
            exe.seek(self.start + offset)
            data = exe.read(length)
        if len(data) < length:
            raise ArchiveError("%s ends after %d of its %d bytes" % (name, len(data), length))
        if compressed:
            import zlib

            unpacker = zlib.decompressobj()
            try:
                data = unpacker.decompress(data, 0 if limit is None else limit + 1)
            except zlib.error as error:
                raise ArchiveError("%s cannot be unpacked (%s)" % (name, error)) from error
            if limit is not None and len(data) > limit:
                raise ArchiveError("%s unpacks to more than %d bytes" % (name, limit))
            if not unpacker.eof:
                raise ArchiveError("%s cannot be unpacked (its data ends early)" % name)
        return data


class BundleInfo:
    """What the files say. ``has_oxmp`` is True, False, or None when they cannot tell (not a bundle it can read)."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.layout: str | None = None  # "onedir", "onefile", or None if unknown
        self.layout_evidence: str | None = None
        self.contents_dir: str | None = None  # a onedir bundle's folder of files (sys._MEIPASS)
        self.archive_error: str | None = None
        self.python_version: str | None = None
        self.python_library: str | None = None
        self.runtime_hooks: list[str] = []
        self.entry_scripts: list[str] = []
        # "oxmp", "stock", "none", "named like oxmp's" (oxmp's hook by name, without the record oxmp's build writes),
        # or None if unknown
        self.multiprocessing_hook: str | None = None
        self.has_oxmp: bool | None = None
        self.record_text: str | None = None  # text of _oxmp/settings.txt, when it is a record of oxmp's build
        self.settings_error: str | None = None  # why that file, in a bundle with oxmp's runtime hook, cannot be read
        # Why the bundle holds no record that oxmp's build wrote, beside oxmp's hook name.
        self.record_problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "layout_evidence": self.layout_evidence,
            "contents_dir": self.contents_dir,
            "archive_error": self.archive_error,
            "python_version": self.python_version,
            "python_library": self.python_library,
            "runtime_hooks": self.runtime_hooks,
            "entry_scripts": self.entry_scripts,
            "multiprocessing_runtime_hook": self.multiprocessing_hook,
            "settings_error": self.settings_error,
            "settings_record_problem": self.record_problem,
        }


def inspect(executable: str) -> BundleInfo:
    """Look at a bundle's executable and the files beside it; never runs it."""
    info = BundleInfo(executable)
    try:
        archive: Archive | None = Archive(executable)
    except (OSError, ArchiveError, struct.error, ValueError, UnicodeDecodeError) as error:
        info.archive_error = str(error) or type(error).__name__
        archive = None

    if archive is not None:
        info.python_version = archive.python_version
        info.python_library = archive.python_library
        scripts = archive.scripts()
        info.runtime_hooks = [name for name in scripts if name.startswith(RUNTIME_HOOK_PREFIX)]
        info.entry_scripts = [
            name for name in scripts if not name.startswith((RUNTIME_HOOK_PREFIX, BOOTSTRAP_SCRIPT_PREFIX))
        ]
        info.multiprocessing_hook = _multiprocessing_hook(info.runtime_hooks)
        info.has_oxmp = info.multiprocessing_hook == "oxmp"

    read_settings: Callable[[], bytes | None] | None
    has_file: Callable[[str], bool] | None
    if archive is not None and STDLIB_ARCHIVE in archive.entries:
        info.layout = "onefile"
        info.layout_evidence = (
            "%s is inside the executable, unpacked to a temporary folder at each start" % STDLIB_ARCHIVE
        )
        read_settings = lambda: archive.read(BAKED_PATH, MAX_SETTINGS_BYTES)  # noqa: E731
        has_file = lambda path: path in archive.entries or path.replace("/", "\\") in archive.entries  # noqa: E731
    else:
        contents_dir = info.contents_dir = _find_contents(executable, archive.contents_directory() if archive else None)
        read_settings = has_file = None
        if contents_dir is not None:
            info.layout = "onedir"
            info.layout_evidence = "%s beside the executable holds %s" % (
                _shown(os.path.relpath(contents_dir, os.path.dirname(os.path.abspath(executable)))),
                STDLIB_ARCHIVE,
            )
            read_settings = lambda: _read_file(os.path.join(contents_dir, *BAKED_PATH.split("/")))  # noqa: E731
            has_file = lambda path: os.path.isfile(os.path.join(contents_dir, *path.split("/")))  # noqa: E731
        elif archive is not None:
            info.layout = "onedir"
            info.layout_evidence = (
                "%s is neither inside the executable nor in %s beside it: the executable was "
                "moved away from its folder, or the folder is incomplete"
                % (STDLIB_ARCHIVE, _shown(archive.contents_directory() or "."))
            )
        else:
            info.layout_evidence = (
                "the executable has no readable PyInstaller archive, and no %s is beside it" % STDLIB_ARCHIVE
            )

    # The settings are read only from a bundle whose runtime hook has oxmp's name: beside another hook, a file of that
    # name is one of the app's. A runtime hook's name and code can be anyone's; the record below is what tells oxmp's
    # bundles from look-alikes: oxmp's build always writes it, in exactly the format Baked.encode() gives, naming the
    # entry scripts' code it put in the bundle.
    # (has_oxmp is only set from an archive; has_file is set with read_settings.)
    if info.has_oxmp and archive is not None and read_settings is not None and has_file is not None:
        try:
            baked = read_settings()
            text = None if baked is None else baked.decode("utf-8")
        except (OSError, ArchiveError, UnicodeDecodeError) as error:
            info.settings_error = str(error) or type(error).__name__
        else:
            info.record_problem = (
                "there is no %s" % BAKED_PATH
                if text is None
                else record_problem(text, archive.python_version, info.entry_scripts, has_file)
            )
            if info.record_problem is None:
                info.record_text = text
            else:
                info.has_oxmp = False
                info.multiprocessing_hook = "named like oxmp's"
    return info


def _multiprocessing_hook(runtime_hooks: list[str]) -> str:
    """Which runtime hook for multiprocessing the bundle runs, by name: "oxmp", "stock" or "none". A hook of oxmp's
    name is only oxmp's with the record oxmp's build writes (``inspect()``)."""
    if STOCK_RUNTIME_HOOK in runtime_hooks:
        return "stock"  # oxmp's replaces it: with both, oxmp's build hook did not make this bundle
    return "oxmp" if oxmp_runtime_hook() in runtime_hooks else "none"


def record_problem(
    text: str, python_version: str, entry_scripts: list[str], has_file: Callable[[str], bool]
) -> str | None:
    """Why ``text`` is not a settings record that oxmp's build wrote for this bundle, or None if it is one: exactly
    what ``Baked.encode()`` writes, with valid settings, every build fact, the Python the bundle's archive was made
    for, and one entry script's code per ``entry_code`` line, of an entry script the archive runs (``has_file(path)``:
    whether the bundle holds that file)."""
    from oxmp_hooks import __version__, config

    text = text.replace("\r\n", "\n")  # written in text mode: on Windows, each line ends in CRLF
    baked = settings.Baked.decode(text)
    built_by = baked.facts.get("oxmp")
    other_version = (
        ""
        if built_by in (None, __version__)
        else (
            " (it says oxmp %s built it; this doctor is oxmp %s: use the doctor of that version)"
            % (settings.shown(built_by, 40), __version__)
        )
    )
    written = baked.encode()
    if written != text:
        lines, expected = text.splitlines(), written.splitlines()
        at = next(
            (n for n, (line, wanted) in enumerate(zip(lines, expected)) if line != wanted),
            min(len(lines), len(expected)),
        )
        found = settings.shown(lines[at], 60) if at < len(lines) else "the end of the file"
        return "%s is not in the format oxmp's build writes: line %d is %s%s" % (
            BAKED_PATH,
            at + 1,
            found,
            other_version,
        )
    missing = [fact for fact in BUILD_FACTS if fact not in baked.facts]
    if missing:
        return "%s lacks the build facts %s that oxmp's build writes" % (BAKED_PATH, ", ".join(missing))
    _, errors = config.validate(
        dict(baked.settings, run_modules=list(baked.settings["run_modules"])), baked.facts["platform"]
    )
    if errors:
        return "%s holds settings oxmp's build refuses (%s)%s" % (BAKED_PATH, "; ".join(errors), other_version)
    if baked.facts["python"].split(".")[:2] != python_version.split("."):
        return "%s says Python %s built it, the bundle's archive is for Python %s" % (
            BAKED_PATH,
            baked.facts["python"][:40],
            python_version,
        )
    if not baked.entry_code:
        return "%s names no entry script's code" % BAKED_PATH
    for path in baked.entry_code:
        folder, _, name = path.rpartition("/")
        script = name[: -len(ENTRY_CODE_SUFFIX)]
        if folder != ENTRY_CODE_DIR or not name.endswith(ENTRY_CODE_SUFFIX) or script not in entry_scripts:
            return "%s names %s, which is not the code of an entry script of this bundle" % (
                BAKED_PATH,
                settings.shown(path, 80),
            )
        if not has_file(path):
            return "%s names %s, which is not in the bundle" % (BAKED_PATH, path)
    return None


def _find_contents(executable: str, named: str | None) -> str | None:
    here = os.path.dirname(os.path.abspath(executable))
    for candidate in ((named,) if named else ()) + CONTENTS_CANDIDATES:
        folder = os.path.normpath(os.path.join(here, candidate))
        if os.path.isfile(os.path.join(folder, STDLIB_ARCHIVE)):
            return folder
    return None


def _read_file(path: str) -> bytes | None:
    # The file's bytes, or None if there is none; OSError if it cannot be read, ArchiveError if it is too large.
    try:
        baked = open(path, "rb")
    except FileNotFoundError:
        return None
    with baked:
        data = baked.read(MAX_SETTINGS_BYTES + 1)
    if len(data) > MAX_SETTINGS_BYTES:
        raise ArchiveError("%s is more than %d bytes" % (path, MAX_SETTINGS_BYTES))
    return data


def _shown(relative: str) -> str:
    return "the folder itself" if relative == "." else relative.replace(os.sep, "/") + "/"


def _find_last(stream: IO[bytes], pattern: bytes, chunk: int = 1 << 16) -> int:
    # The cookie is at or near the end; the bootloader's code before it may hold the same bytes, so search backwards.
    stream.seek(0, os.SEEK_END)
    end = stream.tell()
    while end > 0:
        start = max(0, end - chunk)
        stream.seek(start)
        found = stream.read(end - start + len(pattern) - 1).rfind(pattern)
        if found >= 0:
            return start + found
        end = start
    return -1


def _parse_toc(data: bytes) -> tuple[dict[str, TocEntry], list[str]]:
    entries: dict[str, TocEntry] = {}
    options: list[str] = []
    at = 0
    header = struct.calcsize(TOC_ENTRY_FORMAT)
    while at < len(data):
        length, offset, stored, unpacked, compressed, code = struct.unpack(TOC_ENTRY_FORMAT, data[at : at + header])
        if length <= header:
            raise ArchiveError("corrupt archive table of contents")
        name = data[at + header : at + length].rstrip(b"\0").decode("utf-8")
        at += length
        code = code.decode("ascii")
        if code == OPTION:
            options.append(name)
        else:
            entries[name] = (offset, stored, unpacked, compressed, code)
    return entries, options
