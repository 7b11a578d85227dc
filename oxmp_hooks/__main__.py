"""`python -m oxmp_hooks COMMAND`: `doctor` checks a bundle (see `doctor --help`); `run` runs one contained."""

import argparse
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["doctor"]:
        # The doctor parses its own options (`doctor --json EXE`, `doctor --help`).
        from oxmp_hooks.tools import doctor

        return doctor.main(argv[1:])

    parser = argparse.ArgumentParser(prog="python -m oxmp_hooks", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    run = commands.add_parser(
        "run", help="run a frozen app contained: own session, process cap, time limit, group killed afterwards")
    run.add_argument("--timeout", type=float, default=120, help="seconds before the app is killed (default 120)")
    run.add_argument("--max-procs", type=int, default=64, help="processes the app may have at once (default 64)")
    run.add_argument("executable")
    run.add_argument("args", nargs=argparse.REMAINDER)

    options = parser.parse_args(argv)
    from oxmp_hooks.tools import contain

    result = contain.run([options.executable] + options.args, timeout=options.timeout, max_procs=options.max_procs,
                         watch=True)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.bombed:
        sys.stderr.write("oxmp run: stopped after more than %d processes\n" % options.max_procs)
    elif result.timed_out:
        sys.stderr.write("oxmp run: stopped after %g s\n" % options.timeout)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
