"""oxmp's benchmark: what oxmp costs at start-up, in pools and workers, and at build time, beside stock PyInstaller.

    python benchmarks/bench.py [--quick] [--json PATH] [--stock-python PATH] [--keep] [--only GROUPS]
                               [--build-pairs N]

It builds the apps in benchmarks/apps/ with oxmp (the Python running this script, where oxmp is installed) and with
stock PyInstaller (a new virtualenv with the same PyInstaller and no oxmp), runs every bundle contained
(tests/contain.py), interleaves the variants it compares, and prints one table of medians and their ratios:

  P1  start-up of hello.py, which has multiprocessing in its graph but never imports it: wall time of the whole process,
      from outside. Baseline: the same script built with excludes=["multiprocessing"] (the same file, so that the
      graph is the only difference). P1 is shown again against hello_floor.py, which has what bundling multiprocessing
      brings into PyInstaller's start-up besides multiprocessing itself (ctypes, which PyInstaller's bootstrap imports
      to install its ctypes hooks; pkgutil, whose runtime hook oxmp defers) and no multiprocessing: the rest is oxmp's
      own cost, with one exception: the archive's table of contents, larger with multiprocessing's graph, which
      PyInstaller's bootstrap reads at every start. P1'' is P1 against the exact floor: the oxmp bundle of hello.py
      built from a spec that takes oxmp's multiprocessing runtime hook out of the scripts the bootloader runs.
  P2  Pool(2) start plus its first map, timed inside mp_bench.py, per start method. Baseline: the same script under
      plain python.
  P3  one Process start to its first message, timed inside mp_bench.py, per start method. Baseline: plain python.
  P4  build time of mp_bench.py (the PyInstaller process), oxmp / stock PyInstaller, built alternately; the ratio is
      the median of each pair's ratio, so that the machine's load drifting between pairs cancels out. P4' the CPU
      time of the same builds, which a busy machine disturbs less.
  P5  P1, P2 and P3 again for onefile bundles (not with --quick).
  B1  what bounds P2 and P3 for spawn and forkserver, where every worker or helper is a new process of the bundle: a
      bundle of an empty script against `python empty.py`, built with oxmp and with stock PyInstaller. Stock runs
      PyInstaller's inspect runtime hook at every start-up (it imports inspect and zipfile and reads
      base_library.zip); oxmp runs the same hook when the app first imports inspect (defer_pyinstaller_hooks).
  B2  the same bundle built without `inspect`, so without any inspect runtime hook, PyInstaller's or oxmp's: the
      bootloader's and the interpreter's own start-up, the floor under B1.
  A1  hello started with a 190,000-item argv that ends in a helper's `-c` text: oxmp reads every item and refuses it;
      stock PyInstaller runs hello. Baseline: hello without multiprocessing, with the same argv.

Beside the wall times, the instructions of the same processes, counted with valgrind's callgrind (where valgrind is
installed), for P1, P1', P1'', the P3 spawn worker (mp_bench's one-worker figure: the worker process alone) and B1, B2:
wall times on a shared machine vary by tens of percent from run to run; an instruction count repeats.

"Plain python" is the stock virtualenv's interpreter: like the bundles, it pays nothing for this checkout's editable
install at start-up. mp_bench.py calls freeze_support() first, as stock PyInstaller needs (a no-op under python on
POSIX and under oxmp), so the three run the same code. --json PATH writes the table's data, samples included.
"""

import argparse
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# As the tests' pythonpath: tests.bundles reads _oxmp_runtime.settings.
sys.path[:0] = [REPO, os.path.join(REPO, "runtime_hooks")]

from _oxmp_runtime.commands import WORKER_FLAG  # noqa: E402
from tests import bundles  # noqa: E402

APPS_DIR = os.path.join(REPO, "benchmarks", "apps")
METHODS = bundles.START_METHODS  # POSIX only (see main): fork, forkserver, spawn
OXMP, STOCK, BASELINE = "oxmp", "stock", "baseline"

# Room for the app's processes under the contained run's process cap, which also counts the processes other runs of
# the same unprivileged user have when the run starts: a cap that binds too early would show up as slow forks.
MAX_PROCS = 64
RUN_TIMEOUT = 120

# Runs the commands given after the schedule (a list of their indexes) in the schedule's order and times each. bash's
# $EPOCHREALTIME is a microsecond clock, and bash waits for each command without polling: contain.run() waits with
# growing sleeps, too coarse for processes that live 30 ms.
TIMING_LOOP = r"""
schedule=$1; shift
for i in $schedule; do
  command=${@:i+1:1}
  start=$EPOCHREALTIME
  eval "$command" > /dev/null || echo "FAILED $i"
  end=$EPOCHREALTIME
  echo "TIME $i $start $end"
done
"""
TIMING_BATCH_ROUNDS = 25  # rounds per contained run of the loop
CAP_HIT = "Resource temporarily unavailable"  # what bash and Python say when fork() fails at the process cap


class BenchmarkError(Exception):
    pass


