"""Is this process's command line a multiprocessing worker, a multiprocessing helper, or the app?

multiprocessing starts ``sys.executable`` in two shapes, and a frozen app has to recognise both before its own code:

* a worker: ``exe --multiprocessing-fork pipe_handle=7 tracker_fd=5`` (``parent_pid=`` instead of ``tracker_fd=`` on
  Windows), or, when ``sys.frozen`` is false, ``exe <flags> -c "from multiprocessing.spawn import spawn_main;
  spawn_main(...)" --multiprocessing-fork``;
* a helper: ``exe <flags> -c "<one import and one call>"``: the resource tracker and the forkserver (whose newest
  form also imports sys and passes ``sys_argv=sys.argv[1:]``, the parent's argv following the code);

and loky (joblib's default backend) adds ``exe -m <loky>.backend.popen_loky_posix --process-name NAME --pipe FD`` for
its workers, ``exe --multiprocessing-fork HANDLE`` for frozen Windows workers, and its own resource tracker.

Every form is listed once, in ``HELPERS``, ``WORKER_KEYS`` and ``MODULE_WORKERS``, and matched exactly. Arguments are parsed as data
(integers, literal lists and dicts), never executed as code: anything that starts like a helper command but is not one
of these forms is refused. ``classify()`` is a pure function of argv; the runtime acts on its answer.
"""

WORKER_FLAG = "--multiprocessing-fork"

# spawn_main()'s keyword arguments (every version 3.8-3.14): `pipe_handle` always, `tracker_fd` on POSIX,
# `parent_pid` on Windows. Each value is an integer; `parent_pid` and `tracker_fd` may be None.
WORKER_KEYS = {"pipe_handle": False, "parent_pid": True, "tracker_fd": True}  # key -> may be None

# Literal types an argument may have.
INT = "int"
BOOL_OR_INT = "bool or int"
STR = "str"
STR_LIST = "list of str"
OPT_STR = "str or None"
OPT_STR_LIST = "list of str or None"
OPT_INT = "int or None"

# Keyword arguments of multiprocessing.forkserver.main() across versions: main_path (passed from 3.13.8/3.14.0),
# sys_argv (3.13.12/3.14.3 in the dict, 3.13.13/3.14.4 as `sys_argv=sys.argv[1:]`), authkey_r (3.14), on_error (3.15).
FORKSERVER_KEYWORDS = {"main_path": OPT_STR, "sys_path": OPT_STR_LIST, "sys_argv": OPT_STR_LIST,
                       "authkey_r": OPT_INT, "on_error": STR}

# The helper commands built for sys.executable, as (module, function) -> (positional argument types, keyword
# argument types). Checked against CPython 3.8-3.15 and loky 3.x:
#   resource_tracker: 'from multiprocessing.resource_tracker import main;main(%d)'
#   forkserver:       'from multiprocessing.forkserver import main; main(%d, %d, %r, **%r)'
#            3.13.13+, 3.14.4+: 'import sys; from multiprocessing.forkserver import main; '
#                               'main(%d, %d, %r, sys_argv=sys.argv[1:], **%r)', then the parent's argv
#   loky's resource tracker: 'from <loky>.backend.resource_tracker import main; main(%d, %s)'
HELPERS = {
    ("multiprocessing.resource_tracker", "main"): ((INT,), {}),
    ("multiprocessing.forkserver", "main"): ((INT, INT, STR_LIST), FORKSERVER_KEYWORDS),
    ("joblib.externals.loky.backend.resource_tracker", "main"): ((INT, BOOL_OR_INT), {}),
    ("loky.backend.resource_tracker", "main"): ((INT, BOOL_OR_INT), {}),
}

# The worker form used when sys.frozen is false: spawn_main(**kwds) passed as code.
SPAWN_MAIN = ("multiprocessing.spawn", "spawn_main")

# Workers started as `exe -m MODULE OPTIONS`: module -> {option: type}. loky's POSIX workers (loky >= 2.6).
LOKY_POSIX_OPTIONS = {"--process-name": STR, "--pipe": INT}
MODULE_WORKERS = {
    "joblib.externals.loky.backend.popen_loky_posix": LOKY_POSIX_OPTIONS,
    "loky.backend.popen_loky_posix": LOKY_POSIX_OPTIONS,
}
REQUIRED_MODULE_OPTIONS = ("--pipe",)

