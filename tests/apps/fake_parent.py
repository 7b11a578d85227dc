"""Start a program as if this process were its multiprocessing parent. Run by the Windows Python:

    python fake_parent.py PROGRAM ARGS...

In ARGS, `PARENT` becomes this process's id, `STDIN` the handle of its standard input (which the program shares), and
`WRITE_END` the handle of the write end of a new pipe. Exits with the program's status.
"""

import msvcrt
import os
import subprocess
import sys


def main():
    _, write_end = os.pipe()
    values = {"PARENT": os.getpid(), "STDIN": msvcrt.get_osfhandle(0), "WRITE_END": msvcrt.get_osfhandle(write_end)}
    args = sys.argv[2:]
    for name, value in values.items():
        args = [arg.replace(name, str(value)) for arg in args]
    sys.exit(subprocess.call([sys.argv[1]] + args))


if __name__ == "__main__":
    main()