class Plan:
    """How many repetitions: enough for stable medians on a busy 2-core machine, or what --quick can afford."""

    def __init__(self, quick):
        self.quick = quick
        self.startup_rounds = 60 if quick else 300
        self.bound_rounds = 30 if quick else 150
        self.long_argv_rounds = 5 if quick else 20
        self.pool_runs = 5 if quick else 30
        self.worker_runs = 4 if quick else 12  # each run times mp_bench.WORKER_SAMPLES worker starts
        self.build_pairs = 4 if quick else 20
        self.onefile = not quick
        self.onefile_startup_rounds = 100
        self.onefile_pool_runs = 10
        self.onefile_worker_runs = 8
        self.instruction_runs = 2 if quick else 3  # per bundle: the counts repeat, the runs only show that they do


# --- Progress and the machine ----------------------------------------------------------------------------------------

STARTED = time.monotonic()


def progress(message):
    sys.stderr.write("[%6.1fs] %s\n" % (time.monotonic() - STARTED, message))
    sys.stderr.flush()


def machine_facts():
    import PyInstaller

    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "pyinstaller": PyInstaller.__version__,
        "load_average_before": os.getloadavg(),
    }


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# --- Building -------------------------------------------------------------------------------------------------------


class Bundles:
    """Every bundle the benchmark runs, each built once."""

    def __init__(self, builder):
        self.builder = builder

    def get(self, app, stock=False, onefile=False, excludes=()):
        name = "-".join(
            [app, STOCK if stock else OXMP, "onefile" if onefile else "onedir"]
            + ["no-" + module for module in excludes]
        )
        progress("building %s" % name)
        return self.builder.build(
            app, way=bundles.STOCK if stock else bundles.ENTRY_POINT, onefile=onefile, name=name, excludes=excludes
        )


def hello_bundles(built, onefile):
    """P1's bundles, with checks that each has exactly the multiprocessing runtime hook the comparison assumes."""
    hello = {
        OXMP: built.get("hello", onefile=onefile),
        STOCK: built.get("hello", stock=True, onefile=onefile),
        BASELINE: built.get("hello", onefile=onefile, excludes=["multiprocessing"]),
    }
    expect_runtime_hook(hello[OXMP], "pyi_rth_oxmp_multiprocessing")
    expect_runtime_hook(hello[STOCK], "pyi_rth_multiprocessing")
    expect_runtime_hook(hello[BASELINE], None)
    return hello


def expect_runtime_hook(bundle, wanted):
    # A comparison between the wrong bundles would still print plausible figures: check what the build log says.
    found = [
        hook
        for hook in ("pyi_rth_oxmp_multiprocessing", "pyi_rth_multiprocessing")
        if "Including run-time hook %r" % (hook + ".py") in bundle.log
    ]
    if found != ([wanted] if wanted else []):
        raise BenchmarkError(
            "%s: expected multiprocessing runtime hook %s, the build log has %s"
            % (bundle.name, wanted, found or "none")
        )


# --- Running --------------------------------------------------------------------------------------------------------


def time_commands(commands, rounds, workdir, privileged=False):
    """Wall time in seconds of each command (an argv), ``rounds`` times each, interleaved: one list per command.

    ``privileged``: some command is the machine's python, which the unprivileged user may not read; contain the loop
    with the process-count watchdog instead. Otherwise the unprivileged user's process cap binds already, and no
    watchdog polls /proc beside the timed processes.
    """
    quoted = [" ".join(shlex.quote(arg) for arg in argv) for argv in commands]
    shuffler = random.Random(len(commands))
    run_timing_batch(quoted, 1, shuffler, workdir, privileged)  # warm-up: page cache, first-run effects
    times = [[] for _ in commands]
    done = 0
    while done < rounds:
        batch = min(TIMING_BATCH_ROUNDS, rounds - done)
        for index, seconds in run_timing_batch(quoted, batch, shuffler, workdir, privileged):
            times[index].append(seconds)
        done += batch
    return times


def run_timing_batch(quoted, rounds, shuffler, workdir, privileged, attempts=3):
    """One contained run of TIMING_LOOP: a list of (command index, seconds).

    Each round runs every command once, in a new random order: none always runs first, or right after the same other.
    """
    schedule = []
    for _ in range(rounds):
        schedule += shuffler.sample(range(len(quoted)), len(quoted))
    for _ in range(attempts):
        result = bundles.run(
            ["/bin/bash", "-c", TIMING_LOOP, "bash", " ".join(map(str, schedule))] + quoted,
            root=workdir,
            timeout=RUN_TIMEOUT + len(schedule) * 5,
            max_procs=MAX_PROCS,
            linger=0.5,
            unprivileged=not privileged,
            watch=privileged,
        )
        if CAP_HIT in result.stderr:
            progress("  a fork hit the process cap (other processes of the same user): repeating the batch")
            continue
        failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
        if result.returncode != 0 or failed or result.timed_out:
            raise BenchmarkError("timing loop failed (%s): %r" % (", ".join(failed) or "status", result))
        return [parse_time_line(line) for line in result.stdout.splitlines() if line.startswith("TIME ")]
    raise BenchmarkError("the process cap was hit %d times in a row: %r" % (attempts, result))


