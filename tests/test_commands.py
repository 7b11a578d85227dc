"""Unit tests of the command-line table: every form each supported Python and loky produces, and what is refused."""

import os
import shutil
import subprocess
import sys
import warnings

import pytest

from _oxmp_runtime import commands

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = ["-B", "-S", "-I"]
EXE = "/opt/app/app"
FORKSERVER_DICT_38 = "{'sys_path': ['/tmp/_MEI1/base_library.zip', '/tmp/_MEI1']}"
FORKSERVER_DICT_314 = "{'sys_path': ['/m/base_library.zip', '/m'], 'main_path': '/m/app.py', 'authkey_r': 9}"


def classify(*args, platform="linux"):
    return commands.classify([EXE] + list(args), platform=platform)


# --- The app's own command lines ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["-c", "config.ini"],
        ["run", "-c", "from multiprocessing import x"],  # `run` is not an interpreter flag
        ["-v", "-c", "settings.ini"],
        ["-B", "-S", "-I", "-c", "import os"],  # not a helper's start: the app's business
        ["-c", "/etc/multiprocessing/app.conf"],
        ["-c", "loky.toml"],
        ["-B", "-S", "-I", "-c", "import os; from multiprocessing.forkserver import main; main(5, 7, [], **{})"],
        ["-c"],
        ["input.txt", "--multiprocessing-fork"],  # only argv[1] marks a worker, as in CPython's is_forking()
        ["-m", "mypackage"],
    ],
)
def test_app_command_lines(argv):
    assert classify(*argv).kind == "app"


# --- Workers --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, kwargs",
    [
        (["tracker_fd=6", "pipe_handle=8"], {"tracker_fd": 6, "pipe_handle": 8}),  # POSIX, 3.8-3.15
        (["parent_pid=1234", "pipe_handle=880"], {"parent_pid": 1234, "pipe_handle": 880}),  # Windows, 3.8-3.15
        (["pipe_handle=8", "tracker_fd=None"], {"pipe_handle": 8, "tracker_fd": None}),
    ],
)
def test_frozen_spawn_worker(args, kwargs):
    command = classify("--multiprocessing-fork", *args)
    assert command.kind == "worker"
    assert (command.module, command.function) == ("multiprocessing.spawn", "spawn_main")
    assert command.kwargs == kwargs


@pytest.mark.parametrize("flags", [FLAGS, [], ["-O", "-B", "-s", "-E", "-P"], ["-I", "-X", "utf8", "-Wignore"]])
def test_non_frozen_spawn_worker(flags):
    # What get_command_line() builds when sys.frozen is false.
    code = "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=6, pipe_handle=8)"
    command = classify(*flags, "-c", code, "--multiprocessing-fork")
    assert command.kind == "worker"
    assert command.kwargs == {"tracker_fd": 6, "pipe_handle": 8}


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["pipe_handle="],
        ["pipe_handle=abc"],
        ["pipe_handle=1.5"],
        ["pipe_handle=None"],
        ["pipe_handle=٣"],  # a non-ASCII digit
        ["pipe_handle=8", "pipe_handle=9"],
        ["pipe_handle=8", "evil=1"],
        ["pipe_handle=8", "tracker_fd"],
        ["tracker_fd=6"],
        ["880"],  # loky's bare handle, only on Windows
    ],
)
def test_malformed_worker_is_refused(args):
    command = classify("--multiprocessing-fork", *args)
    assert command.kind == "refused"
    assert command.reason


def test_malformed_non_frozen_worker_is_refused():
    code = "from multiprocessing.spawn import spawn_main; spawn_main(pipe_handle=8)"
    assert classify(*FLAGS, "-c", code).kind == "refused"  # no --multiprocessing-fork after it
    assert classify(*FLAGS, "-c", code, "--multiprocessing-fork", "x").kind == "refused"
    assert classify(*FLAGS, "-c", code.replace("8", "'8'"), "--multiprocessing-fork").kind == "refused"


# --- Helpers --------------------------------------------------------------------------------------------------------


def test_resource_tracker_every_version():
    command = classify(*FLAGS, "-c", "from multiprocessing.resource_tracker import main;main(5)")
    assert command.kind == "helper"
    assert (command.module, command.function, command.args, command.kwargs) == (
        "multiprocessing.resource_tracker",
        "main",
        (5,),
        {},
    )


