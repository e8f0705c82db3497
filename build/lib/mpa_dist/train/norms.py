"""Target transforms (log10 for positive wide-range properties) and normalisation fitted on
training data only, stored as buffers in the model (and so in every checkpoint)."""

from __future__ import annotations

import torch

from mpa_dist.model import element_counts
from mpa_dist.model.outputs import parse, source_mask


def apply_transforms(batch, transforms: dict[str, str]) -> None:
    """In place: labels move to the space they train in (log10 of the value for `log10`)."""
    for name, kind in transforms.items():
        if name in batch.labels:
            y = batch.labels[name]
            if kind == "log10":
                batch.labels[name] = torch.where(batch.label_mask[name], torch.log10(y.clamp_min(1e-300)), y)
            elif kind == "log10_neg":
                batch.labels[name] = torch.where(batch.label_mask[name], torch.log10((-y).clamp_min(1e-300)), y)
            else:
                raise ValueError(f"unknown transform {kind!r} for {name!r}")


@torch.no_grad()
def fit_norms(model, head_names: list[str], loader, transforms: dict[str, str], max_samples: int,
              vocab: dict[str, int] | None = None) -> dict[str, int]:
    """Fit shift, scale and element references of the named heads on up to max_samples
    training structures. Every rank reads the same data, so the buffers agree without a broadcast."""
    if not head_names:
        return {}
    max_z = model.backbone.embedding.atom.num_embeddings - 1
    ys: dict[str, list] = {h: [] for h in head_names}
    counts: dict[str, list] = {h: [] for h in head_names}
    seen = 0
    for batch in loader:
        apply_transforms(batch, transforms)
        c = element_counts(batch, max_z)
        for h in head_names:
            spec = parse(h)
            label = spec.label
            if label not in batch.labels:
                continue
            m = batch.label_mask[label]
            if vocab is not None:
                m = m & source_mask(spec, batch.source, vocab)
            if batch.labels[label].shape[0] != m.shape[0]:  # per-atom labels carry no structure-level norm
                continue
            ys[h].append(batch.labels[label][m].double())
            counts[h].append(c[m].double())
        seen += batch.num_graphs
        if seen >= max_samples:
            break
    fitted = {}
    for h in head_names:
        head = model.heads[h]
        if head.norm.kind == "logits" or not ys[h]:
            continue
        y, cnt = torch.cat(ys[h]), torch.cat(counts[h])
        if head.norm.element_ref is not None and y.dim() != 1:
            raise ValueError(f"head {h!r}: element references need a scalar label, got shape {tuple(y.shape[1:])}")
        if len(y):
            head.norm.fit(y, cnt if head.norm.element_ref is not None else None)
            fitted[h] = len(y)
    return fitted