def parse_time_line(line):
    # "TIME index start end", the clock in seconds with exactly six decimals.
    _, index, start, end = line.split()
    return int(index), (int(end.replace(".", "")) - int(start.replace(".", ""))) / 1e6


def app_seconds(argv, workdir, privileged=False, attempts=2):
    """Run one of mp_bench's figures contained and return the seconds it printed (a list)."""
    for _ in range(attempts):
        # The watchdog is on for every run here, frozen or not: plain python needs it, and it must perturb both sides
        # of a ratio alike.
        result = bundles.run(
            argv,
            root=workdir,
            timeout=RUN_TIMEOUT,
            max_procs=MAX_PROCS,
            linger=0.5,
            unprivileged=not privileged,
            watch=True,
        )
        if CAP_HIT in result.stderr:
            progress("  a fork hit the process cap (other processes of the same user): repeating the run")
            continue
        found = bundles.results(result)
        if result.returncode != 0 or len(found) != 1:
            raise BenchmarkError("%s failed: %r" % (" ".join(argv), result))
        return found[0]["seconds"]
    raise BenchmarkError("the process cap was hit %d times in a row: %r" % (attempts, result))


# Instruction counts: the whole process (and each child), under valgrind's callgrind. Unlike wall time, they do not
# drift with the machine's load: the same run repeats to within about 0.2%.
VALGRIND = "valgrind"
INSTRUCTION_RUN_TIMEOUT = 600  # callgrind runs a process some 50 times slower


def can_count_instructions():
    return shutil.which(VALGRIND) is not None


def count_instructions(argv, workdir, privileged=False, statuses=(0,)):
    """Run ``argv`` contained under callgrind, its children too: a list of (command line, instructions) per process.
    ``statuses``: the exit statuses that mean it did what was measured."""
    cwd = bundles.scratch_dir(workdir)
    valgrind = [
        shutil.which(VALGRIND),
        "--tool=callgrind",
        "--trace-children=yes",
        "--callgrind-out-file=" + os.path.join(cwd, "callgrind.%p"),
    ]
    # linger: helpers (a resource tracker) exit once the app has, slowly under callgrind.
    result = bundles.run(
        valgrind + list(argv),
        cwd=cwd,
        timeout=INSTRUCTION_RUN_TIMEOUT,
        max_procs=MAX_PROCS,
        linger=5,
        unprivileged=not privileged,
        watch=privileged,
    )
    if result.returncode not in statuses or result.timed_out:
        raise BenchmarkError("%s under callgrind failed: %r" % (" ".join(argv), result))
    counts = []
    for name in sorted(os.listdir(cwd)):
        if name.startswith("callgrind."):
            command, total = read_callgrind_totals(os.path.join(cwd, name))
            if total is not None:  # None: a helper stopped by the contained run's end before it could exit
                counts.append((command, total))
    shutil.rmtree(cwd, ignore_errors=True)
    return counts


def read_callgrind_totals(path):
    """(command line, instructions) from a callgrind output file's ``cmd:`` and ``summary:`` (or ``totals:``) lines;
    the instructions are None where the process was killed before it exited (callgrind writes them at exit)."""
    command, total = "", None
    with open(path, errors="replace") as out:
        for line in out:
            if line.startswith("cmd:"):
                command = line[4:].strip()
            elif line.startswith(("summary:", "totals:")) and total is None:
                total = int(line.split()[1])
    return command, total


def instructions_of_whole_runs(commands, runs, workdir, privileged=(), statuses=None):
    """Instructions of each command's first process (the one started), ``runs`` times each, interleaved;
    ``statuses``: per command, the exit statuses it may end with (default: 0)."""
    counts = [[] for _ in commands]
    for _ in range(runs):
        for index, argv in enumerate(commands):
            found = count_instructions(
                argv, workdir, privileged=index in privileged, statuses=statuses[index] if statuses else (0,)
            )
            # The process started is the one whose command line is argv's; a hello bundle starts no other.
            counts[index].append(found_for(found, argv)[0])
    return counts


def found_for(found, argv):
    # callgrind names a process by its executable's real path (a virtualenv's python resolved) and its arguments.
    wanted = " ".join(argv[1:])
    matching = [total for command, total in found if (command.split(" ", 1) + [""])[1] == wanted]
    if len(matching) != 1:
        raise BenchmarkError("callgrind counted %d processes like %r: %r" % (len(matching), argv, found))
    return matching


def worker_totals(found):
    """The instructions of each spawn worker among the processes of one run (both of its command-line forms)."""
    return [total for command, total in found if WORKER_FLAG in command.split()]


def rotated(items, shift):
    shift %= len(items)
    return items[shift:] + items[:shift]


# --- The figures ----------------------------------------------------------------------------------------------------


