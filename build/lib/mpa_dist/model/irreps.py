"""The irreps of the hidden features and the bookkeeping that splits them into heads.

Only natural-parity irreps (0e, 1o, 2e, 3o, ...) are kept: those are what products of
spherical harmonics of edge vectors generate, and what dipoles and polarizabilities are.
"""

from __future__ import annotations

import torch
from e3nn import o3


def natural(l: int) -> o3.Irrep:
    return o3.Irrep(l, (-1) ** l)


def hidden_irreps(channels: int, vector_channels: int, lmax: int) -> o3.Irreps:
    """`channels` scalars, then `vector_channels` copies of each l = 1..lmax; scalars come first."""
    return o3.Irreps([(channels, natural(0))] + [(vector_channels, natural(l)) for l in range(1, lmax + 1)])


def weight_heads(irreps_in: o3.Irreps, instructions, num_heads: int) -> torch.Tensor:
    """For each weight of a channel-wise ("uvu") tensor product, the attention head of its channel.

    The product is linear in its weights, so scaling weight u of a path by head h's attention
    equals scaling the output channel u: E x weights numbers instead of E x components.
    """
    out = []
    for i_in, *_ in instructions:
        mul, ir = irreps_in[i_in]
        if mul % num_heads:
            raise ValueError(f"multiplicity {mul} of {ir} is not divisible by num_heads={num_heads}")
        out.append(torch.arange(mul) // (mul // num_heads))
    return torch.cat(out)


def irrep_slice(irreps: o3.Irreps, l: int) -> slice:
    """The components of the (single) block of degree l in irreps."""
    for (mul, ir), s in zip(irreps, irreps.slices()):
        if ir.l == l:
            return s
    raise KeyError(f"no l={l} block in {irreps}")


def num_scalars(irreps: o3.Irreps) -> int:
    mul, ir = irreps[0]
    assert ir.l == 0, f"scalars must come first in {irreps}"
    return mul
