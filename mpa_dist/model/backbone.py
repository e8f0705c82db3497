"""The trunk: node embedding, edge encoding, and a stack of transformer layers.

Returns node features in `irreps` (scalars first); readouts live in heads.py. With
readout_layers="all" the heads read every layer's output, not the last one only: the blocks of
each degree l joined across layers (L layers of `c` scalars give L*c scalars, and so on), so the
features keep their layout (scalars first, one block per l) and every head works on them unchanged.
Probing intermediate layers as well as the last is the "jumping knowledge" readout of Xu et al.
(ICML 2018, "Representation Learning on Graphs with Jumping Knowledge Networks").
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
                 element_init_std: float = 0.0, readout_layers: str = "last"):
        super().__init__()
        if readout_layers not in ("last", "all"):
            raise ValueError(f"readout_layers must be 'last' or 'all', not {readout_layers!r}")
        if lmax < 1:
            raise ValueError("lmax must be >= 1 (vector readouts need l = 1; with lmax 1 tensor readouts build l = 2 from it)")
        self.cutoff, self.lmax = float(cutoff), lmax
        self.hidden = hidden_irreps(channels, vector_channels, lmax)
        self.readout_layers = readout_layers
        k = num_layers if readout_layers == "all" else 1
        self.irreps = hidden_irreps(k * channels, k * vector_channels, lmax)  # what the heads read
        table = torch.from_numpy(standardised(element_properties(max_z))) if element_features else None
        self.embedding = NodeEmbedding(channels, max_z, num_sources, conditions, table, element_init_std)
        self.edges = EdgeEncoding(cutoff, num_radial, lmax)
        first = o3.Irreps(f"{channels}x0e")
        self.layers = nn.ModuleList([
            TransformerLayer(first if k == 0 else self.hidden, self.hidden, self.edges.irreps_sh, lmax, num_radial,
                             num_heads, radial_hidden, attn_dim, ffn_mult, global_attention, accelerate)
            for k in range(num_layers)])

    def forward(self, batch, pos: torch.Tensor | None = None, cell: torch.Tensor | None = None) -> torch.Tensor:
        pos = batch.pos if pos is None else pos
        cell = batch.cell if cell is None else cell
        rbf, env, sh = self.edges(edge_vectors(batch, pos, cell))
        x = self.embedding(batch).to(pos.dtype)
        outs = []  # every layer's output, kept only for readout_layers="all"
        for layer in self.layers:
            x = layer(x, batch, rbf, env, sh)
            if self.readout_layers == "all":
                outs.append(x)
        if not outs:
            return x
        return torch.cat([o[:, s] for s in self.hidden.slices() for o in outs], dim=-1)