class Row:
    """One line of the table: samples (seconds) of oxmp, stock and the baseline, and the target for oxmp's ratio."""

    def __init__(self, key, label, unit, oxmp, stock, baseline, target=None, paired=False, instructions=None):
        self.key = key
        self.label = label
        self.unit = unit  # "ms" or "s"
        self.samples = {OXMP: oxmp, STOCK: stock, BASELINE: baseline}
        self.target = target
        # The i-th sample of each variant was taken together (one pair of builds): the ratio is the median of the
        # pairs' ratios, and its interval is over pairs.
        self.paired = paired
        # {variant: [instruction counts]} of the same processes, or None where they were not counted.
        self.instructions = instructions


def startup_rows(built, plan, workdir, onefile):
    """P1 (and P5's P1): the hello bundles, timed from outside, interleaved; and their instructions (onedir)."""
    hello = hello_bundles(built, onefile)
    variants = [OXMP, STOCK, BASELINE]
    if not onefile:
        hello[FLOOR] = built.get("hello_floor")
        expect_runtime_hook(hello[FLOOR], None)
        hello[WITHOUT_HOOK] = hello_without_runtime_hook(built.builder, workdir)
        variants += [FLOOR, WITHOUT_HOOK]
    for variant in variants:
        check_hello(hello[variant], workdir)
    rounds = plan.onefile_startup_rounds if onefile else plan.startup_rounds
    kind = "onefile" if onefile else "onedir"
    progress("P1 %s: %d rounds of %s" % (kind, rounds, ", ".join(variants)))
    times = dict(zip(variants, time_commands([[hello[variant].exe] for variant in variants], rounds, workdir)))
    counts = {}
    if not onefile and can_count_instructions():
        progress(
            "P1 %s: instructions of %s, %d runs each (callgrind)" % (kind, ", ".join(variants), plan.instruction_runs)
        )
        counts = dict(
            zip(
                variants,
                instructions_of_whole_runs(
                    [[hello[variant].exe] for variant in variants], plan.instruction_runs, workdir
                ),
            )
        )

    def instructions(baseline):
        return {OXMP: counts[OXMP], STOCK: counts[STOCK], BASELINE: counts[baseline]} if counts else None

    rows = [
        Row(
            "P5:P1" if onefile else "P1",
            "start-up of hello",
            "ms",
            times[OXMP],
            times[STOCK],
            times[BASELINE],
            target=None if onefile else 1.02,
            instructions=instructions(BASELINE),
        )
    ]
    if not onefile:
        rows.append(
            Row(
                "P1'",
                "start-up of hello, against the floor",
                "ms",
                times[OXMP],
                times[STOCK],
                times[FLOOR],
                instructions=instructions(FLOOR),
            )
        )
        rows.append(
            Row(
                "P1''",
                "start-up of hello, against it without the hook",
                "ms",
                times[OXMP],
                times[STOCK],
                times[WITHOUT_HOOK],
                target=1.02,
                instructions=instructions(WITHOUT_HOOK),
            )
        )
    return rows


FLOOR, WITHOUT_HOOK = "floor", "without hook"
OXMP_RUNTIME_HOOK = "pyi_rth_oxmp_multiprocessing"

# The oxmp bundle of hello.py as a spec builds it, but with oxmp's multiprocessing runtime hook taken out of the
# scripts the bootloader runs: the very same archive (PyInstaller reads its table of contents at every start, and
# multiprocessing's graph makes it larger), the same other runtime hooks. The exact floor under oxmp's hook.
WITHOUT_HOOK_SPEC = """\
a = Analysis([os.path.join(SPECPATH, "hello.py")])
a.scripts = [entry for entry in a.scripts if entry[0] != {hook!r}]
pyz = PYZ(a.pure)
exe = EXE(pyz, a.scripts, [], exclude_binaries=True, name={name!r}, console=True)
coll = COLLECT(exe, a.binaries, a.datas, name={name!r})
"""


def hello_without_runtime_hook(builder, workdir):
    name = "hello_without_hook"
    progress("building %s" % name)
    source = tempfile.mkdtemp(dir=workdir, prefix="spec-")
    shutil.copy(os.path.join(APPS_DIR, "hello.py"), source)
    spec = os.path.join(source, name + ".spec")
    with open(spec, "w") as spec_file:
        spec_file.write(WITHOUT_HOOK_SPEC.format(hook=OXMP_RUNTIME_HOOK, name=name))
    bundle = builder.build_spec(spec)
    # The build log names the hook (Analysis found it); the executable's archive must not hold it.
    from PyInstaller.archive.readers import CArchiveReader

    if OXMP_RUNTIME_HOOK in CArchiveReader(bundle.exe).toc:
        raise BenchmarkError("%s still has %s" % (bundle.name, OXMP_RUNTIME_HOOK))
    return bundle


def check_hello(bundle, workdir):
    result = bundles.run(bundle, root=workdir, timeout=RUN_TIMEOUT, max_procs=MAX_PROCS, watch=False)
    if result.returncode != 0 or result.stdout != "hello\n":
        raise BenchmarkError("%s does not say hello: %r" % (bundle.name, result))


