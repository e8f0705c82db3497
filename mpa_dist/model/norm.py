"""Equivariant layer normalisation (in the manner of Equiformer's EquivariantLayerNormV2).

Scalars get an ordinary layer norm. Each block of degree l > 0 is divided by the root mean
square of its components over channels, which commutes with rotations, and scaled per
channel; it gets no bias and no mean subtraction, which would break equivariance.
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
        num_scalars = sum(mul for mul, ir in self.irreps if ir.l == 0)
        self.bias = nn.Parameter(torch.zeros(num_scalars))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, start, wstart, bstart = [], 0, 0, 0
        for mul, l, dim in self.blocks:
            f = x[:, start:start + mul * dim].reshape(-1, mul, dim)
            w = self.weight[wstart:wstart + mul]
            if l == 0:
                f = f.squeeze(-1)
                f = f - f.mean(dim=1, keepdim=True)
                f = f * torch.rsqrt(f.pow(2).mean(dim=1, keepdim=True) + self.eps)
                out.append(f * w + self.bias[bstart:bstart + mul])
                bstart += mul
            else:
                rms = torch.rsqrt(f.pow(2).mean(dim=(1, 2), keepdim=True) + self.eps)
                out.append((f * rms * w.view(1, -1, 1)).reshape(-1, mul * dim))
            start += mul * dim
            wstart += mul
        return torch.cat(out, dim=-1)
