"""DEVICE-8's distributed job, run as ``python -m tests.ddp_job WORLD OUT_DIR`` in a fresh
interpreter: it forks WORLD ranks that train one DDP step on their shards of one batch over
gloo (CPU), and each rank saves its gradients to ``OUT_DIR/grads<rank>.pt``.

A fresh, single-threaded process forks cleanly; forking a pytest-xdist worker (whose
execnet threads may hold locks at that moment) once left a rank hung forever.
"""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

BATCH = 8


def model_and_batch() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The same float64 model (seed 0) and batch (seed 42) in every process."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    g = torch.Generator().manual_seed(42)
    x = torch.randn(BATCH, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (BATCH,), generator=g)
    return model, x, y


def _rank(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        model, x, y = model_and_batch()
        ddp = nn.parallel.DistributedDataParallel(model)
        shard = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
        nn.functional.cross_entropy(ddp(x[shard]), y[shard]).backward()
        torch.save([p.grad for p in model.parameters()], os.path.join(out_dir, f"grads{rank}.pt"))
    finally:
        dist.destroy_process_group()


def main(world: int, out_dir: str) -> None:
    import torch._dynamo  # noqa: F401  (DDP's constructor imports it: once, before forking)

    torch.set_num_threads(1)
    init_file = os.path.join(out_dir, "rendezvous")
    mp.start_processes(_rank, args=(world, init_file, out_dir), nprocs=world,
                       start_method="fork")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
