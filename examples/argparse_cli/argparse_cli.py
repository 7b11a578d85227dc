"""A command-line tool that parses its arguments first, then starts workers: `argparse_cli [--workers N] [--limit N]
[--method M]`.

Workers never see this parser: oxmp sends them to multiprocessing before the app's code runs, so argparse never meets
the workers' `--multiprocessing-fork ...` arguments.
"""

import argparse
import multiprocessing


def collatz_steps(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def main():
    parser = argparse.ArgumentParser(description="Find the number below LIMIT with the longest Collatz sequence.")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--limit", type=int, default=10000, help="look at 1 .. LIMIT-1 (default 10000)")
    parser.add_argument(
        "--method", choices=multiprocessing.get_all_start_methods(), help="start method (default: the bundle's)"
    )
    args = parser.parse_args()
    if args.method:
        multiprocessing.set_start_method(args.method)
    with multiprocessing.Pool(args.workers) as pool:
        steps = pool.map(collatz_steps, range(1, args.limit), chunksize=500)
    longest = max(range(len(steps)), key=steps.__getitem__)
    print("start method:", multiprocessing.get_start_method())
    print("workers: %d, longest below %d: %d (%d steps)" % (args.workers, args.limit, longest + 1, steps[longest]))


if __name__ == "__main__":
    main()
