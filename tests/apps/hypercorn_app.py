"""A Hypercorn server with two worker processes, as a new user writes it: `hypercorn_app PORT STOP [SECONDS]`.

`hypercorn.run.run(config)` with `config.workers = 2` starts its workers with multiprocessing's spawn context, and each
imports this script by name to find `app` (`config.application_path = "hypercorn_app:app"`). No freeze_support(). A
thread of the app asks the server, then stops it (tests/apps/asgi_server.py). The main block prints
`MAIN-BLOCK <pid>` once, and `STOPPED` when run() returns.
"""

import sys

from hypercorn.config import Config
from hypercorn.run import run

import asgi_server

sys.stderr.write("MODULE-LEVEL %s\n" % __name__)
sys.stderr.flush()

app = asgi_server.make_app(__name__)

if __name__ == "__main__":
    port = asgi_server.start_asking(sys.argv)
    config = Config()
    config.application_path, config.bind, config.workers = "hypercorn_app:app", ["127.0.0.1:%d" % port], 2
    run(config)
    print("STOPPED", flush=True)