def bound_rows(built, plan, workdir, plain_python):
    """B1 and B2: the start-up of a bundle that does nothing, with oxmp and stock PyInstaller, and without inspect."""
    empty = built.get("empty")
    stock_empty = built.get("empty", stock=True)
    without_inspect = built.get("empty", excludes=["inspect"])

    # A comparison of the wrong bundles would still print plausible figures: check the runtime hooks each has for
    # inspect. PyInstaller logs a hook once for each of its modules in the bundle, and oxmp's serves inspect and
    # pkgutil: the bundle without inspect names it once less.
    def logged(bundle, hook):
        return bundle.log.count("Including run-time hook %r" % hook)

    oxmp_hook, stock_hook = "pyi_rth_oxmp_deferred.py", "pyi_rth_inspect.py"
    found = [
        (logged(bundle, oxmp_hook), logged(bundle, stock_hook)) for bundle in (empty, stock_empty, without_inspect)
    ]
    if not (
        found[0][0] >= 1 and found[1] == (0, 1) and found[2][0] == found[0][0] - 1 and found[0][1] == found[2][1] == 0
    ):
        raise BenchmarkError(
            "expected %s in %s, %s in %s, and %s once less in %s; (times logged, %s, %s): %s"
            % (
                oxmp_hook,
                empty.name,
                stock_hook,
                stock_empty.name,
                oxmp_hook,
                without_inspect.name,
                oxmp_hook,
                stock_hook,
                found,
            )
        )
    commands = [
        [empty.exe],
        [stock_empty.exe],
        [without_inspect.exe],
        [plain_python, os.path.join(APPS_DIR, "empty.py")],
    ]
    progress("B1, B2: %d rounds of the empty bundles and python empty.py" % plan.bound_rounds)
    empty_times, stock_times, without_inspect_times, plain_times = time_commands(
        commands, plan.bound_rounds, workdir, privileged=True
    )
    counts = [None] * 4
    if can_count_instructions():
        progress("B1, B2: instructions, %d runs each (callgrind)" % plan.instruction_runs)
        counts = instructions_of_whole_runs(commands, plan.instruction_runs, workdir, privileged={3})
    empty_counts, stock_counts, without_inspect_counts, plain_counts = counts
    return [
        Row(
            "B1",
            "start-up of an empty script",
            "ms",
            empty_times,
            stock_times,
            plain_times,
            target=1.3,
            instructions=empty_counts and {OXMP: empty_counts, STOCK: stock_counts, BASELINE: plain_counts},
        ),
        Row(
            "B2",
            "the same without inspect (no inspect hook)",
            "ms",
            without_inspect_times,
            None,
            plain_times,
            instructions=empty_counts and {OXMP: without_inspect_counts, STOCK: None, BASELINE: plain_counts},
        ),
    ]


# A1's command line: a helper's `-c` text after 190,000 interpreter flags, each of which classify() must read. oxmp
# refuses it (one line, exit status 2); stock PyInstaller's hook looks only for its worker flag, and the hello bundle
# runs. In bytes, 570 KB: within Linux's limit on a whole argv (2 MB by default), in strings of 2 bytes.
LONG_ARGV = ["-B"] * 190000 + ["-c", "from multiprocessing.resource_tracker import main;main(5)"]
REFUSED_STATUS = 2


def long_argv_rows(built, plan, workdir):
    """A1: the hello bundles started with LONG_ARGV; wall time of the contained run (the runner's own cost, the same
    for each, included), interleaved, and instructions. Linear handling costs oxmp about what the bootloader and Python
    pay to take in such an argv; quadratic handling cost several times the baseline."""
    hello = hello_bundles(built, onefile=False)
    variants = [OXMP, STOCK, BASELINE]
    statuses = {OXMP: (REFUSED_STATUS,), STOCK: (0,), BASELINE: (0,)}
    times = {variant: [] for variant in variants}
    progress("A1: %d rounds of hello with a 190,000-item argv" % plan.long_argv_rounds)
    for round_index in range(plan.long_argv_rounds):
        for variant in rotated(variants, round_index):
            start = time.perf_counter()
            result = bundles.run(
                hello[variant],
                *LONG_ARGV,
                root=workdir,
                timeout=RUN_TIMEOUT,
                max_procs=MAX_PROCS,
                watch=False,
                linger=0,
            )
            times[variant].append(time.perf_counter() - start)
            if result.returncode not in statuses[variant] or result.timed_out:
                raise BenchmarkError("A1: %s ended with %r" % (variant, result))
    counts = None
    if can_count_instructions():
        progress("A1: instructions, %d runs each (callgrind)" % plan.instruction_runs)
        found = instructions_of_whole_runs(
            [[hello[variant].exe] + LONG_ARGV for variant in variants],
            plan.instruction_runs,
            workdir,
            statuses=[statuses[variant] for variant in variants],
        )
        counts = dict(zip(variants, found))
    return [
        Row(
            "A1",
            "190,000 flags before -c (oxmp refuses it)",
            "ms",
            times[OXMP],
            times[STOCK],
            times[BASELINE],
            instructions=counts,
        )
    ]


