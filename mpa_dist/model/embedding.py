"""Invariant node embedding: atomic number, data source / level of theory, and conditions.

With an element table (fixed, standardised element properties: electronegativity, radii,
row, group, ...; mpa_dist/data/elements.py), each element also enters through a linear map of
its properties, so that elements seen rarely in training start near chemically similar ones
(the inputs of CGCNN and CrabNet carry element properties for the same reason). The table is a
buffer: it travels in the checkpoint and the exported model.

The source embedding lets sources of different fidelity share one trunk (id 0 = unknown).
Conditions such as temperature and pressure are per structure and NaN when absent; an
absent condition contributes a learned "absent" vector instead of a value.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# condition name -> transform to an O(1) number (log scale: these span orders of magnitude)
CONDITION_TRANSFORMS = {
    "temperature_K": lambda t: torch.log(t.clamp_min(1e-3) / 298.15),
    "pressure_Pa": lambda p: torch.asinh(p / 1e5) / math.log(1e4),
}


class ConditionEmbedding(nn.Module):
    def __init__(self, channels: int, names=tuple(CONDITION_TRANSFORMS)):
        super().__init__()
        self.names = list(names)
        self.mlps = nn.ModuleDict({n: nn.Sequential(nn.Linear(1, channels), nn.SiLU(), nn.Linear(channels, channels))
                                   for n in self.names})
        self.absent = nn.Parameter(torch.zeros(len(self.names), channels))

    def forward(self, conditions: dict, num_graphs: int, like: torch.Tensor) -> torch.Tensor:
        out = like.new_zeros(num_graphs, self.absent.shape[1])
        for k, name in enumerate(self.names):
            v = conditions.get(name) if conditions else None
            if v is None:
                out = out + self.absent[k]
                continue
            v = v.to(like.dtype)
            present = ~torch.isnan(v)
            x = CONDITION_TRANSFORMS[name](torch.where(present, v, torch.ones_like(v)))
            out = out + torch.where(present.unsqueeze(-1), self.mlps[name](x.unsqueeze(-1)), self.absent[k])
        return out


class NodeEmbedding(nn.Module):
    """Scalar features of each node: embed(Z) [+ W properties(Z)] + embed(source of its graph)
    + conditions of its graph."""

    def __init__(self, channels: int, max_z: int, num_sources: int, conditions: bool = True,
                 element_table: torch.Tensor | None = None, element_init_std: float = 0.0):
        super().__init__()
        self.atom = nn.Embedding(max_z + 1, channels)
        if element_table is not None:
            if element_init_std < 0:
                raise ValueError(f"element_init_std must be >= 0, not {element_init_std}")
            if element_table.shape[0] != max_z + 1:
                raise ValueError(f"element table has {element_table.shape[0]} rows, not max_z + 1 = {max_z + 1}")
            self.register_buffer("element_table", element_table.float())
            self.element = nn.Linear(element_table.shape[1], channels, bias=False)
            # every element starts near its properties' projection (std ~0.6 per channel) and learns a
            # residual of its own, drawn at N(0, element_init_std^2): at nn.Embedding's N(0, 1), an element
            # seen in few training entries kept a random vector larger than its chemistry; at 0, the
            # light elements of molecules (H, C, N, O, F: cosine 0.6-0.9 between their projections)
            # start nearly alike (docs/history.md, "each element's learned vector starts at zero")
            if element_init_std > 0:
                nn.init.normal_(self.atom.weight, std=element_init_std)
            else:  # no draw: the random stream of the layers built after it stays as it was
                nn.init.zeros_(self.atom.weight)
        else:
            self.element_table, self.element = None, None
        self.source = nn.Embedding(num_sources, channels)
        nn.init.zeros_(self.source.weight)  # start source-agnostic; sources move away as data asks
        self.conditions = ConditionEmbedding(channels) if conditions else None

    def forward(self, batch) -> torch.Tensor:
        h = self.atom(batch.numbers)
        if self.element is not None:
            h = h + self.element(self.element_table[batch.numbers].to(h.dtype))
        ctx = self.source(batch.source.clamp(0, self.source.num_embeddings - 1))
        if self.conditions is not None:
            ctx = ctx + self.conditions(batch.conditions, batch.num_graphs, h)
        return h + ctx[batch.graph]
