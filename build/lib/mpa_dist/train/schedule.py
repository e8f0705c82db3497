"""Learning rate as a pure function of the step (nothing to checkpoint): linear warm-up,
then cosine decay to min_lr_ratio, or constant."""

from __future__ import annotations

import math


def lr_factor(step: int, total: int, warmup: int, kind: str, min_ratio: float) -> float:
    if warmup and step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    t = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def apply(optimizer, step: int, total: int, optim_cfg) -> float:
    f = lr_factor(step, total, optim_cfg.warmup_steps, optim_cfg.schedule, optim_cfg.min_lr_ratio)
    for g in optimizer.param_groups:
        g["lr"] = 0.0 if step < g.get("frozen_until", 0) else g["base_lr"] * f
    return f * optim_cfg.lr
