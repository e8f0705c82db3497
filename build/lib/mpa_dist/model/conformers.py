"""Aggregate predictions of several conformers of one molecule into one (batch.groups)."""

from __future__ import annotations

import torch

from mpa_dist.model.scatter import scatter_sum


def aggregate_conformers(pred: dict[str, torch.Tensor], groups: list[str], how: str = "mean"):
    """Per-graph outputs (leading dim G) -> per-group outputs, groups in order of first appearance.

    how: "mean" (default) or "min" (e.g. the lowest-energy conformer). Per-atom outputs
    (forces) have no group meaning and are dropped.
    """
    names = list(dict.fromkeys(groups))
    index = torch.tensor([names.index(g) for g in groups])
    out = {}
    for key, y in pred.items():
        if y.shape[0] != len(groups):
            continue
        idx = index.to(y.device)
        if how == "mean":
            count = scatter_sum(torch.ones_like(idx, dtype=y.dtype), idx, len(names))
            out[key] = scatter_sum(y, idx, len(names)) / count.view(-1, *([1] * (y.dim() - 1)))
        elif how == "min":
            full = idx.view(-1, *([1] * (y.dim() - 1))).expand_as(y)
            out[key] = torch.full((len(names),) + y.shape[1:], float("inf"), dtype=y.dtype,
                                  device=y.device).scatter_reduce(0, full, y, "amin")
        else:
            raise ValueError(f"unknown conformer aggregation {how!r}: use 'mean' or 'min'")
    return names, out