# oxmp's ratio to plain python that P2 and P3 aim at, per start method. fork starts no new process of the bundle, and a
# forkserver worker is forked from the forkserver: near parity. A spawn worker, and the helpers and workers a spawn or
# forkserver Pool starts, are new processes of the bundle and pay its start-up (B1) each.
DEFAULT_MP_TARGET = 1.05
TARGETS = {("P2", "spawn"): 1.2, ("P2", "forkserver"): 1.2, ("P3", "spawn"): 1.15}


def multiprocessing_rows(built, plan, workdir, plain_python, onefile):
    """P2 and P3 (and P5's): mp_bench under oxmp, stock and plain python, per start method, interleaved."""
    app = {OXMP: built.get("mp_bench", onefile=onefile), STOCK: built.get("mp_bench", stock=True, onefile=onefile)}
    argv = {
        OXMP: [app[OXMP].exe],
        STOCK: [app[STOCK].exe],
        BASELINE: [plain_python, os.path.join(APPS_DIR, "mp_bench.py")],
    }
    kind = "onefile" if onefile else "onedir"
    prefix = "P5:" if onefile else ""
    shuffler = random.Random(1 + onefile)
    rows = []
    for figure, key, label, runs in (
        ("pool", "P2", "Pool(2) start + first map", plan.onefile_pool_runs if onefile else plan.pool_runs),
        ("worker", "P3", "worker start to first message", plan.onefile_worker_runs if onefile else plan.worker_runs),
    ):
        samples = {(method, variant): [] for method in METHODS for variant in argv}
        for run in range(runs):
            progress("%s%s %s: run %d of %d (each method: oxmp, stock, python)" % (prefix, key, kind, run + 1, runs))
            for method in METHODS:
                for variant in shuffler.sample([OXMP, STOCK, BASELINE], 3):  # a new order each time
                    samples[method, variant] += app_seconds(
                        argv[variant] + [figure, method], workdir, privileged=variant == BASELINE
                    )
        counts = None
        if key == "P3" and not onefile and can_count_instructions():
            counts = worker_instructions(argv, plan.instruction_runs, workdir)
        for method in METHODS:
            rows.append(
                Row(
                    prefix + key,
                    "%s, %s" % (label, method),
                    "ms",
                    samples[method, OXMP],
                    samples[method, STOCK],
                    samples[method, BASELINE],
                    target=None if onefile else TARGETS.get((key, method), DEFAULT_MP_TARGET),
                    instructions=counts if method == INSTRUCTIONS_METHOD else None,
                )
            )
    return rows


# The start method whose worker is a new process of the bundle, started by its command line: oxmp's runtime hook and
# dispatch run in it, as PyInstaller's bootloader and bootstrap do.
INSTRUCTIONS_METHOD = "spawn"


def worker_instructions(argv, runs, workdir):
    """{variant: instructions of each spawn worker}: mp_bench one-worker under callgrind, oxmp, stock and python."""
    counts = {variant: [] for variant in argv}
    for run in range(runs):
        progress(
            "P3: instructions of a %s worker, run %d of %d (oxmp, stock, python; callgrind)"
            % (INSTRUCTIONS_METHOD, run + 1, runs)
        )
        for variant in (OXMP, STOCK, BASELINE):
            found = count_instructions(
                argv[variant] + ["one-worker", INSTRUCTIONS_METHOD], workdir, privileged=variant == BASELINE
            )
            workers = worker_totals(found)
            if len(workers) != 1:
                raise BenchmarkError("expected one worker, callgrind counted %r" % found)
            counts[variant] += workers
    return counts


def build_rows(workdir, stock_python, pairs):
    """P4: fresh builds of mp_bench.py, oxmp and stock alternately (after the warm-up the other figures' builds are).

    Beside the wall time, the CPU time of the build's processes: on a busy machine it varies less.
    """
    wall = {OXMP: [], STOCK: []}
    cpu = {OXMP: [], STOCK: []}
    for pair in range(pairs):
        for variant in rotated([OXMP, STOCK], pair):
            progress("P4: build %d of %d, %s" % (pair + 1, pairs, variant))
            # A new Builder each time: a Builder builds each distinct bundle only once.
            builder = bundles.Builder(workdir, stock_python, apps_dir=APPS_DIR)
            cpu_before = children_cpu_seconds()
            bundle = builder.build(
                "mp_bench",
                way=bundles.STOCK if variant == STOCK else bundles.ENTRY_POINT,
                name="build-time-%s-%d" % (variant, pair),
            )
            cpu[variant].append(children_cpu_seconds() - cpu_before)
            wall[variant].append(bundle.build_seconds)
            shutil.rmtree(os.path.dirname(os.path.dirname(bundle.exe)), ignore_errors=True)  # its dist/, 40 MB
    return [
        Row("P4", "build time of mp_bench", "s", wall[OXMP], None, wall[STOCK], target=1.03, paired=True),
        Row("P4'", "the same, CPU time (user + system)", "s", cpu[OXMP], None, cpu[STOCK], paired=True),
    ]


