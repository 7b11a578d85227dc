"""dask.distributed's LocalCluster with worker processes, as a new user writes it: `dask_app METHOD`.

`LocalCluster(processes=True)` starts each worker (a nanny's child) with multiprocessing's context named by dask's
`distributed.worker.multiprocessing-method` setting (`spawn` by default; METHOD sets it). No freeze_support(). The
scheduler and workers listen on 127.0.0.1 only, with no dashboard. The main block prints `MAIN-BLOCK <pid>` once, and
one `RESULT {json}` line.
"""

import json
import os
import sys

import dask
from distributed import Client, LocalCluster

sys.stderr.write("MODULE-LEVEL %s\n" % __name__)
sys.stderr.flush()


def square(x):
    return x * x


if __name__ == "__main__":
    method = sys.argv[1]
    print("MAIN-BLOCK", os.getpid(), flush=True)
    dask.config.set({"distributed.worker.multiprocessing-method": method})
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster, Client(cluster) as client:
        squares = client.gather(client.map(square, range(10)))
        worker_pids = client.run(os.getpid)
    print(
        "RESULT "
        + json.dumps(
            {
                "squares": squares,
                "workers": len(worker_pids),
                "in_other_processes": all(pid != os.getpid() for pid in worker_pids.values()),
            }
        ),
        flush=True,
    )