@pytest.mark.parametrize(
    "preload, data",
    [
        ("['__main__']", FORKSERVER_DICT_38),  # 3.8 - 3.13.7
        ("[]", "{}"),  # set_forkserver_preload([])
        ("['__main__']", FORKSERVER_DICT_314),  # 3.14.0 - 3.14.3 (main_path from 3.13.8/3.14.0)
        ("['__main__']", "{'sys_path': ['/m'], 'sys_argv': ['/m/app', '-v']}"),  # 3.13.12 / 3.14.3
    ],
)
def test_forkserver_before_3_13_13(preload, data):
    code = "from multiprocessing.forkserver import main; main(5, 7, %s, **%s)" % (preload, data)
    command = classify(*FLAGS, "-c", code)
    assert command.kind == "helper"
    assert (command.module, command.function) == ("multiprocessing.forkserver", "main")
    assert command.args == (5, 7, eval(preload))
    assert command.kwargs == eval(data)


def test_forkserver_3_13_13_and_3_14_4_pass_the_parents_argv_after_the_code():
    code = (
        "import sys; from multiprocessing.forkserver import main; "
        "main(5, 7, ['__main__'], sys_argv=sys.argv[1:], **%s)" % FORKSERVER_DICT_314
    )
    command = classify(*FLAGS, "-c", code, EXE, "scenario", "--method", "forkserver")
    assert command.kind == "helper"
    assert command.kwargs["sys_argv"] == [EXE, "scenario", "--method", "forkserver"]
    assert command.kwargs["main_path"] == "/m/app.py"
    # With an empty preload list nothing follows the code.
    empty = code.replace("['__main__']", "[]").replace(FORKSERVER_DICT_314, "{}")
    assert classify(*FLAGS, "-c", empty).kwargs == {"sys_argv": []}


def test_interpreter_flags_of_every_version_are_accepted():
    code = "from multiprocessing.resource_tracker import main;main(5)"
    for flags in (
        ["-OO", "-B", "-S", "-I"],
        ["-d", "-bb", "-vv", "-q", "-E", "-s", "-P"],
        ["-I", "-Wdefault", "-X", "dev", "-X", "faulthandler", "-X", "frozen_modules=off"],
    ):
        assert classify(*flags, "-c", code).kind == "helper", flags


@pytest.mark.parametrize(
    "code",
    [
        "from multiprocessing.resource_tracker import main;main(5); import os",
        "from multiprocessing.resource_tracker import main;main(__import__('os').getpid())",
        "from multiprocessing.resource_tracker import main;main(5, 6)",
        "from multiprocessing.resource_tracker import main;main('5')",
        "from multiprocessing.resource_tracker import main;main(True)",
        "from multiprocessing.resource_tracker import main as m;m(5)",
        "from multiprocessing.resource_tracker import main, getfd;main(5)",
        "from multiprocessing.resource_tracker import getfd;getfd()",
        "from multiprocessing.util import spawnv_passfds; spawnv_passfds('/bin/sh', ['sh'], [])",
        "from multiprocessing.forkserver import main; main(5, 7, ['__main__'], **{'evil': 1})",
        "from multiprocessing.forkserver import main; main(5, 7, [1], **{})",
        # no import of sys:
        "from multiprocessing.forkserver import main; main(5, 7, ['__main__'], sys_argv=sys.argv[1:], **{})",
        "import sys; from multiprocessing.forkserver import main; main(5, 7, [], sys_argv=sys.argv[2:], **{})",
        "import sys; from multiprocessing.forkserver import main; main(5, 7, [], sys_argv=sys.modules, **{})",
        "import sys; from multiprocessing.forkserver import main; main(5, 7, [], **sys.modules)",
        "import sys; from multiprocessing.forkserver import main",
        "from multiprocessing.resource_tracker import main;main({[]: 1})",  # literal_eval raises TypeError
        "from multiprocessing.forkserver import main; main(5, 7, [], **{'x': __import__('os')})",
        "from multiprocessing.forkserver import main; main(",
        "from multiprocessing.forkserver import main; main(5, 7, [])\nimport os",
        "from joblib.externals.loky.backend.resource_tracker import main; main(5, 'x')",
        "from loky.backend.reusable_executor import get_reusable_executor; get_reusable_executor()",
    ],
)
def test_anything_else_that_starts_like_a_helper_is_refused(code):
    command = classify(*FLAGS, "-c", code)
    assert command.kind == "refused", command
    assert command.reason


