"""Validation and test metrics in the units a task trains in (physical, or log10 of them).

Conformers of one molecule are averaged into one prediction before the error is taken. Each
output has one small accumulator for its kind (errors for values, hits for classes) whose sums
and counts are reduced over ranks, so a metric covers the whole split exactly once.
"""

from __future__ import annotations

import numpy as np
import torch

from mpa_dist.data.record import entry_key
from mpa_dist.model.conformers import aggregate_conformers
from mpa_dist.model.outputs import OutputSpec, source_mask
from mpa_dist.train import distributed as dist
from mpa_dist.train.norms import apply_transforms


class ErrorMetric:
    """mae, rmse (over the mean of each entry's components) and count of a value output."""

    def __init__(self, name: str, device):
        self.name, self.sums = name, torch.zeros(3, dtype=torch.float64, device=device)  # |err|, err^2, rows

    def add(self, y: torch.Tensor, p: torch.Tensor) -> None:
        e = (p - y).reshape(len(y), -1)
        self.sums += torch.stack([e.abs().mean(-1).sum(), e.pow(2).mean(-1).sum(), e.new_tensor(float(len(y)))])

    def result(self) -> dict:
        s = dist.all_sum(self.sums)
        if s[2] == 0:
            return {}
        return {f"mae/{self.name}": float(s[0] / s[2]), f"rmse/{self.name}": float((s[1] / s[2]).sqrt()),
                f"count/{self.name}": int(s[2])}


class AccuracyMetric:
    """accuracy and count of a classification output (logits; the label is the class index)."""

    def __init__(self, name: str, device):
        self.name, self.sums = name, torch.zeros(2, dtype=torch.float64, device=device)  # hits, rows

    @staticmethod
    def predicted(p: torch.Tensor) -> torch.Tensor:
        return p.argmax(-1).double()

    def add(self, y: torch.Tensor, p: torch.Tensor) -> None:
        self.sums += torch.stack([(self.predicted(p) == y.round()).sum().double(), y.new_tensor(float(len(y)))])

    def result(self) -> dict:
        s = dist.all_sum(self.sums)
        if s[1] == 0:
            return {}
        return {f"accuracy/{self.name}": float(s[0] / s[1]), f"count/{self.name}": int(s[1])}


def metric_for(spec: OutputSpec, device):
    return AccuracyMetric(spec.name, device) if spec.metric == "accuracy" else ErrorMetric(spec.name, device)


@torch.no_grad()
def evaluate(model, loader, device, dtype, vocab: dict[str, int], transforms: dict[str, str],
             max_batches: int = 0, collect: dict | None = None) -> dict:
    """Metrics per output; with `collect` (a dict), also the (label, prediction, entry key) of every
    entry in training units, appended to collect[output] as numpy arrays (for parity plots and
    paired comparisons with other models on the same entries)."""
    model.eval()
    specs = {n: s for n, s in model.output_specs().items() if s.metric != "none"}
    metrics = {n: metric_for(s, device) for n, s in specs.items()}
    for i, batch in enumerate(loader):
        if max_batches and i >= max_batches:
            break
        batch = batch.to(device, dtype)
        apply_transforms(batch, transforms)
        phys = model.to_physical(model(batch), batch)
        groups, agg = aggregate_conformers({n: phys[n] for n in specs if n in phys}, batch.groups)
        first = {g: k for k, g in reversed(list(enumerate(batch.groups)))}
        rows = torch.tensor([first[g] for g in groups], device=device)
        for n, spec in specs.items():
            if spec.label not in batch.labels or n not in agg:
                continue
            m = batch.label_mask[spec.label][rows] & source_mask(spec, batch.source[rows], vocab)
            if not m.any():
                continue
            y, p = batch.labels[spec.label][rows][m].double(), agg[n][m].double()
            if collect is not None:
                shown = AccuracyMetric.predicted(p) if spec.metric == "accuracy" else p
                keys = np.array([entry_key(batch.keys[r]) for r in rows[m].tolist()], dtype=object)
                collect.setdefault(n, []).append((y.cpu().numpy(), shown.cpu().numpy(), keys))
            metrics[n].add(y, p)
    out = {}
    for m in metrics.values():
        out.update(m.result())
    return out
