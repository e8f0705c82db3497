"""The scaling study: the phases run as users run them (their commands, `python -m mpa_dist <phase>`,
as subprocesses in the current folder),
one mid-training per amount of first-principles data, then one sweep whose arms are the
mid-trained models and direct fine-tuning from the pre-trained one. The sweep is the main report's
(`sweep=<preset>`: its tasks, its space of post-training configurations chosen on validation); the
study only replaces its arms, and its seeds where `seeds` is set. The configs the study reads are
composed with Hydra's compose API, as the commands compose them."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from mpa_dist.train import checkpoint


def arm_name(amount) -> str:
    return "dft_all" if amount is None else f"dft_{amount}"


def _command(script: str) -> list[str]:
    return [sys.executable, "-m", "mpa_dist", script.removesuffix(".py")]


def _launch(script: str, *overrides: str) -> None:
    cmd = [*_command(script), *overrides]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def compose(config_name: str, overrides: list[str]):
    """The config the command `config_name` composes with these overrides (Hydra's compose API, not
    resolved). Inside the study's own Hydra app: its search path (a `--config-dir` included); elsewhere:
    the package's configs."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    import mpa_dist.train.resolvers  # noqa: F401  (the resolvers its interpolations use)

    if GlobalHydra.instance().is_initialized():
        return hydra_compose(config_name, overrides=list(overrides))
    from mpa_dist.cli import CONFIGS

    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        return hydra_compose(config_name, overrides=list(overrides))


def common_overrides(cfg) -> list[str]:
    """The overrides every phase of the study runs with."""
    return [f"experiment={cfg.preset}", f"name={cfg.name}", *cfg.overrides]


def posttrain_overrides(cfg, arms: dict[str, str], sweep_out: Path, run_dir: Path) -> list[str]:
    """The post-training sweep of the study: the sweep config `sweep_config` as the main report runs it
    (its tasks, its space of configurations, its selection on validation), with the study's arms in
    place of its own, the study's `seeds` (null: the sweep's), then `sweep_overrides`."""
    arms_override = "{" + ",".join(f"{k}:'{v}'" for k, v in arms.items()) + "}"
    seeds = [f"sweep.seeds=[{','.join(str(int(s)) for s in cfg.seeds)}]"] if cfg.seeds is not None else []
    return [*common_overrides(cfg), f"sweep={cfg.sweep_config}", "~sweep.arms", f"+sweep.arms={arms_override}",
            *seeds, f"sweep.out={sweep_out}", f"run_dir={run_dir}", *cfg.sweep_overrides]


def midtrain_overrides(amount, run_dir: Path, steps: int | None = None) -> list[str]:
    """Every first-principles source of mid-training limited to `amount` structures (0: none)."""
    extra = [f"steps={steps}"] if steps else []
    if amount == 0:
        return [f"run_dir={run_dir}", "data.dft_sources={}", "data.dft_share=[0.0,0.0]", *extra]
    n = "null" if amount is None else str(amount)
    return [f"run_dir={run_dir}", f"size.qm9={n}", f"size.composition_dft={n}", *extra]


def dft_structures(data_cfg, amount) -> dict[str, int]:
    """source -> first-principles structures mid-training draws from for `amount` per source (after
    the evaluation compounds are left out): the training splits of its dft_sources."""
    from mpa_dist.train import plan

    if amount == 0:
        return {}
    return {dataset: plan.manifest(plan.ensure_shards(data_cfg, dataset, amount))["splits"]["train"]["num_written"]
            for dataset in data_cfg.dft_sources}


def by_kind(per_source: dict[str, int]) -> dict[str, int]:
    """molecule | composition -> structures: the first-principles data each kind of task learns from."""
    from mpa_dist.data.catalog import registry

    out = {}
    for src, n in per_source.items():
        kind = registry.get(src).input
        out[kind] = out.get(kind, 0) + n
    return out


def structures_per_step(cfg, first_midtrain: Path) -> float:
    """The configured structures per mid-training step, or (null) the figure measured by the study's
    amount-0 mid-training, which runs first with the preset's steps: its result.json's
    speed.graphs_per_step (over all ranks, same batching config; the experimental part of the mixture)."""
    if cfg.structures_per_step:
        return float(cfg.structures_per_step)
    result = first_midtrain / "result.json"
    per_step = json.loads(result.read_text()).get("speed", {}).get("graphs_per_step") if result.exists() else None
    if not per_step:
        raise ValueError(f"scaling: structures_per_step=null takes the structures per step measured by the amount-0 "
                         f"mid-training ({result}, which {'has no speed.graphs_per_step' if result.exists() else 'does not exist'}); "
                         f"put 0 first in amounts, or set structures_per_step= (a mid-training's result.json "
                         f"speed.graphs_per_step)")
    return float(per_step)


def midtrain_steps(cfg, base_steps: int, n_dft: int, share: float, per_step: float | None = None) -> tuple[int, bool]:
    """(steps, capped). epochs mode: enough steps to see the first-principles data dft_epochs times at
    `share` of `per_step` structures a step (default: structures_per_step), and never fewer than the
    preset's (the experimental data is then seen at least as often as in the smallest arm); steps
    mode: the preset's."""
    if cfg.budget == "steps" or n_dft == 0:
        return base_steps, False
    per_step = per_step or cfg.structures_per_step
    need = math.ceil(cfg.dft_epochs * n_dft / (per_step * max(share, 1e-9)))
    steps = max(base_steps, need)
    cap = cfg.max_midtrain_steps
    return (min(steps, cap), True) if cap and steps > cap else (steps, False)


