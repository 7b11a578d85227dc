"""Property tests of classify(): total over any argv, and a worker or helper only for the exact forms.

The second property is checked independently of commands.py's own parser: whatever classify() accepts as a helper
must be, as Python, nothing but an optional `import sys`, one `from M import F` and one call of F whose arguments are
literals (or exactly `sys.argv[1:]`), so that nothing in it could run code even if it were executed.
"""

import ast

from hypothesis import HealthCheck, given, settings, strategies as st

from _oxmp_runtime import commands

EXE = "/opt/app/app"
FLAGS = ["-B", "-S", "-I"]

GENUINE = [
    ["--multiprocessing-fork", "tracker_fd=6", "pipe_handle=8"],
    ["--multiprocessing-fork", "parent_pid=1234", "pipe_handle=880"],
    ["-m", "joblib.externals.loky.backend.popen_loky_posix", "--process-name", "LokyProcess-1", "--pipe", "7"],
    FLAGS + ["-c", "from multiprocessing.resource_tracker import main;main(5)"],
    FLAGS + ["-c", "from multiprocessing.forkserver import main; main(5, 7, ['__main__'], **{'sys_path': ['/m']})"],
    FLAGS
    + [
        "-c",
        "import sys; from multiprocessing.forkserver import main; main(5, 7, ['__main__'], "
        "sys_argv=sys.argv[1:], **{'sys_path': ['/m'], 'main_path': '/m/app.py', 'authkey_r': 9})",
        EXE,
        "--flag",
    ],
    FLAGS + ["-c", "from joblib.externals.loky.backend.resource_tracker import main; main(5, False)"],
    FLAGS
    + [
        "-c",
        "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=6, pipe_handle=8)",
        "--multiprocessing-fork",
    ],
]

# Text from every corner of Unicode, lone surrogates (argv bytes that are not UTF-8) and NUL included.
ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=40)
TOKENS = st.sampled_from(
    [
        "-c",
        "-m",
        "-B",
        "-I",
        "-X",
        "--multiprocessing-fork",
        "pipe_handle=3",
        "tracker_fd=4",
        "parent_pid=1",
        "--pipe",
        "5",
        "from multiprocessing.",
        "main(",
        ")",
        "import sys; ",
    ]
)


def mutated(form, data):
    """A genuine form with one random edit: a character inserted, deleted or replaced, or an argument added."""
    argv = list(form)
    index = data.draw(st.integers(0, len(argv) - 1))
    text = argv[index]
    position = data.draw(st.integers(0, len(text)))
    edit = data.draw(st.sampled_from(["insert", "delete", "replace", "append", "insert-text"]))
    if edit == "insert":
        argv[index] = text[:position] + data.draw(st.characters()) + text[position:]
    elif edit == "insert-text":
        argv[index] = (
            text[:position]
            + data.draw(
                st.sampled_from(
                    ["; import os", ", **{}", "(", "__import__('os')", "[0]", " ", "'x'", "1", "main", ", 3"]
                )
            )
            + text[position:]
        )
    elif edit == "delete":
        argv[index] = text[:position] + text[position + 1 :]
    elif edit == "replace" and text:
        position = min(position, len(text) - 1)
        argv[index] = text[:position] + data.draw(st.characters()) + text[position + 1 :]
    else:
        argv.insert(data.draw(st.integers(0, len(argv))), data.draw(ANY_TEXT))
    return argv


def only_literal_calls(code):
    """Independent of commands.py: is ``code`` an optional `import sys`, one `from M import F`, one call F(literals)?"""
    body = ast.parse(code).body
    if body and isinstance(body[0], ast.Import):
        assert [alias.name for alias in body[0].names] == ["sys"]
        body = body[1:]
    assert len(body) == 2 and isinstance(body[0], ast.ImportFrom) and isinstance(body[1], ast.Expr)
    function = body[0].names[0].name
    call = body[1].value
    assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == function
    for argument in list(call.args) + [keyword.value for keyword in call.keywords]:
        if is_sys_argv_tail(argument):
            continue
        ast.literal_eval(argument)  # raises for anything that is not a literal
    return True