def children_cpu_seconds():
    """CPU time of this process's children that have ended (a build: PyInstaller and the processes it ran)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- Statistics and the table ---------------------------------------------------------------------------------------

BOOTSTRAP_RESAMPLES = 1000


def ratio_interval(values, baseline, seed=7):
    """A 95% bootstrap interval of median(values) / median(baseline)."""
    rng = random.Random(seed)
    ratios = sorted(
        statistics.median(rng.choices(values, k=len(values)))
        / statistics.median(rng.choices(baseline, k=len(baseline)))
        for _ in range(BOOTSTRAP_RESAMPLES)
    )
    return ratios[int(0.025 * BOOTSTRAP_RESAMPLES)], ratios[int(0.975 * BOOTSTRAP_RESAMPLES) - 1]


def paired_ratio(values, baseline, seed=7):
    """The median of the pairs' ratios values[i] / baseline[i], and a 95% bootstrap interval of it."""
    pairs = [value / base for value, base in zip(values, baseline)]
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(pairs, k=len(pairs))) for _ in range(BOOTSTRAP_RESAMPLES))
    return statistics.median(pairs), (
        medians[int(0.025 * BOOTSTRAP_RESAMPLES)],
        medians[int(0.975 * BOOTSTRAP_RESAMPLES) - 1],
    )


def summarize(row):
    scale = 1e3 if row.unit == "ms" else 1.0
    summary = {"key": row.key, "label": row.label, "unit": row.unit, "target": row.target}
    for variant, samples in row.samples.items():
        summary[variant] = (
            None
            if samples is None
            else {
                "median": statistics.median(samples) * scale,
                "n": len(samples),
                "samples": [x * scale for x in samples],
            }
        )
    baseline = row.samples[BASELINE]
    for variant in (OXMP, STOCK):
        samples = row.samples[variant]
        if samples is None:
            summary[variant + "_ratio"] = None
            continue
        if row.paired:
            value, (low, high) = paired_ratio(samples, baseline)
        else:
            value = statistics.median(samples) / statistics.median(baseline)
            low, high = ratio_interval(samples, baseline)
        summary[variant + "_ratio"] = {"value": value, "interval": [low, high]}
    summary["instructions"] = summary["instructions_ratio"] = None
    if row.instructions:
        medians = {
            variant: None if counts is None else statistics.median(counts)
            for variant, counts in row.instructions.items()
        }
        summary["instructions"] = {
            variant: None if counts is None else {"median": medians[variant], "samples": counts}
            for variant, counts in row.instructions.items()
        }
        summary["instructions_ratio"] = {
            OXMP: medians[OXMP] / medians[BASELINE],
            STOCK: None if medians[STOCK] is None else medians[STOCK] / medians[BASELINE],
            OXMP + "/" + STOCK: None if medians[STOCK] is None else medians[OXMP] / medians[STOCK],
        }
    if row.target is not None:
        ratio = summary[OXMP + "_ratio"]
        summary["met"] = ratio["value"] <= row.target
        # Whether the interval says it: all of it on one side of the target.
        summary["decided"] = ratio["interval"][1] <= row.target or ratio["interval"][0] > row.target
    return summary


COLUMNS = "%-7s %-48s %10s %10s %10s  %-22s %-22s %-21s %s"


def format_table(summaries, facts):
    lines = [
        "oxmp benchmark, %s%s" % (facts["date"], " (--quick)" if facts["quick"] else ""),
        "machine: %d CPUs, %s; %s; Python %s; PyInstaller %s"
        % (facts["cpus"], facts["cpu_model"], facts["system"], facts["python"], facts["pyinstaller"]),
        "load average before / after: %s / %s"
        % (format_load(facts["load_average_before"]), format_load(facts["load_average_after"])),
        "",
        COLUMNS
        % (
            "",
            "figure (medians; ratio [95% interval])",
            "oxmp",
            "stock",
            "baseline",
            "oxmp/baseline",
            "stock/baseline",
            "instructions o/b s/b o/s",
            "target",
        ),
    ]
    for summary in summaries:
        lines.append(
            COLUMNS
            % (
                summary["key"],
                summary["label"],
                format_value(summary[OXMP], summary["unit"]),
                format_value(summary[STOCK], summary["unit"]),
                format_value(summary[BASELINE], summary["unit"]),
                format_ratio(summary[OXMP + "_ratio"]),
                format_ratio(summary[STOCK + "_ratio"]),
                format_instructions(summary["instructions_ratio"]),
                format_target(summary),
            )
        )
    lines += [
        "",
        "P1-P4 and B1-B2 are onedir bundles; P5:Pn is figure Pn for onefile bundles.",
        "oxmp: built with oxmp. stock: built with stock PyInstaller (mp_bench.py calls freeze_support()).",
        "baseline: P1 hello.py built with excludes=['multiprocessing']; P1' hello_floor.py, which has ctypes and",
        "pkgutil but no multiprocessing; P1'' the same hello bundle without oxmp's runtime hook; P2, P3 plain",
        "python; P4, P4' stock",
        "PyInstaller (ratios: median of the pairs' ratios); B1, B2 python empty.py, against a bundle of empty.py",
        "(B1: with oxmp, which defers PyInstaller's inspect hook, and with stock PyInstaller; B2: without inspect).",
        "instructions: ratios of the median instruction counts (callgrind) of the same processes, oxmp/baseline,",
        "stock/baseline and oxmp/stock; they do not drift with the machine's load (runs repeat to about 0.2%). P1:",
        "the whole process; P3 spawn: the worker process alone (mp_bench one-worker); B1, B2: the whole process.",
        "P1'' baseline: the oxmp bundle of hello.py without oxmp's runtime hook, the same archive otherwise: the",
        "hook's own cost. Between P1' and P1'' is PyInstaller's: the larger table of contents of an archive with",
        "multiprocessing's graph, which its bootstrap reads at every start.",
        "Samples per median: %s." % sample_counts(summaries),
    ]
    return "\n".join(lines)


