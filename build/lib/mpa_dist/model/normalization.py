"""Target normalisation as state_dict buffers: shift, scale and per-element references.

The model predicts in normalised units; physical = scale * normalised + shift (+ the sum of
per-element references over the atoms, for extensive targets). `fit` sets them from data:
a least-squares fit of the target on element counts, then the spread of what is left.
"""

from __future__ import annotations

import torch
from torch import nn

from mpa_dist.model.scatter import graph_sum


class TargetNorm(nn.Module):
    """kind: "scalar" (shift, scale, optional element references), "vector" (scale only),
    "tensor" (scale, and shift times the identity) or "logits" (left as they are)."""

    def __init__(self, kind: str, max_z: int, element_reference: bool = False):
        super().__init__()
        self.kind = kind
        self.register_buffer("shift", torch.zeros(()))
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("element_ref", torch.zeros(max_z + 1) if element_reference else None)

    def reference(self, batch, dtype) -> torch.Tensor:
        return graph_sum(self.element_ref.to(dtype)[batch.numbers], batch)

    def _offset(self, y: torch.Tensor, batch) -> torch.Tensor | float:
        if self.kind == "scalar":
            off = self.shift.to(y.dtype)
            return off + self.reference(batch, y.dtype) if self.element_ref is not None else off
        if self.kind == "tensor":
            return self.shift.to(y.dtype) * torch.eye(3, dtype=y.dtype, device=y.device)
        return 0.0

    def to_physical(self, y: torch.Tensor, batch) -> torch.Tensor:
        if self.kind == "logits":
            return y
        return y * self.scale.to(y.dtype) + self._offset(y, batch)

    def to_normalised(self, y: torch.Tensor, batch) -> torch.Tensor:
        if self.kind == "logits":
            return y
        return (y - self._offset(y, batch)) / self.scale.to(y.dtype)

    @torch.no_grad()
    def fit(self, y: torch.Tensor, counts: torch.Tensor | None = None) -> None:
        """y: targets (G, ...) in physical units; counts: (G, max_z + 1) atoms of each element."""
        y = y.double()
        if self.kind == "vector":
            self.scale.fill_(float(y.reshape(len(y), -1).norm(dim=-1).pow(2).mean().sqrt().clamp_min(1e-12)))
        elif self.kind == "tensor":
            iso = y.diagonal(dim1=-2, dim2=-1).mean(-1)
            self.shift.fill_(float(iso.mean()))
            self.scale.fill_(float((y - iso.mean() * torch.eye(3, dtype=y.dtype)).std().clamp_min(1e-12)))
        elif self.kind == "scalar":
            if self.element_ref is not None and counts is not None:
                ref = torch.linalg.lstsq(counts.double(), y.unsqueeze(-1), driver="gelsd").solution.squeeze(-1)
                self.element_ref.copy_(ref)
                y = y - counts.double() @ ref
                self.shift.zero_()
            else:
                self.shift.fill_(float(y.mean()))
                y = y - y.mean()
            self.scale.fill_(float(y.std().clamp_min(1e-12)) if len(y) > 1 else 1.0)


def element_counts(batch, max_z: int) -> torch.Tensor:
    """(G, max_z + 1): atoms of each element per graph (amounts for compositions)."""
    onehot = torch.nn.functional.one_hot(batch.numbers, max_z + 1).to(batch.atom_weight.dtype)
    return graph_sum(onehot, batch)
