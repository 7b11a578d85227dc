"""Is this process's command line a multiprocessing worker, a multiprocessing helper, or the app?

multiprocessing starts ``sys.executable`` in two shapes, and a frozen app has to recognise both before its own code:

* a worker: ``exe --multiprocessing-fork tracker_fd=5 pipe_handle=7`` (``parent_pid=`` instead of ``tracker_fd=`` on
  Windows), or, when ``sys.frozen`` is false, ``exe <flags> -c "from multiprocessing.spawn import spawn_main;
  spawn_main(...)" --multiprocessing-fork``;
* a helper: ``exe <flags> -c "<one import and one call>"``: the resource tracker and the forkserver (whose newest
  form also imports sys and passes ``sys_argv=sys.argv[1:]``, the parent's argv following the code);

and loky (joblib's default backend) adds ``exe -m <loky>.backend.popen_loky_posix --process-name NAME --pipe FD`` for
its workers, ``exe --multiprocessing-fork HANDLE`` for frozen Windows workers, and its own resource tracker. The forks
of multiprocessing do the same under their own names: billiard (Celery) with ``--billiard-fork``, its semaphore
tracker and forkserver; multiprocess (pathos, datasets) with multiprocessing's very flag, so an oxmp parent marks its
workers ``library=multiprocess``, and its resource tracker and forkserver.

Every form is listed once, in ``HELPERS``, ``WORKER_KEYS``, ``MODULE_WORKERS`` and ``LOKY_WINDOWS_MAINS``, and matched
exactly. Arguments are parsed as data (integers, literal lists and dicts), never executed as code: anything that
starts like a helper command but is not one of these forms is refused. Each form also says which of its arguments are
file descriptors and of what kind (``Command.descriptors``), so that the runtime can check them before anything reads
from them.

A bundle built with ``run_modules`` also runs the modules listed there for ``exe <interpreter flags> -m NAME ARGS``,
as ``python -m`` would (``classify(argv, run_modules=...)``); any other ``-m`` is the app's.

``classify()`` is a pure function of argv and total: whatever argv holds, it returns a ``Command`` and never raises.
The runtime acts on its answer.
"""

# Names for annotations only: nothing is imported for them at run time (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ast
    from typing import Any, Iterable, Sequence

    # (name on the command line, descriptor, kind: one of DESCRIPTOR_KINDS)
    Descriptor = tuple[str, int, str]
    # A helper's arguments: the types of its positional ones, and of its keywords
    Signature = tuple[Sequence[str], dict[str, str]]

WORKER_FLAG = "--multiprocessing-fork"

# The flags that mark a worker, and the library whose spawn_main() runs it. multiprocess's workers use
# multiprocessing's flag (it is a copy of multiprocessing): an oxmp parent adds LIBRARY_KEY=multiprocess to their
# command lines (boot.mark_workers), and nothing else may be named there.
WORKER_FLAGS = {WORKER_FLAG: "multiprocessing", "--billiard-fork": "billiard"}
LIBRARY_KEY = "library"
MARKED_LIBRARIES = ("multiprocess",)

# Literal types an argument may have.
INT = "int"
BOOL_OR_INT = "bool or int"
STR = "str"
STR_LIST = "list of str"
MODULE_LIST = "list of module names"
OPT_STR = "str or None"
OPT_STR_LIST = "list of str or None"

# File descriptors, by what the parent hands over (POSIX; on Windows a worker's pipe_handle is a handle, checked by
# multiprocessing itself). Each is an int; none may be 0, 1 or 2, nor the same open file as a standard stream under
# another number (descriptors.py): a genuine parent never passes one.
PIPE_READ = "read end of a pipe"
PIPE_WRITE = "write end of a pipe"
LISTENER = "listening Unix socket"
OPT_PIPE_READ = PIPE_READ + " or None"
DESCRIPTOR_KINDS = (PIPE_READ, PIPE_WRITE, LISTENER)

# Integers on a command line are descriptors, handles and process ids: 18 digits are more than any of them needs, and
# int() of a longer text may raise (Python 3.11+ limits the digits it converts).
MAX_INT_DIGITS = 18

