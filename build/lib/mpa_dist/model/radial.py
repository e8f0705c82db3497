"""Edge geometry: vectors with periodic shifts, a Bessel radial basis under a smooth
polynomial envelope, and spherical harmonics of the edge directions."""

from __future__ import annotations

import math

import torch
from e3nn import o3
from torch import nn


def edge_vectors(batch, pos: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """pos[j] - pos[i] + shift @ cell[graph[i]], differentiable in pos and cell (for forces and stress)."""
    i, j = batch.edge_index
    shift = torch.einsum("ek,ekl->el", batch.edge_shift.to(pos.dtype), cell[batch.graph[i]])
    return pos[j] - pos[i] + shift


class PolynomialEnvelope(nn.Module):
    """1 at r = 0, 0 at the cutoff with zero first and second derivatives (DimeNet, p = 6)."""

    def __init__(self, cutoff: float, p: int = 6):
        super().__init__()
        self.cutoff, self.p = float(cutoff), p

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        p, d = self.p, r / self.cutoff
        env = 1 - (p + 1) * (p + 2) / 2 * d**p + p * (p + 2) * d ** (p + 1) - p * (p + 1) / 2 * d ** (p + 2)
        return env * (d < 1).to(r.dtype)


class BesselBasis(nn.Module):
    """sqrt(2/c) sin(n pi r / c) / r, n = 1..num_radial, with trainable frequencies."""

    def __init__(self, cutoff: float, num_radial: int):
        super().__init__()
        self.cutoff = float(cutoff)
        self.freq = nn.Parameter(math.pi * torch.arange(1, num_radial + 1, dtype=torch.get_default_dtype()))

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        r = r.clamp_min(1e-6).unsqueeze(-1)
        return math.sqrt(2.0 / self.cutoff) * torch.sin(self.freq * r / self.cutoff) / r


class EdgeEncoding(nn.Module):
    """Returns (radial basis times envelope (E, num_radial), envelope (E,), harmonics (E, sh dim))."""

    def __init__(self, cutoff: float, num_radial: int, lmax: int):
        super().__init__()
        self.basis = BesselBasis(cutoff, num_radial)
        self.envelope = PolynomialEnvelope(cutoff)
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        self.sh = o3.SphericalHarmonics(self.irreps_sh, normalize=True, normalization="component")

    def forward(self, vec: torch.Tensor):
        r = vec.norm(dim=-1)
        env = self.envelope(r)
        return self.basis(r) * env.unsqueeze(-1), env, self.sh(vec)