def sample_counts(summaries):
    counts = []
    for summary in summaries:
        count = "%s %d" % (summary["key"], summary[OXMP]["n"])
        if count not in counts:
            counts.append(count)
    return ", ".join(counts)


def format_load(load):
    return " ".join("%.2f" % value for value in load)


def format_value(variant_summary, unit):
    if variant_summary is None:
        return "-"
    return ("%.1f ms" if unit == "ms" else "%.2f s") % variant_summary["median"]


def format_instructions(ratios):
    if ratios is None:
        return "-"
    return " ".join("-" if ratios[key] is None else "%.3f" % ratios[key] for key in (OXMP, STOCK, OXMP + "/" + STOCK))


def format_ratio(ratio):
    if ratio is None:
        return "-"
    return "%.3f [%.3f, %.3f]" % (ratio["value"], ratio["interval"][0], ratio["interval"][1])


def format_target(summary):
    if summary["target"] is None:
        return "reported" if summary["key"].startswith("P5") else ""
    return "<= %.2f %s%s" % (
        summary["target"],
        "met" if summary["met"] else "NOT met",
        "" if summary["decided"] else " (interval spans it)",
    )


# --- Main -----------------------------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description="oxmp's benchmark: start-up, pools, workers and build time.")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, onedir only (about 6 minutes)")
    parser.add_argument("--json", metavar="PATH", help="also write the table's data, with every sample, to PATH")
    parser.add_argument(
        "--stock-python",
        metavar="PATH",
        help="a Python with the same PyInstaller and no oxmp, instead of making a new virtualenv",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bundles (the folder is printed on stderr)")
    parser.add_argument(
        "--only",
        metavar="GROUPS",
        type=lambda text: text.split(","),
        help="measure only these groups, comma-separated: %s" % ", ".join(GROUPS),
    )
    parser.add_argument(
        "--build-pairs",
        metavar="N",
        type=int,
        help="P4's number of build pairs (default: %d, or %d with --quick)"
        % (Plan(False).build_pairs, Plan(True).build_pairs),
    )
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - set(GROUPS)
    if unknown:
        parser.error("unknown groups: %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(GROUPS)))
    return args


def main(argv=None):
    args = parse_args(argv)
    if sys.platform == "win32":
        raise SystemExit("bench.py times fork, spawn and forkserver: POSIX only")
    plan = Plan(args.quick)
    if args.build_pairs:
        plan.build_pairs = args.build_pairs
    facts = machine_facts()
    facts["quick"] = plan.quick
    workdir = tempfile.mkdtemp(prefix="oxmp-bench-")
    os.chmod(workdir, 0o755)  # the unprivileged user runs the bundles in it
    progress("working in %s" % workdir)
    try:
        summaries = [summarize(row) for row in measure(plan, workdir, args.stock_python, args.only or GROUPS)]
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    facts["load_average_after"] = os.getloadavg()
    print(format_table(summaries, facts))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"facts": facts, "figures": summaries}, out, indent=1)
    return 0


# The groups of rows --only selects, in the order they are measured.
GROUPS = ("P1", "B", "A", "P2P3", "P4", "P5")


def measure(plan, workdir, stock_python=None, groups=GROUPS):
    if stock_python is None:
        progress("making a virtualenv with stock PyInstaller")
        stock_python = bundles.make_stock_python(workdir)
    plain_python = stock_python
    built = Bundles(bundles.Builder(workdir, lambda: stock_python, apps_dir=APPS_DIR))
    rows = []
    if "P1" in groups:
        rows += startup_rows(built, plan, workdir, onefile=False)
    if "B" in groups:
        rows += bound_rows(built, plan, workdir, plain_python)
    if "A" in groups:
        rows += long_argv_rows(built, plan, workdir)
    if "P2P3" in groups:
        rows += multiprocessing_rows(built, plan, workdir, plain_python, onefile=False)
    if "P4" in groups:
        rows += build_rows(workdir, lambda: stock_python, plan.build_pairs)
    if plan.onefile and "P5" in groups:
        rows += startup_rows(built, plan, workdir, onefile=True)
        rows += multiprocessing_rows(built, plan, workdir, plain_python, onefile=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
