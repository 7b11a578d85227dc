"""The runtime hook's quick look at start-up (runtime_hooks/rthooks/pyi_rth_oxmp_multiprocessing.py): a process that is
surely the app loads nothing of oxmp's until it imports a multiprocessing library, and every other process takes
boot.run(). The hook file holds copies of a few names of the runtime's, checked here against their sources; its
decision is checked against commands.classify(), which it must never contradict."""

import ast
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from _oxmp_runtime import boot, commands, doctor, libraries
from tests import bundles

RTHOOK = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "runtime_hooks",
    "rthooks",
    "pyi_rth_oxmp_multiprocessing.py",
)


def rthook_names():
    """The names of the runtime hook's function, from its definition alone (the call below it is not run)."""
    with open(RTHOOK) as source:
        module = ast.parse(source.read(), RTHOOK)
    (definition,) = [node for node in module.body if isinstance(node, ast.FunctionDef)]
    namespace = {}
    exec(compile(ast.Module(body=[definition], type_ignores=[]), RTHOOK, "exec"), namespace)
    return namespace["_pyi_rthook"]()


HOOK = rthook_names()


# --- The copies -----------------------------------------------------------------------------------------------------


def test_the_markers_are_every_token_classify_looks_at():
    # -m: loky's workers (commands.MODULE_WORKERS) and the modules a build lists in run_modules.
    assert HOOK["markers"] == set(commands.WORKER_FLAGS) | {"-c", "-m"}


def test_the_doctor_variable_and_the_libraries_are_the_runtimes():
    assert HOOK["doctor_env"] == doctor.DOCTOR_ENV
    assert HOOK["library_names"] == {library.name for library in libraries.LIBRARIES}


def test_the_entry_script_folder_is_the_runtimes(tmp_path):
    # The finder looks for <folder>/_oxmp/entry/<name>.code: entry.CODE_DIR and entry.CODE_SUFFIX.
    from _oxmp_runtime import entry

    code_file = tmp_path.joinpath(*entry.CODE_DIR.split("/")) / ("oxmp_test_copy" + entry.CODE_SUFFIX)
    code_file.parent.mkdir(parents=True)
    code_file.write_bytes(b"")
    assert HOOK["entry_script_finder"](str(tmp_path)).find_spec("oxmp_test_copy").name == "oxmp_test_copy"


# --- The decision ---------------------------------------------------------------------------------------------------

surely_app = HOOK["surely_app"]


@pytest.mark.parametrize(
    "argv",
    [
        ["app"],
        ["app", "--verbose", "input.txt"],
        [],
        ["app", "-mhttp.server"],
        ["app", "-cc", "--multiprocessing-fork=1", "x-c"],
    ],
)
def test_the_app_is_surely_the_app(argv):
    assert surely_app(argv, {"HOME": "/"}, {"sys": sys})
    assert commands.classify(argv).kind == "app"  # the control: classify() agrees


@pytest.mark.parametrize(
    "argv",
    [
        ["app", "--multiprocessing-fork", "tracker_fd=6", "pipe_handle=8"],
        ["app", "--billiard-fork", "pipe_handle=8"],
        ["app", "-m", "loky.backend.popen_loky_posix", "--pipe", "7"],
        ["app", "-m", "ipykernel_launcher", "-f", "kernel.json"],  # a run_modules helper, if the build lists it
        ["app", "-B", "-c", "from multiprocessing.resource_tracker import main;main(5)"],
        ["app", "-c", "settings.toml"],  # the app's own -c: classify() says so, on the full path
        ["app", "input.txt", "--multiprocessing-fork"],  # anywhere: the quick look does not parse
    ],
)
def test_anything_like_a_worker_or_helper_takes_the_full_path(argv):
    assert not surely_app(argv, {}, {})


def test_the_doctor_variable_or_a_library_already_imported_takes_the_full_path():
    assert not surely_app(["app"], {doctor.DOCTOR_ENV: ""}, {})
    for library in libraries.LIBRARIES:
        assert not surely_app(["app"], {}, {library.name: None})


def test_argv_that_is_not_strings_takes_the_full_path():
    assert not surely_app(["app", ["-c"]], {}, {})


ARGV = st.lists(
    st.one_of(
        st.sampled_from(
            sorted(HOOK["markers"])
            + ["-m", "-B", "-I", "pipe_handle=8", "--pipe", "7", "from multiprocessing.", "main(5)", "listed"]
        ),
        st.text(max_size=20),
    ),
    max_size=8,
)


