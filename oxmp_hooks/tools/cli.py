"""What the command lines of ``python -m oxmp_hooks run|doctor`` share: a bad argument is one line and exit status 2."""

import argparse
import math

__all__ = ["BAD_ARGUMENTS", "Parser", "seconds", "count"]

BAD_ARGUMENTS = 2  # as argparse exits


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``PROG: error: ...``), without the usage text."""

    def error(self, message):
        self.exit(BAD_ARGUMENTS, "%s: error: %s\n" % (self.prog, " ".join(message.split())))


def seconds(text):
    """An argparse type: a finite number of seconds above 0 (``nan``, ``inf`` and ``-1`` are not limits)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError("%r is not a number of seconds above 0" % text)
    return value


def count(text):
    """An argparse type: a whole number above 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("%r is not a whole number above 0" % text)
    return value