# A `-c` text is refused before it is parsed when it is longer than this, nests brackets deeper than this, or uses
# any operator or keyword outside these (one import and one call of literals need no other): the longest real one
# (a forkserver with the parent's sys.path) is a few KiB, the deepest nests 3 levels, and none has more than one `**`.
# Anything past these bounds could reach the parser's own limits: MemoryError or RecursionError, and, on Python 3.8,
# a line of its own on stderr ("s_push: parser stack overflow": 60,000 minus signs are enough).
MAX_HELPER_CODE = 64 * 1024
MAX_HELPER_NESTING = 16
HELPER_OPERATORS = frozenset(["(", ")", "[", "]", "{", "}", ",", ":", ";", ".", "=", "**"])
MAX_HELPER_DOUBLE_STARS = 2
HELPER_KEYWORDS = frozenset(["from", "import", "True", "False", "None"])

# spawn_main()'s keyword arguments (every version 3.8-3.15): `pipe_handle` always, `tracker_fd` on POSIX,
# `parent_pid` on Windows. Each value is an integer; `parent_pid` and `tracker_fd` may be None.
WORKER_KEYS = {"pipe_handle": False, "parent_pid": True, "tracker_fd": True}  # key -> may be None
# What the worker's descriptors are on POSIX: it reads its preparation data and task from pipe_handle, and holds
# tracker_fd, its parent's end of the resource tracker's pipe, to register resources.
WORKER_DESCRIPTORS = {"pipe_handle": PIPE_READ, "tracker_fd": PIPE_WRITE}

# Keyword arguments of multiprocessing.forkserver.main() across versions: main_path (passed from 3.13.8/3.14.1),
# sys_argv (3.13.12/3.14.3 in the dict, 3.13.13/3.14.4 as `sys_argv=sys.argv[1:]`), authkey_r (3.14), on_error (3.15).
# The runtime also checks them against what this Python's main() accepts, and main_path against the bundle's own
# entry-script code (forkserver.main() runs that file before it looks at its descriptors).
FORKSERVER_KEYWORDS = {
    "main_path": OPT_STR,
    "sys_path": OPT_STR_LIST,
    "sys_argv": OPT_STR_LIST,
    "authkey_r": OPT_PIPE_READ,
    "on_error": STR,
}

# The helper commands built for sys.executable, as (module, function) -> (positional argument types, keyword
# argument types). Checked against CPython 3.8-3.15 and loky 3.x:
#   resource_tracker: 'from multiprocessing.resource_tracker import main;main(%d)'
#   forkserver:       'from multiprocessing.forkserver import main; main(%d, %d, %r, **%r)'
#            3.13.13+, 3.14.4+: 'import sys; from multiprocessing.forkserver import main; '
#                               'main(%d, %d, %r, sys_argv=sys.argv[1:], **%r)', then the parent's argv
#   loky's resource tracker: 'from <loky>.backend.resource_tracker import main; main(%d, %s)'
#   multiprocess 0.70.12-0.70.19 (copies of CPython 3.8-3.15's): the same two, under `multiprocess.`
#   billiard 4.x:     'from billiard.semaphore_tracker import main;main(%d)'
#                     'from billiard.forkserver import main; main(%d, %d, %r, **%r)'
# Descriptors: the trackers read their pipe; the forkserver accepts on its listener and reads alive_r (and authkey_r).
# loky's two homes: joblib's vendored copy, and loky itself. Every loky form below exists under both.
LOKY_PACKAGES = ("joblib.externals.loky", "loky")
# multiprocessing and multiprocess (a copy of it) start the same helpers the same way.
CPYTHON_LIKE = ("multiprocessing", "multiprocess")

HELPERS = dict(
    [((package + ".resource_tracker", "main"), ((PIPE_READ,), {})) for package in CPYTHON_LIKE]
    + [
        ((package + ".forkserver", "main"), ((LISTENER, PIPE_READ, MODULE_LIST), FORKSERVER_KEYWORDS))
        for package in CPYTHON_LIKE
    ]
    + [
        (("billiard.semaphore_tracker", "main"), ((PIPE_READ,), {})),
        (
            ("billiard.forkserver", "main"),
            ((LISTENER, PIPE_READ, MODULE_LIST), {"main_path": OPT_STR, "sys_path": OPT_STR_LIST}),
        ),
    ]
    + [((package + ".backend.resource_tracker", "main"), ((PIPE_READ, BOOL_OR_INT), {})) for package in LOKY_PACKAGES]
)

