"""The scaling study: the phases run as users run them (their commands, `python -m mpa_dist <phase>`,
as subprocesses in the current folder),
one mid-training per amount of first-principles data, then one sweep whose arms are the
mid-trained models and direct fine-tuning from the pre-trained one."""

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
    common = [f"experiment={cfg.preset}", f"name={cfg.name}", *cfg.overrides]
    pre = Path(cfg.pretrained).resolve() if cfg.pretrained else runs / "pretrain" / "model"
    if not checkpoint.exists(pre):
        _launch("pretrain.py", *common, f"run_dir={pre.parent}")
    if cfg.budget not in ("epochs", "steps"):
        raise ValueError(f"scaling.budget must be 'epochs' or 'steps', not {cfg.budget!r}")
    arms = {"direct": str(pre)}
    mid_cfg = _midtrain_config(common)
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
    arms_override = "{" + ",".join(f"{k}:'{v}'" for k, v in arms.items()) + "}"
    sweep_out = out / "sweep"
    _launch("posttrain.py", *common, f"sweep={cfg.sweep_config}", "~sweep.arms", f"+sweep.arms={arms_override}",
            f"sweep.out={sweep_out}", f"run_dir={out / 'posttrain'}", *cfg.sweep_overrides)
    amounts = {arm_name(a): a for a in cfg.amounts}
    return write_scaling(out, sweep_out / "results.csv", amounts, OmegaConf.to_container(cfg), budgets)


def _midtrain_config(common: list[str]):
    """The mid-training config the study's launches compose (its steps, shares and sources), printed by
    the launcher itself (`--cfg job`): the study runs inside a Hydra app, which cannot compose another."""
    cmd = [*_command("midtrain"), *common, "--cfg", "job"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    import mpa_dist.train.resolvers  # noqa: F401  (the resolvers its interpolations use)

    return OmegaConf.create(out)


def _with_amount(cfg, amount):
    c = OmegaConf.create(OmegaConf.to_container(cfg))
    n = None if amount is None else amount
    c.size.qm9, c.size.composition_dft = n, n
    return OmegaConf.create(OmegaConf.to_container(c, resolve=True))
