"""The scaling study: the phases run as users run them (their launchers, as subprocesses),
one mid-training per amount of first-principles data, then one sweep whose arms are the
mid-trained models and direct fine-tuning from the pre-trained one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[2]


def arm_name(amount) -> str:
    return "dft_all" if amount is None else f"dft_{amount}"


def _launch(script: str, *overrides: str) -> None:
    cmd = [sys.executable, str(ROOT / "launch" / script), *overrides]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def midtrain_overrides(amount, run_dir: Path) -> list[str]:
    """Every first-principles source of mid-training limited to `amount` structures (0: none)."""
    if amount == 0:
        return [f"run_dir={run_dir}", "data.dft_sources={}", "data.dft_share=[0.0,0.0]"]
    n = "null" if amount is None else str(amount)
    return [f"run_dir={run_dir}", f"size.qm9={n}", f"size.composition_dft={n}"]


def run_scaling(cfg) -> Path:
    from mpa_dist.report.scaling_report import write_scaling

    out = Path(cfg.out).resolve()
    runs = out.parent
    common = [f"experiment={cfg.preset}", f"name={cfg.name}", *cfg.overrides]
    pre = Path(cfg.pretrained).resolve() if cfg.pretrained else runs / "pretrain" / "model"
    if not pre.with_suffix(".json").exists():
        _launch("pretrain.py", *common, f"run_dir={pre.parent}")
    arms = {"direct": str(pre)}
    for amount in cfg.amounts:
        mid = runs / f"midtrain-{arm_name(amount)}"
        if not (mid / "model.json").exists():
            _launch("midtrain.py", *common, f"init_from={pre}", *midtrain_overrides(amount, mid))
        arms[arm_name(amount)] = str(mid / "model")
    arms_override = "{" + ",".join(f"{k}:'{v}'" for k, v in arms.items()) + "}"
    sweep_out = out / "sweep"
    _launch("posttrain.py", *common, f"sweep={cfg.sweep_config}", "~sweep.arms", f"+sweep.arms={arms_override}",
            f"sweep.out={sweep_out}", f"run_dir={out / 'posttrain'}", *cfg.sweep_overrides)
    amounts = {arm_name(a): a for a in cfg.amounts}
    return write_scaling(out, sweep_out / "results.csv", amounts, OmegaConf.to_container(cfg))