# The worker form used when sys.frozen is false: spawn_main(**kwds) passed as code, then the library's worker flag.
SPAWN_MAINS = {
    ("multiprocessing.spawn", "spawn_main"): WORKER_FLAG,
    ("multiprocess.spawn", "spawn_main"): WORKER_FLAG,
    ("billiard.spawn", "spawn_main"): "--billiard-fork",
}

# Workers started as `exe -m MODULE OPTIONS`: module -> {option: type}. loky's POSIX workers (loky >= 2.6).
LOKY_POSIX_OPTIONS = {"--process-name": STR, "--pipe": PIPE_READ}
MODULE_WORKERS = {package + ".backend.popen_loky_posix": LOKY_POSIX_OPTIONS for package in LOKY_PACKAGES}
REQUIRED_MODULE_OPTIONS = ("--pipe",)

# loky's frozen Windows worker: `exe --multiprocessing-fork HANDLE`, a command of its own kind ("loky_windows_worker"),
# run by main() of the first of these modules the bundle has (the command line does not say which loky started it),
# with the parent_pid that the command line leaves out.
LOKY_WINDOWS_MAINS = tuple(package + ".backend.popen_loky_win32" for package in LOKY_PACKAGES)

# A `-c` text (after interpreter flags) that starts like one of these is a helper command, and must match a form above
# exactly. Anything else after `-c` is the app's own business (`app -c settings.toml`).
HELPER_PREFIXES = tuple(
    [prefix + package + "." for package in CPYTHON_LIKE for prefix in ("from ", "import sys; from ")]
    + ["from billiard."]
    + ["from %s." % package for package in LOKY_PACKAGES]
)


# What a command line can ask for (Command.kind); the runtime prepares each kind of worker and helper its own way
# (boot.PREPARE).
KINDS = ("app", "worker", "loky_windows_worker", "helper", "module", "refused")


class Command:
    """What a command line asks for.

    kind is one of ``KINDS``:
      "app"     - the app itself; nothing for oxmp to do.
      "worker"  - a spawn worker: call `module`.spawn_main(**kwargs) (multiprocessing.spawn, or a fork's).
      "loky_windows_worker" - loky's frozen Windows worker: call main(**kwargs) of the first of
                  ``LOKY_WINDOWS_MAINS`` that the bundle has.
      "helper"  - import `module`, call `function(*args, **kwargs)`.
      "module"  - run `module` as __main__ with `args` as its command-line arguments (as `python -m`).
      "refused" - looks like a worker or helper but is malformed; `reason` says why.

    module: the name (a str) of the module the command line names, or None where it names none ("app", "refused",
    "loky_windows_worker").

    descriptors: ``(name, fd, kind)`` for each file descriptor the command line names, ``kind`` one of
    ``DESCRIPTOR_KINDS``; the runtime checks them before the worker or helper starts.
    """

    __slots__ = ("kind", "module", "function", "args", "kwargs", "reason", "descriptors")

    def __init__(
        self,
        kind: "str",
        module: "str | None" = None,
        function: "str | None" = None,
        args: "Iterable[Any]" = (),
        kwargs: "dict[str, Any] | None" = None,
        reason: "str | None" = None,
        descriptors: "Iterable[Descriptor]" = (),
    ) -> "None":
        self.kind = kind
        # What each names depends on the kind (above): None where it names nothing.
        self.module = module  # type: Any
        self.function = function  # type: Any
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.reason = reason  # type: Any
        self.descriptors = tuple(descriptors)

    def __repr__(self) -> "str":
        if self.kind == "refused":
            return "Command('refused', %r)" % self.reason
        named = [name for name in (self.module, self.function) if name is not None]
        return "Command(%r, %sargs=%r, kwargs=%r)" % (
            self.kind,
            ".".join(named) + ", " if named else "",
            self.args,
            self.kwargs,
        )


APP = Command("app")


def refused(reason: "str") -> "Command":
    return Command("refused", reason=reason)


