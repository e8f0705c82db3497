"""Validation and test metrics in the units a task trains in (physical, or log10 of them).

Conformers of one molecule are averaged into one prediction before the error is taken.
Sums and counts are reduced over ranks, so the metric covers the whole split exactly once.
"""

from __future__ import annotations

import torch

from mpa_dist.model.conformers import aggregate_conformers
from mpa_dist.train import distributed as dist
from mpa_dist.train.losses import split_output
from mpa_dist.train.norms import apply_transforms


@torch.no_grad()
def evaluate(model, loader, device, dtype, vocab: dict[str, int], transforms: dict[str, str],
             max_batches: int = 0, collect: dict | None = None) -> dict:
    """Metrics per output; with `collect` (a dict), also the (label, prediction) pairs of every
    entry in training units, appended to collect[output] as numpy arrays (for parity plots)."""
    model.eval()
    kinds = model.output_kinds()
    names = [k for k, (kind, _) in kinds.items() if kind not in ("forces", "stress")]
    sums = {n: torch.zeros(3, dtype=torch.float64, device=device) for n in names}  # |err|, err^2 or correct, rows
    for i, batch in enumerate(loader):
        if max_batches and i >= max_batches:
            break
        batch = batch.to(device, dtype)
        apply_transforms(batch, transforms)
        phys = model.to_physical(model(batch), batch)
        groups, agg = aggregate_conformers({n: phys[n] for n in names if n in phys}, batch.groups)
        first = {g: k for k, g in reversed(list(enumerate(batch.groups)))}
        rows = torch.tensor([first[g] for g in groups], device=device)
        for n in names:
            label, src = split_output(n)
            if label not in batch.labels or n not in agg:
                continue
            m = batch.label_mask[label][rows]
            if src:
                m = m & (batch.source[rows] == vocab.get(src, -1))
            if not m.any():
                continue
            y, p = batch.labels[label][rows][m].double(), agg[n][m].double()
            if collect is not None:
                collect.setdefault(n, []).append((y.cpu().numpy(), (p.argmax(-1) if kinds[n][0] == "logits"
                                                                    else p).cpu().numpy()))
            if kinds[n][0] == "logits":
                p = p.argmax(-1).double()
                sums[n] += torch.stack([(p == y.round()).sum().double(), torch.zeros((), dtype=torch.float64,
                                        device=device), torch.tensor(float(len(y)), device=device).double()])
            else:
                e = (p - y).reshape(len(y), -1)
                sums[n] += torch.stack([e.abs().mean(-1).sum(), e.pow(2).mean(-1).sum(),
                                        torch.tensor(float(len(y)), device=device).double()])
    out = {}
    for n in names:
        s = dist.all_sum(sums[n])
        if s[2] == 0:
            continue
        if kinds[n][0] == "logits":
            out[f"accuracy/{n}"] = float(s[0] / s[2])
        else:
            out[f"mae/{n}"] = float(s[0] / s[2])
            out[f"rmse/{n}"] = float((s[1] / s[2]).sqrt())
        out[f"count/{n}"] = int(s[2])
    return out
