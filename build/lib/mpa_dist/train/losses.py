"""Masked multi-task losses on normalised targets: Huber by default, cross-entropy for classes."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mpa_dist.model.outputs import source_mask

LOSSES = ("huber", "mse", "l1")


def regression(pred: torch.Tensor, target: torch.Tensor, kind: str, delta: float) -> torch.Tensor:
    """Elementwise loss summed over trailing dims: one value per row."""
    if kind == "huber":
        e = F.huber_loss(pred, target, reduction="none", delta=delta)
    elif kind == "mse":
        e = (pred - target) ** 2
    elif kind == "l1":
        e = (pred - target).abs()
    else:
        raise ValueError(f"loss must be one of {LOSSES}, not {kind!r}")
    return e.reshape(e.shape[0], -1).mean(-1)


def output_losses(model, out: dict, batch, source_ids: dict[str, int], kind: str = "huber", delta: float = 1.0,
                  weights: dict[str, float] | None = None) -> tuple[torch.Tensor, dict[str, tuple[float, int]]]:
    """Total loss and per-output (sum of losses, rows) for logging.

    A head `label@source` learns only from records of that source; per-atom outputs (forces)
    take the mask of their graph. Rows without a label are masked out, never zero-filled.
    """
    specs = model.output_specs()
    total = out[next(iter(out))].new_zeros(())
    parts = {}
    for name, (y, mask) in model.normalise_labels(batch).items():
        if name not in out:
            continue
        spec = specs[name]
        mask = mask & source_mask(spec, batch.source, source_ids)
        pred = out[name]
        if spec.per_atom:
            mask = mask[batch.graph]
        if not mask.any():
            continue
        if spec.kind == "logits":
            rows = F.cross_entropy(pred[mask], y[mask].round().long(), reduction="none")
        else:
            rows = regression(pred[mask], y[mask].to(pred.dtype), kind, delta)
        w = (weights or {}).get(spec.label, 1.0)
        total = total + w * rows.mean()
        parts[name] = (float(rows.detach().sum()), int(mask.sum()))
    return total, parts
