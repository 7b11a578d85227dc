"""The one way oxmp's runtime prints a line: ``say()``. It imports only ``sys``, so that every runtime module may use it
(deferred.py included, which must not import boot)."""

import sys

# Exit status of a process whose worker or helper command line oxmp refused (boot.refuse).
REFUSED_EXIT = 2


def say(message: "str") -> "None":
    """Write ``oxmp: <message>`` to stderr. A windowed app (Windows, console=False) has no stderr, and a process
    started with descriptor 2 closed neither: then nothing is said, and nothing fails for it."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write("oxmp: %s\n" % message)
        stream.flush()
    except (OSError, ValueError, AttributeError):
        pass
