"""A Celery task queue with a prefork worker, inside the app, as a new user writes it: `celery_app METHOD`.

The broker and the result backend need no server: kombu's filesystem transport and Celery's file system result
backend, both in folders under the working directory. The main block runs a worker with a prefork pool of two
processes (billiard, started with METHOD); a thread of the app sends four tasks, checks their results, and stops the
worker as its user would, with SIGTERM to the process (Celery's warm shutdown). No freeze_support(). The main block
prints `MAIN-BLOCK <pid>` once, one `RESULT {json}` line, and `STOPPED` once the worker has returned.
"""

import json
import os
import signal
import sys
import threading
import time
import uuid

import billiard
from celery import Celery
from celery.signals import worker_ready
from kombu.transport import filesystem
from kombu.utils.json import dumps

sys.stderr.write("MODULE-LEVEL %s\n" % __name__)
sys.stderr.flush()

DATA = os.path.abspath("celery-data")  # the working directory's: under python and in the bundle alike
for folder in ("queue", "processed", "results", "writing"):
    os.makedirs(os.path.join(DATA, folder), exist_ok=True)

app = Celery("celery_app", broker="filesystem://", backend="file://" + os.path.join(DATA, "results"))
app.conf.broker_transport_options = {
    "data_folder_in": os.path.join(DATA, "queue"),
    "data_folder_out": os.path.join(DATA, "queue"),
    "processed_folder": os.path.join(DATA, "processed"),
    "polling_interval": 0.1,
}


def put_whole(channel, queue, payload, **kwargs):
    """kombu's filesystem transport, putting a message whole: kombu 5.x creates the message's file, then writes it,
    and a consumer that moves the file in between reads nothing, fails with a JSONDecodeError and loses the message
    (seen on a loaded machine, under python as in a bundle). Written beside the queue folder and renamed into it, a
    message is complete whenever it can be seen. The name is kombu's, which orders messages by time."""
    name = "%d_%s.%s.msg" % (round(time.monotonic() * 1000), uuid.uuid4(), queue)
    writing = os.path.join(DATA, "writing", name)
    with open(writing, "wb") as message:
        message.write(dumps(payload).encode())
    os.replace(writing, os.path.join(channel.data_folder_out, name))


filesystem.Channel._put = put_whole
app.conf.worker_hijack_root_logger = False
app.conf.worker_redirect_stdouts = False  # the app's prints stay on its stdout


@app.task(name="celery_app.square")  # the name the app sends; a spawn worker runs this script as __mp_main__
def square(x):
    return {"square": x * x, "pid": os.getpid()}


def send_then_stop(report):
    try:
        # The worker runs in this process: Celery's check against waiting for a result from inside a task would take
        # this thread for one.
        results = [square.delay(n).get(timeout=60, interval=0.1, disable_sync_subtasks=False) for n in range(4)]
        report["squares"] = [result["square"] for result in results]
        report["in_pool_processes"] = all(result["pid"] != os.getpid() for result in results)
    finally:
        os.kill(os.getpid(), signal.SIGTERM)  # Celery's warm shutdown: finish the tasks, stop the pool


if __name__ == "__main__":
    print("MAIN-BLOCK", os.getpid(), flush=True)
    billiard.set_start_method(sys.argv[1], force=True)
    report = {}
    worker = app.Worker(
        pool="prefork",
        concurrency=2,
        hostname="oxmp@localhost",
        loglevel="WARNING",
        quiet=True,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )

    # The sending thread starts once the pool's processes are running: under fork, a thread already running while
    # the pool forks may hold a lock (logging's, kombu's) that the forked process then waits on for ever, under plain
    # python as in a bundle.
    @worker_ready.connect
    def start_sending(**_):
        threading.Thread(target=send_then_stop, args=(report,), daemon=True).start()

    worker.start()
    print("RESULT " + json.dumps(dict(report, worker_exitcode=worker.exitcode)), flush=True)
    print("STOPPED", flush=True)
