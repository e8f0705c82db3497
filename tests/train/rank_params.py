"""Under a launcher: train a smoke phase, then each rank dumps its full parameters (tests only)."""

import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

import mpa_dist.train.resolvers  # noqa: F401
from mpa_dist.train import distributed as dist, plan
from mpa_dist.train.distributed import strip_launcher_args
from mpa_dist.train.trainer import Trainer

if __name__ == "__main__":
    strip_launcher_args()
    phase, out, overrides = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    with initialize_config_dir(str(Path(__file__).parents[2] / "configs"), version_base="1.3"):
        cfg = compose(phase, overrides=overrides)
    plan.prepare_shards(cfg)
    t = Trainer(cfg)
    t.train()
    t.export()
    state = {k: v.detach().cpu() for k, v in t.engine.module.state_dict().items()}
    torch.save(state, out / f"rank{dist.rank()}.pt")
    dist.barrier()
