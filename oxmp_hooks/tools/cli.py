"""What the command lines of ``python -m oxmp_hooks run|doctor`` share: a bad argument is one line and exit status 2."""

from __future__ import annotations

import argparse
from typing import NoReturn

from oxmp_hooks.tools import contain

__all__ = ["BAD_ARGUMENTS", "Parser", "seconds", "count"]

BAD_ARGUMENTS = 2  # as argparse exits


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``PROG: error: ...``), without the usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(BAD_ARGUMENTS, "%s: error: %s\n" % (self.prog, " ".join(message.split())))


def seconds(text: str) -> float:
    """An argparse type: a time limit, as ``contain.time_limit()`` (the one check of a time limit) accepts it."""
    try:
        return contain.time_limit(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def count(text: str) -> int:
    """An argparse type: a process cap, as ``contain.process_cap()`` accepts it."""
    try:
        return contain.process_cap(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
