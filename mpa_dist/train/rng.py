"""Seeds, threads and the random state a checkpoint carries (python, numpy, torch), so that a
resumed run draws what the uninterrupted one would have."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from mpa_dist.train import distributed as dist


def _local_world() -> int:
    return int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", 1)))


def threads_and_seed(cfg) -> None:
    torch.set_num_threads(cfg.cluster.threads or max(1, (os.cpu_count() or 1) // _local_world()))
    seed_all(cfg.seed + dist.rank())


def seed_all(seed: int):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_state(s: dict):
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