def test_trailing_arguments_are_refused_unless_the_code_takes_them():
    assert classify(*FLAGS, "-c", "from multiprocessing.resource_tracker import main;main(5)", "x").kind == "refused"


# --- loky (joblib) --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("package", ["joblib.externals.loky", "loky"])
def test_loky_posix_worker(package):
    module = package + ".backend.popen_loky_posix"
    command = classify("-m", module, "--process-name", "LokyProcess-1", "--pipe", "7")
    assert command.kind == "module"
    assert command.module == module
    assert command.args == ("--process-name", "LokyProcess-1", "--pipe", "7")
    assert classify("-m", module, "--pipe", "7").kind == "module"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--process-name", "x"],
        ["--pipe", "x"],
        ["--pipe", "7", "--pipe", "8"],
        ["--pipe", "7", "--semaphore", "3"],
        ["--pipe"],
    ],
)
def test_malformed_loky_worker_is_refused(args):
    assert classify("-m", "joblib.externals.loky.backend.popen_loky_posix", *args).kind == "refused"


@pytest.mark.parametrize("package", ["joblib.externals.loky", "loky"])
def test_loky_resource_tracker(package):
    command = classify(*FLAGS, "-c", "from %s.backend.resource_tracker import main; main(5, False)" % package)
    assert command.kind == "helper"
    assert (command.module, command.args) == (package + ".backend.resource_tracker", (5, False))


def test_loky_frozen_windows_worker():
    # A kind of its own: its command line names neither the module nor the parent (boot.prepare() finds both; tested
    # in test_boot.py).
    command = classify("--multiprocessing-fork", "880", platform="win32")
    assert command.kind == "loky_windows_worker"
    assert command.module is None
    assert command.kwargs == {"pipe_handle": 880}
    assert classify("--multiprocessing-fork", "880").kind == "refused"  # POSIX has no such worker


def test_the_module_a_command_names_is_a_name():
    forms = [
        ["--multiprocessing-fork", "tracker_fd=6", "pipe_handle=8"],
        FLAGS + ["-c", "from loky.backend.resource_tracker import main; main(5, False)"],
        ["-m", "loky.backend.popen_loky_posix", "--process-name", "x", "--pipe", "7"],
    ]
    for argv in forms:
        assert type(classify(*argv).module) is str, argv


def test_interpreter_flag_grammar():
    for token in ["-B", "-S", "-I", "-E", "-s", "-P", "-q", "-O", "-OO", "-d", "-bb", "-vvv", "-Wignore", "-Xdev"]:
        assert commands.is_interpreter_flag(token), token
    for token in ["-c", "-m", "-x", "--flag", "run", "-", "-W", "-X", "-Ob", "-h"]:
        assert not commands.is_interpreter_flag(token), token


# --- Descriptors and odd input (docs/security.md) --------------------------------------------------------------------


def test_each_form_says_which_arguments_are_descriptors_and_of_what_kind():
    worker = classify("--multiprocessing-fork", "tracker_fd=6", "pipe_handle=8")
    # The pipes a parent keeps writing to while its child starts are of their own kind; loky's worker pipe and the
    # forkserver's authkey pipe are closed by the parent once written, and the forkserver's alive pipe carries no data.
    assert set(worker.descriptors) == {("pipe_handle", 8, commands.PIPE_READ), ("tracker_fd", 6, commands.PIPE_WRITE)}
    tracker = classify(*FLAGS, "-c", "from multiprocessing.resource_tracker import main;main(5)")
    assert tracker.descriptors == (("argument 1", 5, commands.PIPE_READ),)
    loky_tracker = classify(*FLAGS, "-c", "from loky.backend.resource_tracker import main; main(5, False)")
    assert loky_tracker.descriptors == (("argument 1", 5, commands.PIPE_READ),)
    forkserver = classify(
        *FLAGS, "-c", "from multiprocessing.forkserver import main; main(5, 7, [], **%s)" % FORKSERVER_DICT_314
    )
    assert forkserver.descriptors == (
        ("argument 1", 5, commands.LISTENER),
        ("argument 2", 7, commands.PIPE_READ),
        ("authkey_r", 9, commands.PIPE_READ),
    )
    loky = classify("-m", "loky.backend.popen_loky_posix", "--process-name", "x", "--pipe", "7")
    assert loky.descriptors == (("--pipe", 7, commands.PIPE_READ),)
    # Windows handles are not descriptors: multiprocessing checks them itself.
    assert classify("--multiprocessing-fork", "parent_pid=1", "pipe_handle=8", platform="win32").descriptors == ()