def classify(argv: "Sequence[str]", platform: "str | None" = None, run_modules: "Sequence[str]" = ()) -> "Command":
    """Classify a process's ``sys.argv``. Cheap for the app's own command lines: no imports unless ``-c`` is there.

    ``run_modules``: the module names the bundle runs as ``python -m`` would (the ``run_modules`` setting). ``exe
    <interpreter flags> -m NAME ARGS...`` for exactly one of them is ``Command("module", NAME, args=ARGS)``; any
    other ``-m`` stays the app's own argument (loky's worker modules excepted, above).

    Total: returns a Command for any list of strings, and never raises.
    """
    posix = (platform or _platform()) != "win32"
    if len(argv) >= 2 and argv[1] in WORKER_FLAGS:
        if argv[1] == WORKER_FLAG and len(argv) == 3 and not posix and _parse_int(argv[2]) is not None:
            return Command("loky_windows_worker", kwargs={"pipe_handle": _parse_int(argv[2])})
        return parse_worker_args(argv[2:], posix, WORKER_FLAGS[argv[1]])
    if len(argv) >= 3 and argv[1] == "-m" and argv[2] in MODULE_WORKERS:
        return parse_module_worker(argv[2], argv[3:], posix)
    if run_modules:
        index = _module_flag_index(argv)
        if index is not None and argv[index + 1] in run_modules and argv[index + 1] not in MODULE_WORKERS:
            # As `python -m NAME ARGS...`: everything after the name is the module's, whatever it looks like.
            return Command("module", argv[index + 1], args=argv[index + 2 :])
    if "-c" not in argv[1:]:
        return APP
    index = argv.index("-c", 1)
    if not all(is_interpreter_flag(arg) for arg in _flag_tokens(argv[1:index])):
        return APP
    if index + 1 >= len(argv):
        return APP
    code, rest = argv[index + 1], argv[index + 2 :]
    if not code.startswith(HELPER_PREFIXES):
        return APP
    return parse_helper_code(code, rest, posix)


def module_named(argv: "Sequence[str]") -> "str | None":
    """The NAME of ``exe <interpreter flags> -m NAME ...`` (as ``python`` reads it: options end at ``-m``), or None.
    Cheap and total: the runtime reads the ``run_modules`` setting only when this is not None."""
    index = _module_flag_index(argv)
    return None if index is None else argv[index + 1]


def _module_flag_index(argv: "Sequence[str]") -> "int | None":
    # Where `-m` is, if only interpreter flags come before it and a name after it. `-X` and `-W` take the next token
    # as their option, whatever it is (`python -X -m foo` runs the script foo), as python reads them.
    index = 1
    while index < len(argv):
        token = argv[index]
        if token == "-m":
            return index if index + 1 < len(argv) else None
        if token in ("-X", "-W"):
            index += 2
            continue
        if not is_interpreter_flag(token):
            return None
        index += 1
    return None


def parse_worker_args(args: "Iterable[str]", posix: "bool" = True, library: "str" = "multiprocessing") -> "Command":
    """Parse the ``key=value`` arguments that follow a worker flag of ``library``."""
    kwargs: "dict[str, int | None]" = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if key == LIBRARY_KEY and library == "multiprocessing" and value in MARKED_LIBRARIES:
            library = value  # at most once: the next one is refused below
            continue
        if not sep or key not in WORKER_KEYS:
            return refused("unexpected worker argument %s (expected %s)" % (show(arg), _key_list()))
        if key in kwargs:
            return refused("worker argument %r given twice" % key)
        if value == "None" and WORKER_KEYS[key]:
            kwargs[key] = None
            continue
        number = _parse_int(value)
        if number is None:
            return refused("worker argument %s is not an integer" % show(arg))
        kwargs[key] = number
    if kwargs.get("pipe_handle") is None:
        return refused("worker command has no pipe_handle=")
    if not posix and kwargs.get("parent_pid") is None:
        # CPython always names the parent on Windows; without one, spawn_main() would take pipe_handle as a handle of
        # this process, such as its own standard input.
        return refused("worker command has no parent_pid=")
    descriptors: "list[tuple[str, Any, str]]" = []
    if posix:
        descriptors = [
            (key, kwargs[key], kind) for key, kind in WORKER_DESCRIPTORS.items() if kwargs.get(key) is not None
        ]
    return _with_descriptors(Command("worker", library + ".spawn", "spawn_main", kwargs=kwargs), descriptors)


