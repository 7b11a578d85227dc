"""The genuine parent that the hardening tests compare with: this app's own process starting a worker or helper.

`OXMP_TEST_AS_PARENT=SPEC.json APP`: instead of the app's work, start this same executable with the command line that
SPEC names, handing it what only a running process of the app can make: pipes from os.pipe() holding the bytes SPEC
gives (their write ends closed once written, as billiard and loky close theirs, or kept open until the child exits, as
CPython keeps a spawn worker's), and a listening Unix socket named as SPEC says. Exits with the child's status. SPEC:

    {"argv": [...], "pipes": [BASE64, ...], "keep_write_ends": false, "listener": NAME or null}

In argv, `PIPE0`, `PIPE1`, ... become the pipes' read ends and `LISTENER` the socket's descriptor. An app imports this
module first: it acts when imported, so that what the run prints is the child's alone.
"""

import base64
import json
import os
import socket
import subprocess
import sys

VARIABLE = "OXMP_TEST_AS_PARENT"


def main_if_asked():
    path = os.environ.pop(VARIABLE, None)  # popped: the child is no parent
    if path:
        with open(path) as spec_file:
            sys.exit(act_as_parent(json.load(spec_file)))


def act_as_parent(spec):
    names, passed, write_ends = {}, [], []
    for index, data in enumerate(spec.get("pipes", [])):
        read_end, write_end = os.pipe()
        os.write(write_end, base64.b64decode(data))
        names["PIPE%d" % index] = read_end
        passed.append(read_end)
        write_ends.append(write_end)
    listener = None
    if spec.get("listener"):
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(os.path.join(os.getcwd(), spec["listener"]))
        listener.listen()
        names["LISTENER"] = listener.fileno()
        passed.append(listener.fileno())
    if not spec.get("keep_write_ends"):
        for write_end in write_ends:
            os.close(write_end)
    argv = list(spec["argv"])
    for name in sorted(names, key=len, reverse=True):  # PIPE10 before PIPE1
        argv = [arg.replace(name, str(names[name])) for arg in argv]
    return subprocess.call([sys.executable] + argv, pass_fds=passed)


main_if_asked()
