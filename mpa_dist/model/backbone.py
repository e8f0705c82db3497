"""The trunk: node embedding, edge encoding, and a stack of transformer layers.

Returns node features in `irreps` (scalars first); readouts live in heads.py.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from mpa_dist.data.elements import element_properties, standardised
from mpa_dist.model.embedding import NodeEmbedding
from mpa_dist.model.irreps import hidden_irreps
from mpa_dist.model.layer import TransformerLayer
from mpa_dist.model.radial import EdgeEncoding, edge_vectors


class Backbone(nn.Module):
    def __init__(self, channels: int, vector_channels: int, lmax: int, num_layers: int, num_heads: int,
                 cutoff: float, num_radial: int = 8, max_z: int = 100, num_sources: int = 64,
                 radial_hidden: int = 64, attn_dim: int = 16, ffn_mult: int = 2, global_attention: bool = True,
                 conditions: bool = True, accelerate: str | None = None, element_features: bool = False,
                 element_init_std: float = 0.0):
        super().__init__()
        if lmax < 1:
            raise ValueError("lmax must be >= 1 (vector readouts need l = 1; with lmax 1 tensor readouts build l = 2 from it)")
        self.cutoff, self.lmax = float(cutoff), lmax
        self.irreps = hidden_irreps(channels, vector_channels, lmax)
        table = torch.from_numpy(standardised(element_properties(max_z))) if element_features else None
        self.embedding = NodeEmbedding(channels, max_z, num_sources, conditions, table, element_init_std)
        self.edges = EdgeEncoding(cutoff, num_radial, lmax)
        first = o3.Irreps(f"{channels}x0e")
        self.layers = nn.ModuleList([
            TransformerLayer(first if k == 0 else self.irreps, self.irreps, self.edges.irreps_sh, lmax, num_radial,
                             num_heads, radial_hidden, attn_dim, ffn_mult, global_attention, accelerate)
            for k in range(num_layers)])

    def forward(self, batch, pos: torch.Tensor | None = None, cell: torch.Tensor | None = None) -> torch.Tensor:
        pos = batch.pos if pos is None else pos
        cell = batch.cell if cell is None else cell
        rbf, env, sh = self.edges(edge_vectors(batch, pos, cell))
        x = self.embedding(batch).to(pos.dtype)
        for layer in self.layers:
            x = layer(x, batch, rbf, env, sh)
        return x