def parse_module_worker(module: "str", args: "Sequence[str]", posix: "bool" = True) -> "Command":
    """Parse ``exe -m MODULE --option value ...`` against ``MODULE_WORKERS``."""
    options, values = MODULE_WORKERS[module], {}  # type: dict[str, str], dict[str, str]
    if len(args) % 2:
        return refused("%s: options and values do not pair up: %s" % (module, show(list(args))))
    descriptors = []
    for option, value in zip(args[::2], args[1::2]):
        if option not in options:
            return refused("%s: unexpected option %s" % (module, show(option)))
        if option in values:
            return refused("%s: option %s given twice" % (module, option))
        if options[option] in DESCRIPTOR_KINDS:
            number = _parse_int(value)
            if number is None:
                return refused("%s: %s %s is not an integer" % (module, option, show(value)))
            descriptors.append((option, number, options[option]))
        values[option] = value
    missing = [option for option in REQUIRED_MODULE_OPTIONS if option not in values]
    if missing:
        return refused("%s: missing %s" % (module, ", ".join(missing)))
    return _with_descriptors(Command("module", module, args=args), descriptors if posix else ())


def parse_helper_code(code: "str", rest: "Sequence[str]" = (), posix: "bool" = True) -> "Command":
    """Match a ``-c`` text against ``HELPERS`` (and spawn_main's non-frozen worker form), as data.

    Prints nothing: Python's parser warns of some literals (an invalid escape sequence such as ``"\\d"``: a
    SyntaxWarning from 3.12, a DeprecationWarning before, shown under ``-W``), and a refusal is one line. No genuine
    helper command has such a literal (its arguments are written with ``%r`` or ``%d``)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _parse_helper_code(code, rest, posix)


def _parse_helper_code(code: "str", rest: "Sequence[str]", posix: "bool") -> "Command":
    if len(code) > MAX_HELPER_CODE:
        return refused("helper command is longer than %d characters" % MAX_HELPER_CODE)
    problem = _shape_problem(code)
    if problem:
        return refused("helper command %s: %s" % (problem, show(code)))
    import ast  # only ever imported in a helper process

    try:
        body = ast.parse(code, mode="exec").body
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        # ValueError: a NUL character; UnicodeEncodeError (a ValueError): a byte that is not UTF-8 in argv, which
        # Python passes on as a lone surrogate; RecursionError, MemoryError: nesting too deep to parse.
        return refused("helper command is not valid Python: %s" % show(code))
    imports_sys = bool(body) and _is_import_sys(body[0])
    if imports_sys:
        body = body[1:]
    if len(body) != 2 or not isinstance(body[0], ast.ImportFrom) or not isinstance(body[1], ast.Expr):
        return refused("helper command is not one import and one call: %s" % show(code))
    imported, call = body[0], body[1].value
    if imported.level != 0 or len(imported.names) != 1 or imported.names[0].asname is not None:
        return refused("helper command imports in an unexpected way: %s" % show(code))
    module: "str"  # level 0 (above): the module is named
    module, function = imported.module, imported.names[0].name  # type: ignore[assignment]
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == function):
        return refused("helper command does not call what it imports: %s" % show(code))

    takes_argv = False
    try:
        args = [ast.literal_eval(node) for node in call.args]
        kwargs = {}
        for keyword in call.keywords:
            if keyword.arg == "sys_argv" and imports_sys and _is_sys_argv_tail(keyword.value):
                # `sys_argv=sys.argv[1:]`: under python, the arguments that follow the code.
                takes_argv = True
                kwargs["sys_argv"] = list(rest)
                continue
            value = ast.literal_eval(keyword.value)
            if keyword.arg is not None:
                value = {keyword.arg: value}
            elif not (isinstance(value, dict) and all(isinstance(key, str) for key in value)):
                return refused("helper command passes ** something other than a dict: %s" % show(code))
            if set(value) & set(kwargs):
                return refused("helper command passes a keyword twice: %s" % show(code))
            kwargs.update(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):  # what literal_eval raises
        return refused("helper command arguments are not literals: %s" % show(code))

    if (module, function) in SPAWN_MAINS:
        # Worker started as `python -c "... spawn_main(k=v, ...)" --multiprocessing-fork` (sys.frozen false).
        if args or imports_sys or list(rest) != [SPAWN_MAINS[module, function]]:
            return refused("spawn_main command in an unexpected form: %s" % show(code))
        if not all(value is None or (type(value) is int and _fits(value)) for value in kwargs.values()):
            return refused(
                "spawn_main arguments are not integers of at most %d digits: %s" % (MAX_INT_DIGITS, show(code))
            )
        return parse_worker_args(("%s=%r" % item for item in kwargs.items()), posix, module.partition(".")[0])
    if rest and not takes_argv:
        return refused("unexpected arguments after a helper command: %s" % show(list(rest)))
    signature = HELPERS.get((module, function))
    if signature is None:
        return refused("unknown helper %s.%s" % (module, function))
    problem = _check_arguments(signature, args, kwargs)
    if problem:
        return refused("%s.%s: %s" % (module, function, problem))
    positional, keywords = signature
    descriptors = [
        ("argument %d" % (index + 1), value, _descriptor_kind(wanted))
        for index, (value, wanted) in enumerate(zip(args, positional))
        if _descriptor_kind(wanted)
    ]
    descriptors += [
        (key, value, _descriptor_kind(keywords[key]))
        for key, value in kwargs.items()
        if _descriptor_kind(keywords[key]) and value is not None
    ]
    return _with_descriptors(Command("helper", module, function, args, kwargs), descriptors if posix else ())


def main_path_problem(main_path: "str | None", entry_paths: "Iterable[str]") -> "str | None":
    """Why a forkserver's ``main_path`` is refused, or None: it must be absent or one of the bundle's own entry-script
    code files (``entry_paths``), which is all a genuine parent from the same bundle ever sends."""
    import os.path

    if main_path is None or os.path.normpath(main_path) in [os.path.normpath(path) for path in entry_paths]:
        return None
    return "forkserver main_path %s is not this bundle's entry script" % show(main_path)


def is_interpreter_flag(token: "str") -> "bool":
    """True for the tokens ``subprocess._args_from_interpreter_flags()`` can produce (after ``_flag_tokens``)."""
    if token in ("-I", "-E", "-s", "-S", "-B", "-P", "-q", "-R"):
        return True
    if len(token) >= 2 and token[0] == "-" and token[1] in "WX" and len(token) > 2:
        return True
    return len(token) >= 2 and token[0] == "-" and len(set(token[1:])) == 1 and token[1] in "dvbO"


def _with_descriptors(command: "Command", descriptors: "Sequence[tuple[str, Any, Any]]") -> "Command":
    # The descriptors as parsed (each checked here before it becomes one of the command's).
    # A genuine parent never hands over a standard stream: with one, data from whoever runs the app (a pickle on
    # stdin, a tracker's REGISTER lines) would be taken for the parent's.
    for name, fd, kind in descriptors:
        if not 3 <= fd < 2**31:
            return refused("%s=%s is not a descriptor a parent hands over (%s)" % (name, show(fd), kind))
    command.descriptors = tuple(descriptors)
    return command


def _shape_problem(code: "str") -> "str | None":
    """What, outside its string literals, puts ``code`` beyond the shape of every helper command (see HELPER_OPERATORS),
    or None. Read token by token with tokenize, which handles every kind of string literal and has no depth limit of
    its own; it stops at the first problem."""
    import io
    import keyword
    import tokenize  # only ever imported in a helper process

    depth = double_stars = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.OP:
                if token.string not in HELPER_OPERATORS:
                    return "uses the operator %r" % token.string
                if token.string in "([{":
                    depth += 1
                    if depth > MAX_HELPER_NESTING:
                        return "nests brackets more than %d deep" % MAX_HELPER_NESTING
                elif token.string in ")]}":
                    depth -= 1
                elif token.string == "**":
                    double_stars += 1
                    if double_stars > MAX_HELPER_DOUBLE_STARS:
                        return "uses ** more than %d times" % MAX_HELPER_DOUBLE_STARS
            elif (
                token.type == tokenize.NAME and keyword.iskeyword(token.string) and token.string not in HELPER_KEYWORDS
            ):
                return "uses the keyword %r" % token.string
            elif token.type == tokenize.ERRORTOKEN:
                return "is not valid Python"
    except (tokenize.TokenError, SyntaxError, ValueError, MemoryError, RecursionError):
        # SyntaxError: Python 3.12+'s tokenizer on bad input; ValueError: a NUL, or a lone surrogate (argv bytes that
        # are not UTF-8).
        return "is not valid Python"
    return None


def _flag_tokens(tokens: "Sequence[str]") -> "list[str]":
    # `-X opt` and `-W opt` may come as two tokens; join them so each flag is one token. One pass over the list, so
    # that a long argv costs time in proportion to its length (list.pop(0) would move the rest at every step).
    joined, index = [], 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token in ("-X", "-W") and index < len(tokens):
            token += tokens[index]
            index += 1
        joined.append(token)
    return joined


def _is_import_sys(node: "ast.stmt") -> "bool":
    import ast

    return (
        isinstance(node, ast.Import)
        and len(node.names) == 1
        and node.names[0].name == "sys"
        and node.names[0].asname is None
    )


def _is_sys_argv_tail(node: "ast.expr") -> "bool":
    import ast

    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "sys"
        and node.value.attr == "argv"
        and ast.dump(node.slice) == ast.dump(ast.parse("x[1:]", mode="eval").body.slice)  # type: ignore[attr-defined]
    )


def _check_arguments(signature: "Signature", args: "list[Any]", kwargs: "dict[str, Any]") -> "str | None":
    positional, keywords = signature
    if len(args) != len(positional):
        return "expected %d positional arguments, got %d" % (len(positional), len(args))
    for index, (value, wanted) in enumerate(zip(args, positional)):
        if not _has_type(value, wanted):
            return "argument %d is %s, expected %s" % (index + 1, show(value), wanted)
    for key, value in kwargs.items():
        if key not in keywords:
            return "unexpected keyword argument %s" % show(key)
        if not _has_type(value, keywords[key]):
            return "keyword %s=%s, expected %s" % (key, show(value), keywords[key])
    return None


def _descriptor_kind(wanted: "str") -> "str | None":
    base = wanted[: -len(" or None")] if wanted.endswith(" or None") else wanted
    return base if base in DESCRIPTOR_KINDS else None


def _has_type(value: "object", wanted: "str") -> "bool":
    if wanted.endswith(" or None") and value is None:
        return True
    base = wanted[: -len(" or None")] if wanted.endswith(" or None") else wanted
    if base == INT or base in DESCRIPTOR_KINDS:
        return type(value) is int
    if base == BOOL_OR_INT:
        return type(value) in (bool, int)
    if base == STR:
        return isinstance(value, str)
    if base == STR_LIST:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if base == MODULE_LIST:
        return isinstance(value, list) and all(isinstance(item, str) and is_module_name(item) for item in value)
    raise AssertionError("unknown argument type %r" % wanted)


def is_module_name(text: "str") -> "bool":
    """A dotted name of identifiers, as ``import`` and ``python -m`` take."""
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def _fits(number: "int") -> "bool":
    # What _parse_int() would take: at most MAX_INT_DIGITS digits.
    return -(10**MAX_INT_DIGITS) < number < 10**MAX_INT_DIGITS


def _parse_int(text: "str") -> "int | None":
    digits = text[1:] if text.startswith("-") else text
    if not digits.isdigit() or not digits.isascii() or len(digits) > MAX_INT_DIGITS:
        return None
    return int(text)


def show(value: "object", limit: "int" = 200) -> "str":
    """A refusal is one line of reasonable length, whatever argv held: ``repr(value)``, cut at ``limit``. A value that
    holds an integer too long for ``repr()`` (Python 3.11+ converts at most 4,300 digits) is named by its type."""
    try:
        text = repr(value)
    except ValueError:
        too_long = "an integer of more than 4300 digits"
        return too_long if type(value) is int else "a %s holding %s" % (type(value).__name__, too_long)
    return text if len(text) <= limit else text[:limit] + "...(%d characters)" % len(text)


def _platform() -> "str":
    import sys

    return sys.platform


def _key_list() -> "str":
    return ", ".join(key + "=" for key in WORKER_KEYS)
