"""Post-training strategies side by side: test MAE reached against CPU-seconds, for full fine-tuning
(fixed steps), head fitting on cached features (lp, one head and a deep ensemble of heads), LP-FT, and the random-forest, dummy and (for
molecular tasks, where installed) Chemprop baselines, on the same entries, from one run.

    python bench/bench_posttrain.py --ckpt runs/demo/midtrain-random/model --tasks boiling_point,expt_gap

Each model strategy is a real post-training run (`launch/posttrain.py`, one thread) from the same
checkpoint; `lp` is timed twice, cold (computing the feature cache) and warm (reusing it, as every
further configuration and seed of a sweep does). For the cold run the feature cache is moved aside,
and put back after it: the bench deletes nothing of yours. CPU-seconds are the child process's user+system
time. Errors are in the units the task trains in.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).parents[1]


def posttrain(task: str, strategy: str, args, run_dir: Path, extra: list[str]) -> dict:
    over = [f"experiment={args.experiment}", f"init_from={Path(args.ckpt).resolve()}", f"finetune.task={task}",
            f"finetune={strategy}", f"run_dir={run_dir}", "progress=false", "cluster.threads=1",
            "data.num_workers=0", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    p = subprocess.run([sys.executable, str(ROOT / "launch" / "posttrain.py"), *over], cwd=ROOT, capture_output=True,
                       text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        return {"error": p.stderr[-400:]}
    r = json.loads((run_dir / "result.json").read_text())
    mae = next((v for k, v in r["test"].items() if k.startswith("mae/")), float("nan"))
    return {"test_mae": mae, "steps": r["step"], "wall_s": time.time() - t0,
            "cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}


@contextmanager
def cold_feature_cache():
    """$MPA_CACHE/features moved aside for one run, then merged back (the run's new files kept)."""
    cache = Path(os.environ.get("MPA_CACHE", ROOT / ".cache")) / "features"
    aside = cache.with_name("features.bench-aside")
    if cache.exists():
        cache.rename(aside)
    try:
        yield
    finally:
        if aside.exists():
            cache.mkdir(parents=True, exist_ok=True)
            for f in aside.iterdir():
                f.replace(cache / f.name)
            aside.rmdir()


def baseline(task: str, arm: str, args) -> dict:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import mpa_dist.train.resolvers  # noqa: F401
    from mpa_dist.baselines import run_baseline

    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("posttrain", overrides=[f"experiment={args.experiment}", f"init_from={args.ckpt}", "sweep=demo"])
    t0, c0 = time.time(), time.process_time()
    r = run_baseline(arm, OmegaConf.to_container(cfg, resolve=True), task, "random", 0)["row"]
    return {"test_mae": r["mae"], "steps": 0, "wall_s": time.time() - t0, "cpu_s": time.process_time() - c0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default="runs/demo/midtrain-random/model")
    ap.add_argument("--experiment", default="demo")
    ap.add_argument("--tasks", default="boiling_point,expt_gap")
    ap.add_argument("--full-steps", default="60,500", help="fixed-step budgets of full fine-tuning")
    ap.add_argument("--ft-epochs", type=int, default=2, help="lp_ft: fine-tuning epochs after the head fit")
    ap.add_argument("--ensemble", type=int, default=5, help="lp with a deep ensemble of this many heads (0: skip)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_posttrain_"))
    rows = []
    try:
        for task in args.tasks.split(","):
            runs = [(f"full, {n} steps", "full", [f"steps={n}", f"eval_every={max(n // 5, 1)}", "eval_batches=0"])
                    for n in map(int, args.full_steps.split(","))]
            runs += [("lp (cold cache)", "lp", []), ("lp (warm cache)", "lp", []),
                     (f"lp_ft, {args.ft_epochs} epochs", "lp_ft", [f"finetune.epochs={args.ft_epochs}"])]
            if args.ensemble > 1:
                runs.append((f"lp, ensemble of {args.ensemble} heads (warm cache)", "lp",
                             [f"finetune.ensemble={args.ensemble}"]))
            for i, (name, strategy, extra) in enumerate(runs):
                if name == "lp (cold cache)":
                    with cold_feature_cache():
                        r = posttrain(task, strategy, args, tmp / f"{task}{i}", extra)
                else:
                    r = posttrain(task, strategy, args, tmp / f"{task}{i}", extra)
                rows.append({"task": task, "arm": name, **r})
                print(json.dumps(rows[-1]), flush=True)
            from mpa_dist.baselines import applies
            from mpa_dist.baselines.chemprop_mpnn import available

            for arm in [a for a in ("rf", "dummy", "chemprop") if applies(a, task) and (a != "chemprop" or available())]:
                rows.append({"task": task, "arm": arm, **baseline(task, arm, args)})
                print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    import pandas as pd

    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4g"))


if __name__ == "__main__":
    main()