def run_scaling(cfg) -> Path:
    from mpa_dist.report.scaling_report import write_scaling

    out = Path(cfg.out).resolve()
    runs = out.parent
    common = common_overrides(cfg)
    pre = Path(cfg.pretrained).resolve() if cfg.pretrained else runs / "pretrain" / "model"
    if not checkpoint.exists(pre):
        _launch("pretrain.py", *common, f"run_dir={pre.parent}")
    if cfg.budget not in ("epochs", "steps"):
        raise ValueError(f"scaling.budget must be 'epochs' or 'steps', not {cfg.budget!r}")
    arms = {"direct": str(pre)}
    mid_cfg = compose("midtrain", common)  # its steps, shares and sources
    share = sum(mid_cfg.data.dft_share) / 2
    budgets, per_step = {}, None
    for amount in cfg.amounts:
        mid = runs / f"midtrain-{arm_name(amount)}"
        per_source = dft_structures(_with_amount(mid_cfg, amount).data, amount)
        n_dft = sum(per_source.values())
        if n_dft and per_step is None:
            per_step = structures_per_step(cfg, runs / f"midtrain-{arm_name(0)}")
        steps, capped = midtrain_steps(cfg, int(mid_cfg.steps), n_dft, share, per_step)
        budgets[arm_name(amount)] = {"dft_structures": n_dft,
                                     **{f"{k}_structures": n for k, n in sorted(by_kind(per_source).items())},
                                     "midtrain_steps": steps, "capped": capped,
                                     "dft_epochs_seen": steps * per_step * share / n_dft if n_dft else 0,
                                     "structures_per_step": per_step or 0}
        print(f"scaling: {arm_name(amount)}: {n_dft} first-principles structures, {steps} mid-training steps"
              f"{' (capped)' if capped else ''}", flush=True)
        if not checkpoint.exists(mid / "model"):
            _launch("midtrain.py", *common, f"init_from={pre}", *midtrain_overrides(amount, mid, steps))
        arms[arm_name(amount)] = str(mid / "model")
    sweep_out = out / "sweep"
    post = posttrain_overrides(cfg, arms, sweep_out, out / "posttrain")
    _launch("posttrain.py", *post)
    from mpa_dist.tune.sweep import base_config

    base = base_config(compose("posttrain", post))  # the config the sweep's trials started from
    entries = out / "entries.csv"
    try:
        score_entries(sweep_out, base, workers=base["sweep"]["num_cpus"]).to_csv(entries, index=False)
    except Exception as e:  # the sweep's results stand; the report says its intervals are missing
        print(f"scaling: the per-entry test errors could not be scored ({type(e).__name__}: {e}); "
              f"the report has no paired intervals", flush=True)
        entries.unlink(missing_ok=True)
    amounts = {arm_name(a): a for a in cfg.amounts}
    sw = base["sweep"]
    posttrain = {"sweep": cfg.sweep_config, "space": sw["space"], "num_samples": sw["num_samples"],
                 "seeds": sw["seeds"], "tasks": sw["tasks"]}
    return write_scaling(out, sweep_out / "results.csv", amounts, OmegaConf.to_container(cfg) | {"posttrain": posttrain},
                         budgets)


def _score(job: tuple[str, dict, str, str]) -> dict:
    from mpa_dist.tune.testing import score_export

    return score_export(*job)


def score_entries(sweep_out: Path, base: dict, workers: int | None = None, score=None):
    """Every selected model arm's test errors, entry by entry (task, split, arm, seed, key, y, p): what the
    paired bootstrap intervals of the report resample. The sweep's published models (sweep/best/) scored
    again on test, as the sweep scored them (score_export: the same config, the same entries).
    `workers` processes (null: the CPUs, at most 4: the sweep's num_cpus); `score` replaces score_export."""
    import os

    import numpy as np
    import pandas as pd

    from mpa_dist.baselines.run import BASELINES

    results = pd.read_csv(Path(sweep_out) / "results.csv")
    models = results[~results["arm"].isin(BASELINES) & results["mae"].notna()]
    jobs = [(str(Path(sweep_out) / r.model), base, r.task, r.split) for r in models.itertuples()]
    if score is not None:
        scored = [score(*j) for j in jobs]
    else:
        n = max(1, min(workers or os.cpu_count() or 1, 4, len(jobs)))
        if n == 1:
            scored = [_score(j) for j in jobs]
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
                scored = list(pool.map(_score, jobs))
    frames = []
    for r, s in zip(models.itertuples(), scored):
        if s.get("classification") or len(s["keys"]) != len(s["y"]) or len(s["y"]) != len(s["p"]):
            continue  # no one error per entry to pair
        frames.append(pd.DataFrame({"task": r.task, "split": r.split, "arm": r.arm, "seed": r.seed,
                                    "key": np.asarray(s["keys"], dtype=str), "y": np.asarray(s["y"], float),
                                    "p": np.asarray(s["p"], float)}))
    cols = ["task", "split", "arm", "seed", "key", "y", "p"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def _with_amount(cfg, amount):
    c = OmegaConf.create(OmegaConf.to_container(cfg))
    n = None if amount is None else amount
    c.size.qm9, c.size.composition_dft = n, n
    return OmegaConf.create(OmegaConf.to_container(c, resolve=True))
