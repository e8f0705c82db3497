"""One transformer layer: pre-norm equivariant graph attention and a pre-norm gated
feed-forward block, each with a residual, then (optionally) global attention on scalars."""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from mpa_dist.model.attention import EquivariantGraphAttention
from mpa_dist.model.feedforward import GatedFeedForward
from mpa_dist.model.global_attention import GlobalAttention
from mpa_dist.model.irreps import num_scalars
from mpa_dist.model.norm import EquivariantLayerNorm


class TransformerLayer(nn.Module):
    def __init__(self, irreps_in: o3.Irreps, irreps_hidden: o3.Irreps, irreps_sh: o3.Irreps, lmax: int,
                 num_radial: int, num_heads: int, radial_hidden: int, attn_dim: int, ffn_mult: int,
                 global_attention: bool, accelerate: str | None = None):
        super().__init__()
        self.irreps_in, self.irreps_hidden = o3.Irreps(irreps_in), o3.Irreps(irreps_hidden)
        # scalars come first in both, so a narrower input is the hidden features' prefix
        self.pad = self.irreps_hidden.dim - self.irreps_in.dim
        self.norm1 = EquivariantLayerNorm(self.irreps_in)
        self.attn = EquivariantGraphAttention(self.irreps_in, self.irreps_hidden, irreps_sh, lmax, num_radial,
                                              num_heads, radial_hidden, attn_dim, accelerate)
        self.norm2 = EquivariantLayerNorm(self.irreps_hidden)
        self.ffn = GatedFeedForward(self.irreps_hidden, ffn_mult)
        c = num_scalars(self.irreps_hidden)
        self.global_attn = GlobalAttention(c, num_heads) if global_attention else None

    def forward(self, x: torch.Tensor, batch, rbf, env, sh) -> torch.Tensor:
        h = self.attn(self.norm1(x), batch.edge_index, rbf, env, sh)
        x = h + (torch.nn.functional.pad(x, (0, self.pad)) if self.pad else x)
        x = x + self.ffn(self.norm2(x))
        if self.global_attn is not None:
            c = self.global_attn.norm1.normalized_shape[0]
            x = torch.cat([self.global_attn(x[:, :c], batch), x[:, c:]], dim=-1)
        return x