def is_sys_argv_tail(node):
    # `sys.argv[1:]`, read from the tree (ast.dump() would fail on a number too long to show).
    if not (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "argv"
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "sys"
    ):
        return False
    part = node.slice
    return (
        isinstance(part, ast.Slice)
        and part.upper is None
        and part.step is None
        and isinstance(part.lower, ast.Constant)
        and part.lower.value == 1
    )


def check(argv):
    command = commands.classify([EXE] + argv, platform="linux")
    assert command.kind in ("app", "worker", "helper", "module", "refused")
    if command.kind == "refused":
        assert command.reason and "\n" not in command.reason
    if command.kind == "helper":
        assert only_literal_calls(argv[argv.index("-c") + 1])
        assert (command.module, command.function) in commands.HELPERS
    if command.kind == "worker":
        assert all(value is None or type(value) is int for value in command.kwargs.values())
        assert set(command.kwargs) <= set(commands.WORKER_KEYS)
    if command.kind == "module":
        assert command.module in commands.MODULE_WORKERS
    for _, fd, kind in command.descriptors:
        assert 3 <= fd and kind in commands.DESCRIPTOR_KINDS
    return command


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(ANY_TEXT, TOKENS), max_size=8))
def test_classify_is_total_over_any_argv(argv):
    check(argv)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(GENUINE), st.data())
def test_a_worker_or_helper_only_for_exact_forms(form, data):
    check(mutated(form, data))


def test_the_genuine_forms_are_accepted():
    # Without this, the property above would also hold for a classify() that refused everything.
    assert [check(form).kind for form in GENUINE] == [
        "worker",
        "worker",
        "module",
        "helper",
        "helper",
        "helper",
        "helper",
        "worker",
    ]


# Numbers of any size where a genuine form has a number, written as Python would (decimal, hex, octal, binary, with a
# sign, in a list or a dict): Python 3.11+ refuses to convert more than 4,300 digits to or from text, so a refusal
# that showed such a number would raise instead of being one line.
NUMBER = st.one_of(
    st.integers(),
    st.integers(min_value=10**4300, max_value=10**5000),
    st.integers(min_value=-(2**20000), max_value=2**20000),
)


def decimal(number):
    # str() of a number past the limit raises here too: write one of that size by hand.
    return str(number) if abs(number) < 10**4000 else "9" * 5000


NUMBER_TEXT = st.builds(
    lambda number, form: form(number),
    NUMBER,
    st.sampled_from([decimal, hex, oct, bin, lambda n: "[%s]" % hex(n), lambda n: "{'k': %s}" % hex(n)]),
)
NUMBER_FORMS = [
    "from multiprocessing.resource_tracker import main;main(%s)",
    "from multiprocessing.forkserver import main; main(5, %s, ['__main__'])",
    "from multiprocessing.forkserver import main; main(5, 7, %s)",
    "from multiprocessing.forkserver import main; main(5, 7, [], **{'authkey_r': %s})",
    "from multiprocessing.forkserver import main; main(5, 7, [], sys_path=%s)",
    "from joblib.externals.loky.backend.resource_tracker import main; main(5, %s)",
    "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=6, pipe_handle=%s)",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NUMBER_FORMS), NUMBER_TEXT, st.booleans())
def test_numbers_of_any_size_are_refused_in_one_line(form, number, worker_flag):
    # classify() never raises, however long the number; beyond 18 digits it is refused, in one line of bounded length.
    command = check(FLAGS + ["-c", form % number] + (["--multiprocessing-fork"] if worker_flag else []))
    if command.kind == "refused":
        assert len(command.reason) < 1000


@settings(max_examples=100, deadline=None)
@given(NUMBER)
def test_worker_arguments_of_any_size_are_refused_in_one_line(number):
    for text in (decimal(number), hex(number)):
        command = check(["--multiprocessing-fork", "tracker_fd=6", "pipe_handle=" + text])
        assert command.kind == "refused" or abs(number) < 10**18
        assert command.kind != "refused" or len(command.reason) < 1000
