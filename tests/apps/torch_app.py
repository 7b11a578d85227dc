"""PyTorch's DataLoader with worker processes, as a new user writes it: `torch_app METHOD`.

`DataLoader(num_workers=2, multiprocessing_context=METHOD)` starts its workers with torch.multiprocessing, which is
multiprocessing's contexts; under spawn and forkserver each worker unpickles the dataset, a class of this script. No
freeze_support(). The main block prints `MAIN-BLOCK <pid>` once, and one `RESULT {json}` line.
"""

import json
import os
import sys

import torch
from torch.utils.data import DataLoader, Dataset

sys.stderr.write("MODULE-LEVEL %s\n" % __name__)
sys.stderr.flush()


class Squares(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, index):
        return torch.tensor([index * index, os.getpid()])


if __name__ == "__main__":
    method = sys.argv[1]
    print("MAIN-BLOCK", os.getpid(), flush=True)
    loader = DataLoader(Squares(), batch_size=2, num_workers=2, multiprocessing_context=method)
    rows = [row for batch in loader for row in batch.tolist()]
    print(
        "RESULT "
        + json.dumps(
            {
                "squares": [square for square, _ in rows],
                "in_other_processes": all(pid != os.getpid() for _, pid in rows),
                "workers": len(set(pid for _, pid in rows)),
            }
        ),
        flush=True,
    )
