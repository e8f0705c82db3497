"""Equivariant layer normalisation (Equiformer-v2's balanced RMS norm over degrees).

Scalars are centred; then every degree is divided by one invariant, the root of the mean
over degrees of each degree's mean square, and scaled per channel (scalars also get a
bias). Sharing one denominator across degrees matters: dividing a degree by its own norm
is singular where symmetry makes it vanish (the l = 1 features of methane's carbon), and
made forces disagree with finite differences there.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn


class EquivariantLayerNorm(nn.Module):
    def __init__(self, irreps: o3.Irreps, eps: float = 1e-5):
        super().__init__()
        self.irreps = o3.Irreps(irreps)
        self.eps = eps
        self.blocks = [(mul, ir.l, ir.dim) for mul, ir in self.irreps]
        self.weight = nn.Parameter(torch.ones(sum(mul for mul, _ in self.irreps)))
        self.bias = nn.Parameter(torch.zeros(sum(mul for mul, ir in self.irreps if ir.l == 0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, start = [], 0
        for mul, l, dim in self.blocks:
            f = x[:, start:start + mul * dim].reshape(-1, mul, dim)
            feats.append(f - f.mean(dim=1, keepdim=True) if l == 0 else f)
            start += mul * dim
        ms = torch.stack([f.pow(2).mean(dim=(1, 2)) for f in feats], -1).mean(-1)  # (N,)
        inv = torch.rsqrt(ms + self.eps)[:, None, None]
        out, wstart, bstart = [], 0, 0
        for f, (mul, l, dim) in zip(feats, self.blocks):
            f = f * inv * self.weight[wstart:wstart + mul].view(1, -1, 1)
            if l == 0:
                f = f + self.bias[bstart:bstart + mul].view(1, -1, 1)
                bstart += mul
            out.append(f.reshape(-1, mul * dim))
            wstart += mul
        return torch.cat(out, dim=-1)
