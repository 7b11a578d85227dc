"""A uvicorn server with two worker processes, as a new user writes it: `uvicorn_app PORT STOP [SECONDS]`.

`uvicorn.run("uvicorn_app:app", workers=2)` starts its workers with multiprocessing's spawn context, and each imports
this script by name to find `app`. No freeze_support(). A thread of the app asks the server, then stops it
(tests/apps/asgi_server.py). The main block prints `MAIN-BLOCK <pid>` once, and `STOPPED` when uvicorn.run() returns.
"""

import sys

import uvicorn

import asgi_server

sys.stderr.write("MODULE-LEVEL %s\n" % __name__)
sys.stderr.flush()

app = asgi_server.make_app(__name__)

if __name__ == "__main__":
    port = asgi_server.start_asking(sys.argv)
    uvicorn.run("uvicorn_app:app", host="127.0.0.1", port=port, workers=2, log_level="info")
    print("STOPPED", flush=True)