@pytest.mark.parametrize(
    "argv",
    [
        ["--multiprocessing-fork", "pipe_handle=0"],
        ["--multiprocessing-fork", "tracker_fd=2", "pipe_handle=7"],
        ["--multiprocessing-fork", "pipe_handle=-1"],
        FLAGS + ["-c", "from multiprocessing.resource_tracker import main;main(0)"],
        FLAGS + ["-c", "from multiprocessing.forkserver import main; main(1, 4, [], **{})"],
        FLAGS + ["-c", "from multiprocessing.forkserver import main; main(3, 4, [], **{'authkey_r': 0})"],
        FLAGS + ["-c", "from multiprocessing.resource_tracker import main;main(%d)" % 2**40],
        ["-m", "loky.backend.popen_loky_posix", "--pipe", "0"],
    ],
)
def test_a_standard_stream_or_impossible_number_is_never_a_parents_descriptor(argv):
    command = classify(*argv)
    assert command.kind == "refused", command
    assert "is not a descriptor a parent hands over" in command.reason


def test_windows_worker_must_name_its_parent():
    assert classify("--multiprocessing-fork", "pipe_handle=8", platform="win32").kind == "refused"
    assert classify("--multiprocessing-fork", "parent_pid=4", "pipe_handle=0", platform="win32").kind == "worker"


@pytest.mark.parametrize(
    "argv",
    [
        ["--multiprocessing-fork", "pipe_handle=" + "7" * 5000],
        ["-m", "loky.backend.popen_loky_posix", "--pipe", "7" * 5000],
        FLAGS + ["-c", "from multiprocessing.resource_tracker import main;main(\udcff)"],  # a byte that is not UTF-8
        FLAGS + ["-c", "from multiprocessing.resource_tracker import main;main(5)\0"],
        FLAGS + ["-c", "from multiprocessing.forkserver import main; main(" + "-" * 60000 + "1, 4, [])"],
        FLAGS + ["-c", "from multiprocessing.forkserver import main; main(5, 6, " + "[" * 5000 + ")"],
        FLAGS + ["-c", "from multiprocessing.forkserver import main; main(5, 6, [" + "[" * 150 + "]" * 150 + "])"],
        FLAGS + ["-c", "from multiprocessing.resource_tracker import main;main(5)" + " " * commands.MAX_HELPER_CODE],
        FLAGS + ["-c", "from multiprocessing.resource_tracker import main;main(" + "9" * 5000 + ")"],
        FLAGS + ["-c", "from multiprocessing.forkserver import main; main(5, 6, ['os; import evil'], **{})"],
        FLAGS + ["-c", "from multiprocessing.forkserver import main; main(5, 6, [''], **{})"],
    ],
)
def test_odd_input_is_refused_not_raised(argv):
    command = classify(*argv)
    assert command.kind == "refused", command
    assert len(command.reason) < 400 and "\n" not in command.reason


def test_forkserver_main_path_must_be_the_bundles_entry_script():
    entry = ["/tmp/_MEIabc/app.py"]
    assert commands.main_path_problem(None, entry) is None
    assert commands.main_path_problem("/tmp/_MEIabc/app.py", entry) is None
    assert commands.main_path_problem("/tmp/_MEIabc/./app.py", entry) is None
    assert "is not this bundle's entry script" in commands.main_path_problem("/tmp/evil.py", entry)
    assert commands.main_path_problem("/tmp/_MEIabc/app.py", []) is not None


def test_brackets_in_strings_do_not_count_as_nesting():
    path = "/home/me/My App (x86) [[[[[[[[[[[[[[[[[[[[/_MEI1"
    code = "from multiprocessing.forkserver import main; main(5, 7, ['__main__'], **{'sys_path': [%r]})" % path
    assert classify(*FLAGS, "-c", code).kwargs == {"sys_path": [path]}
    assert classify(
        *FLAGS, "-c", "from multiprocessing.forkserver import main; main(5, 7, " + "[" * 17 + ")"
    ).reason.startswith("helper command nests brackets more than 16 deep")


