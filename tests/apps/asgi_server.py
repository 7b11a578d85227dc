"""What tests/apps/uvicorn_app.py and hypercorn_app.py share: a minimal ASGI application, and a thread that does what
the server's user would do from outside.

The thread asks the server on 127.0.0.1:PORT until both workers have answered, four answers at least (for at most
SECONDS, default 60), prints what it saw as one `RESULT {json}` line, and stops the server: STOP `INT` is Ctrl-C in a
terminal (SIGINT to the whole process group), `TERM` is `kill PID` (SIGTERM to the process its user started).
"""

import json
import os
import signal
import sys
import threading
import time
import urllib.request


def make_app(module_name):
    """The ASGI application an entry script defines as `app`: lifespan events, and one JSON answer saying which process
    served it and which module it was found in (``module_name``: the script's ``__name__``)."""

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = json.dumps({"pid": os.getpid(), "module": module_name}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app


def start_asking(argv):
    """The main block's first steps for `APP PORT STOP [SECONDS]`: print `MAIN-BLOCK <pid>`, start the asking thread;
    returns PORT."""
    port, stop = int(argv[1]), argv[2]
    seconds = float(argv[3]) if len(argv) > 3 else 60.0
    print("MAIN-BLOCK", os.getpid(), flush=True)
    threading.Thread(target=ask_then_stop, args=(port, stop, seconds), daemon=True).start()
    return port


def ask_then_stop(port, stop, seconds):
    # Until each of the two workers has answered, and four answers in all: a Ctrl-C while a worker is still starting
    # interrupts its imports with a traceback, under python as in a bundle.
    answers, pids, modules = 0, set(), set()
    deadline = time.monotonic() + seconds
    while (answers < 4 or len(pids) < 2) and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5) as response:
                answer = json.loads(response.read().decode())
        except OSError:
            time.sleep(0.2)
            continue
        answers += 1
        pids.add(answer["pid"])
        modules.add(answer["module"])
    print(
        "RESULT "
        + json.dumps(
            {
                "workers_answered": len(pids),
                "modules": sorted(modules),
                "served_by_workers": bool(pids) and os.getpid() not in pids,
            }
        ),
        flush=True,
    )
    if stop == "INT":
        os.killpg(os.getpgid(0), signal.SIGINT)
    else:
        os.kill(started_process(), signal.SIGTERM)


def started_process():
    """The process its user started: a onefile bundle's is the bootloader that unpacked it, this one's parent."""
    onefile = os.path.basename(getattr(sys, "_MEIPASS", "")).startswith("_MEI")
    return os.getppid() if onefile else os.getpid()