@settings(max_examples=500, deadline=None)
@given(ARGV, st.sampled_from(["linux", "win32", "darwin"]))
def test_the_quick_look_never_contradicts_classify(argv, platform):
    if surely_app(["app"] + argv, {}, {}):
        assert commands.classify(["app"] + argv, platform=platform) is commands.APP
        assert commands.classify(["app"] + argv, platform=platform, run_modules=("listed",)) is commands.APP


# --- What every process gets first ----------------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="descriptors and SIGPIPE are POSIX")
def test_start_like_python_opens_closed_descriptors_and_ignores_sigpipe():
    # In a child started with descriptor 0 closed and SIGPIPE at its default, as PyInstaller 6.0-6.2 leave it.
    code = (
        "import ast, json, os, signal\n"
        "signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
        "before = [os.path.exists('/proc/self/fd/0'), signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL]\n"
        "module = ast.parse(open(%r).read())\n"
        "namespace = {}\n"
        "exec(compile(ast.Module(body=module.body[:1], type_ignores=[]), 'hook', 'exec'), namespace)\n"
        "namespace['_pyi_rthook']()['start_like_python']()\n"
        "print(json.dumps(before + [os.readlink('/proc/self/fd/0'), "
        "signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN]))\n" % RTHOOK
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        universal_newlines=True,
        preexec_fn=lambda: os.close(0),
        check=True,
    )
    assert result.stdout.strip() == '[false, true, "/dev/null", true]'


# --- The watcher ----------------------------------------------------------------------------------------------------


@pytest.fixture
def watcher(monkeypatch):
    """The hook's watcher in sys.meta_path, with boot.watch_libraries() recorded instead."""
    import _thread

    calls = []
    monkeypatch.setattr(boot, "watch_libraries", lambda: calls.append(True))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    found = HOOK["library_watcher"](_thread.allocate_lock())
    sys.meta_path.insert(0, found)
    return found, calls


def test_the_watcher_ignores_other_modules(watcher):
    found, calls = watcher
    assert found.find_spec("json") is None and found.find_spec("multiprocessing.pool") is None
    assert calls == [] and found in sys.meta_path


def test_the_watcher_sets_up_once_at_the_first_library_then_leaves(watcher):
    found, calls = watcher
    spec = found.find_spec("multiprocessing")
    assert spec is not None and spec.name == "multiprocessing"
    assert calls == [True] and found not in sys.meta_path
    found.find_spec("multiprocessing")  # a thread that got it before it left
    assert calls == [True]


# --- after_import: a find_spec() that imports nothing does not use up the hook --------------------------------------