@pytest.mark.parametrize(
    "code, problem",
    [
        ("main(" + "-" * 60000 + "1)", "uses the operator '-'"),  # enough for Python 3.8's parser to overflow
        ("main(" + "not " * 2000 + "1)", "uses the keyword 'not'"),
        ("main(2" + "**2" * 3 + ")", "uses ** more than 2 times"),
        ("main(lambda: 1)", "uses the keyword 'lambda'"),
        ("main(1 if 1 else 2)", "uses the keyword 'if'"),
        ("main(5 or 6)", "uses the keyword 'or'"),
        ('main("""a"b"""' + "[" * 17 + ")", "nests brackets more than 16 deep"),  # a triple-quoted string first
        ("main('unterminated)", "is not valid Python"),
        ("main(5)\0", "is not valid Python"),
    ],
)
def test_helper_code_outside_every_known_shape_is_refused_before_parsing(code, problem):
    code = "from multiprocessing.resource_tracker import main;" + code
    reason = classify(*FLAGS, "-c", code).reason
    assert reason.startswith("helper command %s" % problem), reason


def test_a_keyword_given_twice_is_refused():
    code = "from multiprocessing.forkserver import main; main(5, 7, [], sys_path=['/a'], **{'sys_path': ['/b']})"
    assert "a keyword twice" in classify(*FLAGS, "-c", code).reason


# --- Linear work, no output (docs/security.md: "in time linear in its size", "one line") ----------------------------

# Each shape: a Python expression for an argv of about n items.
LONG_ARGV_SHAPES = {
    # 190,000 of these took seconds to refuse when the flags were joined with list.pop(0).
    "flags before -c": '["app"] + ["-B"] * n + ["-c", "from multiprocessing.resource_tracker import main;main(5)"]',
    "-W pairs before -c": '["app"] + ["-W", "ignore"] * (n // 2) + ["-c", "from multiprocessing.x import y"]',
    "the app's own arguments": '["app"] + ["--verbose"] * n',
    "a long worker argument": '["app", "--multiprocessing-fork", "pipe_handle=" + "7" * n]',
}
COUNT_INSTRUCTIONS = """
import sys
from _oxmp_runtime import commands
n = {n}
argv = {shape}
commands.classify(argv, platform="linux")
"""


def instructions(code, folder):
    """Instructions a Python process running ``code`` executes (valgrind's callgrind): a count of work that does not
    depend on the machine's load."""
    out = os.path.join(folder, "callgrind.out")
    # A fixed hash seed: with a random one, Python's own start-up varies by some 50,000 instructions between runs.
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "runtime_hooks"), PYTHONHASHSEED="0")
    subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, sys.executable, "-S", "-c", code],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    with open(out) as counts:
        return int([line for line in counts if line.startswith("summary:")][0].split()[1])


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="counts instructions with valgrind")
@pytest.mark.parametrize("shape", sorted(LONG_ARGV_SHAPES))
def test_classify_does_work_in_proportion_to_argv(shape, tmp_path):
    base, small, large = (
        instructions(COUNT_INSTRUCTIONS.format(shape=LONG_ARGV_SHAPES[shape], n=n), str(tmp_path))
        for n in (0, 50000, 200000)
    )
    # Four times the argv, about four times the work above Python's own start-up: the slack is for allocator and
    # cache effects; quadratic handling gives sixteen times.
    assert large - base < 5 * (small - base), (shape, base, small, large)


@pytest.mark.parametrize(
    "code",
    [
        r'from multiprocessing.resource_tracker import main;main("\d\w\s")',
        r'from multiprocessing.forkserver import main; main(5, 6, ["\q"], **{"main_path": "\p"})',
        "from multiprocessing.resource_tracker import main;main(%s)" % ", ".join([r'"\d"'] * 100),
    ],
)
def test_classify_prints_nothing(code, capfd):
    # Python 3.12+ warns of invalid escape sequences while parsing (SyntaxWarning), older versions under -W
    # (DeprecationWarning): the refusal must stay one line, so nothing of the parser's may reach stderr.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        command = classify(*FLAGS, "-c", code)
    assert command.kind == "refused"
    assert caught == [] and capfd.readouterr() == ("", "")