# loky's frozen Windows worker: `exe --multiprocessing-fork HANDLE`, handled by popen_loky_win32.main() (to which
# the runtime adds the parent_pid that this command line leaves out).
LOKY_WINDOWS_MAINS = ("joblib.externals.loky.backend.popen_loky_win32", "loky.backend.popen_loky_win32")

# A `-c` text (after interpreter flags) that starts like one of these is a helper command, and must match a form above
# exactly. Anything else after `-c` is the app's own business (`app -c settings.toml`).
HELPER_PREFIXES = ("from multiprocessing.", "import sys; from multiprocessing.", "from joblib.externals.loky.",
                   "from loky.")


class Command:
    """What a command line asks for.

    kind is one of:
      "app"     - the app itself; nothing for oxmp to do.
      "worker"  - multiprocessing's spawn worker: call multiprocessing.spawn.spawn_main(**kwargs).
      "helper"  - import `module`, call `function(*args, **kwargs)` (any of `module` when it is a tuple: the first
                  that imports).
      "module"  - run `module` as __main__ with `args` as its command-line arguments (as `python -m`).
      "refused" - looks like a worker or helper but is malformed; `reason` says why.
    """

    __slots__ = ("kind", "module", "function", "args", "kwargs", "reason")

    def __init__(self, kind, module=None, function=None, args=(), kwargs=None, reason=None):
        self.kind = kind
        self.module = module
        self.function = function
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.reason = reason

    def __repr__(self):
        if self.kind == "refused":
            return "Command('refused', %r)" % self.reason
        return "Command(%r, %s.%s, args=%r, kwargs=%r)" % (self.kind, self.module, self.function, self.args, self.kwargs)


APP = Command("app")


def refused(reason):
    return Command("refused", reason=reason)


def classify(argv, platform=None):
    """Classify a process's ``sys.argv``. Cheap for the app's own command lines: no imports unless ``-c`` is there."""
    if len(argv) >= 2 and argv[1] == WORKER_FLAG:
        if len(argv) == 3 and (platform or _platform()) == "win32" and _parse_int(argv[2]) is not None:
            return Command("helper", LOKY_WINDOWS_MAINS, "main", kwargs={"pipe_handle": _parse_int(argv[2])})
        return parse_worker_args(argv[2:])
    if len(argv) >= 3 and argv[1] == "-m" and argv[2] in MODULE_WORKERS:
        return parse_module_worker(argv[2], argv[3:])
    if "-c" not in argv[1:]:
        return APP
    index = argv.index("-c", 1)
    if not all(is_interpreter_flag(arg) for arg in _flag_tokens(argv[1:index])):
        return APP
    if index + 1 >= len(argv):
        return APP
    code, rest = argv[index + 1], argv[index + 2:]
    if not code.startswith(HELPER_PREFIXES):
        return APP
    return parse_helper_code(code, rest)


def parse_worker_args(args):
    """Parse the ``key=value`` arguments that follow ``--multiprocessing-fork``."""
    kwargs = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or key not in WORKER_KEYS:
            return refused("unexpected worker argument %r (expected %s)" % (arg, _key_list()))
        if key in kwargs:
            return refused("worker argument %r given twice" % key)
        if value == "None" and WORKER_KEYS[key]:
            kwargs[key] = None
            continue
        number = _parse_int(value)
        if number is None:
            return refused("worker argument %r is not an integer" % arg)
        kwargs[key] = number
    if kwargs.get("pipe_handle") is None:
        return refused("worker command has no pipe_handle=")
    return Command("worker", *SPAWN_MAIN, kwargs=kwargs)


def parse_module_worker(module, args):
    """Parse ``exe -m MODULE --option value ...`` against ``MODULE_WORKERS``."""
    options, values = MODULE_WORKERS[module], {}
    if len(args) % 2:
        return refused("%s: options and values do not pair up: %r" % (module, list(args)))
    for option, value in zip(args[::2], args[1::2]):
        if option not in options:
            return refused("%s: unexpected option %r" % (module, option))
        if option in values:
            return refused("%s: option %s given twice" % (module, option))
        if options[option] == INT and _parse_int(value) is None:
            return refused("%s: %s %r is not an integer" % (module, option, value))
        values[option] = value
    missing = [option for option in REQUIRED_MODULE_OPTIONS if option not in values]
    if missing:
        return refused("%s: missing %s" % (module, ", ".join(missing)))
    return Command("module", module, args=args)


