"""`python -m oxmp_hooks COMMAND`: `doctor` checks a bundle (see `doctor --help`); `run` runs one contained."""

import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["doctor"]:
        # The doctor parses its own options (`doctor --json EXE`, `doctor --help`).
        from oxmp_hooks.tools import doctor

        return doctor.main(argv[1:])

    import argparse

    from oxmp_hooks.tools import cli, contain

    parser = cli.Parser(prog="python -m oxmp_hooks", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=cli.Parser)
    commands.required = True
    # Listed here for --help only: `doctor` was dispatched above, to the doctor's own parser.
    commands.add_parser(
        "doctor",
        add_help=False,
        help="check how multiprocessing works in a bundle, without running the app's entry script "
        "(see `doctor --help`)",
    )
    run = commands.add_parser(
        "run",
        help="run a frozen app contained: own session, process cap, time limit, every process it started "
        "killed afterwards (on Linux also those that left its session)",
    )
    run.add_argument("--timeout", type=cli.seconds, default=120, help="seconds before the app is killed (default 120)")
    run.add_argument("--max-procs", type=cli.count, default=64, help="processes the app may have at once (default 64)")
    run.add_argument("executable")
    run.add_argument("args", nargs=argparse.REMAINDER)

    options = parser.parse_args(argv)
    try:
        result = contain.run([options.executable] + options.args, timeout=options.timeout, max_procs=options.max_procs)
    except (OSError, ValueError) as error:  # the executable is missing, or not one; a limit the runner refused
        run.error("cannot run %s: %s" % (options.executable, getattr(error, "strerror", None) or error))
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.lost_keeper:
        sys.stderr.write("oxmp run: the app's keeper was %s\n" % result.lost_keeper)
    elif result.bombed:
        sys.stderr.write("oxmp run: stopped after more than %d processes\n" % options.max_procs)
    elif result.timed_out:
        sys.stderr.write("oxmp run: stopped after %g s\n" % options.timeout)
    # An app killed by a signal: 128 plus its number, as a shell says it (sys.exit(-9) would be 247).
    return result.returncode if result.returncode >= 0 else 128 - result.returncode


if __name__ == "__main__":
    sys.exit(main())