def test_a_find_spec_alone_does_not_use_up_the_hook(tmp_path, monkeypatch):
    import importlib.util

    from _oxmp_runtime.after_import import when_imported

    (tmp_path / "oxmp_fake_watched.py").write_text("value = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    seen = []
    when_imported("oxmp_fake_watched", seen.append)
    try:
        assert importlib.util.find_spec("oxmp_fake_watched") is not None
        assert seen == []
        import oxmp_fake_watched

        assert seen == [oxmp_fake_watched] and oxmp_fake_watched.__loader__.__class__.__name__ != "_CallbackLoader"
        assert not [finder for finder in sys.meta_path if type(finder).__name__ == "_AfterImport"]
    finally:
        sys.modules.pop("oxmp_fake_watched", None)


# --- Real bundles ---------------------------------------------------------------------------------------------------


@pytest.mark.bundle
def test_the_app_loads_nothing_of_oxmps_multiprocessing_runtime_until_it_imports_multiprocessing(builder, run):
    bundle = builder.build("startup_probe")
    assert bundles.only_result(run(bundle)) == {"at_start": []}
    quick = bundles.only_result(run(bundle, "import"))
    assert quick["at_start"] == []
    assert {"_oxmp_runtime.boot", "_oxmp_runtime.commands", "_oxmp_runtime.settings"} <= set(quick["after_import"])
    # The control: an argument of the app's that the quick look cannot tell from a helper's (`-c`) takes the full
    # path, boot.run() before the app's code, which finds the app: multiprocessing ends up configured the same.
    full = bundles.only_result(run(bundle, "-c", "settings.toml", "import"))
    assert {"_oxmp_runtime.boot", "_oxmp_runtime.commands"} <= set(full["at_start"])
    assert quick["freeze_support"] == full["freeze_support"] == "_oxmp_runtime.boot"
    assert quick["start_method"] == full["start_method"]


# --- The runtime hook for inspect and pkgutil -----------------------------------------------------------------------

DEFERRED_RTHOOK = os.path.join(os.path.dirname(RTHOOK), "pyi_rth_oxmp_deferred.py")


def test_the_deferred_hooks_copies_of_names_match_their_owners():
    from _oxmp_runtime import deferred
    from oxmp_hooks import deferred as build_side

    with open(DEFERRED_RTHOOK) as source:
        text = source.read()
    assert "module_names = (%s)" % ", ".join('"%s"' % name for name in build_side.MODULES) in text
    assert "os.path.join(sys._MEIPASS, %s)" % ", ".join('"%s"' % part for part in deferred.CODE_DIR.split("/")) in text
    assert '"%s.%s.marshal" % (module_name, when)' in text and deferred.code_name("M", "W") == "M.W.marshal"
    for when in (deferred.AT_FIRST_IMPORT, deferred.AT_START):
        assert 'has_code(module_name, "%s")' % when in text


def test_one_runtime_hook_file_serves_inspect_and_pkgutil():
    import ast

    from oxmp_hooks import RUNTIME_HOOKS_DIR, deferred as build_side

    with open(os.path.join(RUNTIME_HOOKS_DIR, "rthooks.dat")) as dat:
        rthooks = ast.literal_eval(dat.read())
    assert {name: rthooks[name] for name in build_side.MODULES} == {
        name: [os.path.basename(DEFERRED_RTHOOK)] for name in build_side.MODULES
    }


# Runs the inspect hook in a new interpreter (where nothing has imported inspect yet), in a fake bundle folder whose
# PyInstaller hook code, in the file deferred.code_path() names, marks the module; then reports what is loaded.
DEFERRED_RTHOOK_PROBE = """\
import json, os, sys
sys._MEIPASS = sys.argv[1]
sys.path.insert(0, sys.argv[3])  # where _oxmp_runtime is, as in a bundle's archive
loaded = lambda: sorted(name for name in sys.modules if name.startswith("_oxmp_runtime") or name == "inspect")
exec(compile(open(sys.argv[2]).read(), sys.argv[2], "exec"), {"__name__": "__main__"})
at_start = loaded()
import inspect
print(json.dumps({"at_start": at_start, "after_import": loaded(), "patched": getattr(inspect, "oxmp_patched", False),
                  "finders_left": [str(finder) for finder in sys.meta_path if "watcher" in str(finder)]}))
"""


@pytest.mark.parametrize("when", ["first-import", "start-up", None])
def test_the_inspect_hook_waits_for_the_first_import_with_nothing_loaded(tmp_path, when):
    from _oxmp_runtime import deferred
    from oxmp_hooks import deferred as build_side

    hook = tmp_path / "pyi_rth_fake.py"
    hook.write_text("import inspect\ninspect.oxmp_patched = True\n")
    meipass = tmp_path / "meipass"
    if when is not None:
        assert when in (deferred.AT_FIRST_IMPORT, deferred.AT_START)
        build_side.write_code("inspect", when, [str(hook)], str(meipass / "_oxmp"))
        assert os.path.isfile(
            os.path.join(str(meipass), *deferred.CODE_DIR.split("/"), deferred.code_name("inspect", when))
        )
    child = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            DEFERRED_RTHOOK_PROBE,
            str(meipass),
            DEFERRED_RTHOOK,
            os.path.dirname(os.path.dirname(deferred.__file__)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert report["finders_left"] == []
    if when == "first-import":
        assert report["at_start"] == []
        assert report["after_import"] == [
            "_oxmp_runtime",
            "_oxmp_runtime.after_import",
            "_oxmp_runtime.deferred",
            "inspect",
        ]
        assert report["patched"] is True
    elif when == "start-up":
        assert report["at_start"] == ["_oxmp_runtime", "_oxmp_runtime.deferred", "inspect"]
        assert report["patched"] is True
    else:
        assert "PyInstaller's runtime hook for inspect or pkgutil is missing" in child.stderr
        assert report["patched"] is False
