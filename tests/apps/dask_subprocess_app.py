"""dask.distributed's SubprocessCluster, as a new user writes it: `dask_subprocess_app`.

`SubprocessCluster` starts its scheduler and each worker as `sys.executable -m dask spec ...` (which in a bundle needs
`run_modules: ["dask"]`); each worker is a nanny that starts its worker process with multiprocessing (spawn, dask's
default). No freeze_support(). Everything listens on 127.0.0.1 only, with no dashboard. The main block prints
`MAIN-BLOCK <pid>` once, and one `RESULT {json}` line.
"""

import json
import os
import sys

from distributed import Client
from distributed.deploy.subprocess import SubprocessCluster

sys.stderr.write("MODULE-LEVEL %s\n" % __name__)
sys.stderr.flush()


def square(x):
    return x * x


if __name__ == "__main__":
    print("MAIN-BLOCK", os.getpid(), flush=True)
    with SubprocessCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(
        cluster
    ) as client:
        squares = client.gather(client.map(square, range(10)))
        client.wait_for_workers(2)
        worker_pids = client.run(os.getpid)
        scheduler_pid = client.run_on_scheduler(os.getpid)
    print(
        "RESULT "
        + json.dumps(
            {
                "squares": squares,
                "workers": len(worker_pids),
                "in_other_processes": all(pid != os.getpid() for pid in list(worker_pids.values()) + [scheduler_pid]),
            }
        ),
        flush=True,
    )