def parse_helper_code(code, rest=()):
    """Match a ``-c`` text against ``HELPERS`` (and spawn_main's non-frozen worker form), as data."""
    import ast  # only ever imported in a helper process

    try:
        body = ast.parse(code, mode="exec").body
    except SyntaxError:
        return refused("helper command is not valid Python: %r" % code)
    imports_sys = bool(body) and _is_import_sys(body[0])
    if imports_sys:
        body = body[1:]
    if len(body) != 2 or not isinstance(body[0], ast.ImportFrom) or not isinstance(body[1], ast.Expr):
        return refused("helper command is not one import and one call: %r" % code)
    imported, call = body[0], body[1].value
    if imported.level != 0 or len(imported.names) != 1 or imported.names[0].asname is not None:
        return refused("helper command imports in an unexpected way: %r" % code)
    module, function = imported.module, imported.names[0].name
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == function):
        return refused("helper command does not call what it imports: %r" % code)

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
                kwargs[keyword.arg] = value
            elif isinstance(value, dict) and all(isinstance(key, str) for key in value):
                kwargs.update(value)
            else:
                return refused("helper command passes ** something other than a dict: %r" % code)
    except (ValueError, TypeError, MemoryError, RecursionError):  # what literal_eval raises for non-literals
        return refused("helper command arguments are not literals: %r" % code)

    if (module, function) == SPAWN_MAIN:
        # Worker started as `python -c "... spawn_main(k=v, ...)" --multiprocessing-fork` (sys.frozen false).
        if args or imports_sys or list(rest) != [WORKER_FLAG]:
            return refused("spawn_main command in an unexpected form: %r" % code)
        return parse_worker_args("%s=%r" % item for item in kwargs.items())
    if rest and not takes_argv:
        return refused("unexpected arguments after a helper command: %r" % (list(rest),))
    signature = HELPERS.get((module, function))
    if signature is None:
        return refused("unknown helper %s.%s" % (module, function))
    problem = _check_arguments(signature, args, kwargs)
    if problem:
        return refused("%s.%s: %s" % (module, function, problem))
    return Command("helper", module, function, args, kwargs)


def is_interpreter_flag(token):
    """True for the tokens ``subprocess._args_from_interpreter_flags()`` can produce (after ``_flag_tokens``)."""
    if token in ("-I", "-E", "-s", "-S", "-B", "-P", "-q", "-R"):
        return True
    if len(token) >= 2 and token[0] == "-" and token[1] in "WX" and len(token) > 2:
        return True
    return len(token) >= 2 and token[0] == "-" and len(set(token[1:])) == 1 and token[1] in "dvbO"


def _flag_tokens(tokens):
    # `-X opt` and `-W opt` may come as two tokens; join them so each flag is one token.
    joined, tokens = [], list(tokens)
    while tokens:
        token = tokens.pop(0)
        if token in ("-X", "-W") and tokens:
            token += tokens.pop(0)
        joined.append(token)
    return joined


def _is_import_sys(node):
    import ast

    return (isinstance(node, ast.Import) and len(node.names) == 1 and node.names[0].name == "sys"
            and node.names[0].asname is None)


def _is_sys_argv_tail(node):
    import ast

    return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
            and isinstance(node.value.value, ast.Name) and node.value.value.id == "sys" and node.value.attr == "argv"
            and ast.dump(node.slice) == ast.dump(ast.parse("x[1:]", mode="eval").body.slice))


def _check_arguments(signature, args, kwargs):
    positional, keywords = signature
    if len(args) != len(positional):
        return "expected %d positional arguments, got %d" % (len(positional), len(args))
    for index, (value, wanted) in enumerate(zip(args, positional)):
        if not _has_type(value, wanted):
            return "argument %d is %r, expected %s" % (index + 1, value, wanted)
    for key, value in kwargs.items():
        if key not in keywords:
            return "unexpected keyword argument %r" % key
        if not _has_type(value, keywords[key]):
            return "keyword %s=%r, expected %s" % (key, value, keywords[key])
    return None


def _has_type(value, wanted):
    if wanted.endswith(" or None") and value is None:
        return True
    base = wanted[:-len(" or None")] if wanted.endswith(" or None") else wanted
    if base == INT:
        return type(value) is int
    if base == BOOL_OR_INT:
        return type(value) in (bool, int)
    if base == STR:
        return isinstance(value, str)
    if base == STR_LIST:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    raise AssertionError("unknown argument type %r" % wanted)


def _parse_int(text):
    digits = text[1:] if text.startswith("-") else text
    if not digits.isdigit() or not digits.isascii():
        return None
    return int(text)


def _platform():
    import sys

    return sys.platform


def _key_list():
    return ", ".join(key + "=" for key in WORKER_KEYS)
