"""One trial of a sweep: a post-training run (mpa_dist.train.run.run_phase) for one task,
arm, split scheme, seed and configuration, reporting its validation score to Tune after
every validation pass so ASHA can stop it early. The trial never sees the test split."""

from __future__ import annotations

import math
import time
from pathlib import Path

from omegaconf import OmegaConf
from ray import tune


def trial_config(base: dict, config: dict, trial_dir: Path):
    """The post-training config of one trial: the sweep's base config with the trial's choices."""
    from mpa_dist.tune.space import flat

    config = flat(config)
    cfg = OmegaConf.create(base)
    sw = cfg.pop("sweep")
    init = sw.arms[config["arm"]]
    cfg.finetune.task, cfg.data.scheme, cfg.seed = config["task"], config["scheme"], int(config["seed"])
    cfg.init_from = init.format(scheme=config["scheme"]) if init else None
    for key, value in config["hp"].items():
        if OmegaConf.select(cfg, key, default="__missing__") == "__missing__":
            raise ValueError(f"sweep.space: {key!r} is not a post-training config key")
        OmegaConf.update(cfg, key, value, merge=False)
    cfg.data.sources = {config["task"]: {"limit": cfg.size.expt}}
    cfg.run_dir = str(trial_dir)
    cfg.finetune.test, cfg.finetune.results, cfg.progress = False, None, False
    cfg.cluster.threads = max(1, int(sw.cpus_per_trial))
    cfg.data.num_workers = 0  # the trial's cores train; batches are made in-process
    return cfg


def run_trial(config: dict, base: dict):
    from mpa_dist.train.run import run_phase

    start, best = time.time(), math.inf
    ctx = tune.get_context()
    trial_dir = Path(base["sweep"]["out"]) / "trials" / ctx.get_trial_name()
    cfg = trial_config(base, config, trial_dir)

    def report(step: int, val: dict, score: float, run_best: float):
        nonlocal best
        best = run_best  # a retried trial resumes its checkpoint, best score included
        tune.report({"score": score, "best_score": best, "step": step, "seconds": time.time() - start,
                     "trial_dir": str(trial_dir)})

    result = run_phase(cfg, on_eval=report)
    best = min(best, result.get("best_val_score", math.inf))
    tune.report({"score": best, "best_score": best, "step": result["step"], "seconds": time.time() - start,
                 "trial_dir": str(trial_dir), "done": True})
