"""Gated equivariant feed-forward block: Linear -> Gate -> Linear.

The gate (e3nn.nn.Gate) applies SiLU to scalars and multiplies each l > 0 channel by a
sigmoid of its own gate scalar, the equivariant counterpart of a GLU.
"""

from __future__ import annotations

import torch
from e3nn import o3
from e3nn.nn import Gate
from torch import nn


class GatedFeedForward(nn.Module):
    def __init__(self, irreps: o3.Irreps, mult: int = 2):
        super().__init__()
        irreps = o3.Irreps(irreps)
        scalars = o3.Irreps([(mult * mul, ir) for mul, ir in irreps if ir.l == 0])
        gated = o3.Irreps([(mult * mul, ir) for mul, ir in irreps if ir.l > 0])
        gates = o3.Irreps([(gated.num_irreps, (0, 1))])
        self.gate = Gate(scalars, [torch.nn.functional.silu], gates, [torch.sigmoid], gated)
        self.up = o3.Linear(irreps, self.gate.irreps_in)
        self.down = o3.Linear(self.gate.irreps_out, irreps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.gate(self.up(x)))
