"""Global invariant attention over all nodes of one structure.

Acts on the scalar channels only (so it cannot break equivariance) and reaches beyond the
cutoff, for long-range and non-additive properties. It is also the only mixing a bare
composition gets: its element tokens have no edges. A node of weight w (atom_weight) enters
the softmax as w copies of itself (log w added to its key logits), so Fe2O3 as two tokens
weighted 2 and 3 equals five explicit atoms with the same features, and a supercell gives
the same per-atom features as its unit cell.
"""

from __future__ import annotations

import torch
from torch import nn

from mpa_dist.model.scatter import dense_index


class GlobalAttention(nn.Module):
    def __init__(self, channels: int, num_heads: int, mlp_mult: int = 2):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"channels={channels} not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, mlp_mult * channels), nn.SiLU(),
                                 nn.Linear(mlp_mult * channels, channels))

    def forward(self, s: torch.Tensor, batch) -> torch.Tensor:
        n, c = s.shape
        H, G = self.num_heads, batch.num_graphs
        slot, n_max = dense_index(batch)
        proj = self.qkv(self.norm1(s))  # bf16 under autocast
        qkv = proj.new_zeros(G, n_max, 3 * c).index_put((batch.graph, slot), proj)
        q, k, v = qkv.view(G, n_max, 3, H, c // H).permute(2, 0, 3, 1, 4)  # each (G, H, n_max, d)
        bias = proj.new_full((G, n_max), float("-inf")).index_put(
            (batch.graph, slot), torch.log(batch.atom_weight.to(proj.dtype)))
        # written out rather than F.scaled_dot_product_attention: forces in training need a
        # double backward, which the fused CPU kernel does not implement
        att = torch.softmax(q @ k.transpose(-1, -2) / (c // H) ** 0.5 + bias[:, None, None, :], dim=-1)
        out = att @ v
        out = out.permute(0, 2, 1, 3).reshape(G, n_max, c)[batch.graph, slot]
        s = s + self.proj(out)
        return s + self.mlp(self.norm2(s))
