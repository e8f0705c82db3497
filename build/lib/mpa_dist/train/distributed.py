"""One code path from one process to many: `python`, `torchrun` and `deepspeed` launch the
same script. At world size 1 the collectives below are cheap no-ops in effect."""

from __future__ import annotations

import os
import socket
import sys

import torch
import torch.distributed as dist


def strip_launcher_args() -> None:
    """The deepspeed launcher appends --local_rank=N, which Hydra rejects: move it to the env."""
    keep = []
    for a in sys.argv:
        if a.startswith("--local_rank"):
            os.environ.setdefault("LOCAL_RANK", a.split("=", 1)[1] if "=" in a else "0")
        else:
            keep.append(a)
    sys.argv[:] = keep


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init(backend: str | None = None) -> torch.device:
    """Initialise torch.distributed through DeepSpeed (gloo on CPU, nccl on GPU)."""
    import deepspeed

    if "RANK" not in os.environ:  # plain `python script.py`: a world of one, no MPI discovery
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=os.environ.get("MASTER_PORT", str(_free_port())))
    cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        deepspeed.init_distributed(dist_backend=backend or ("nccl" if cuda else "gloo"))
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized() and world() > 1:
        dist.barrier()


def all_sum(t: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized() and world() > 1:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def any_true(flag: bool, device) -> bool:
    return bool(all_sum(torch.tensor([float(flag)], device=device)).item() > 0)


def broadcast_buffers(module: torch.nn.Module, src: int = 0) -> None:
    if dist.is_initialized() and world() > 1:
        for b in module.buffers():
            dist.broadcast(b.data, src)
