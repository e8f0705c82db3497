"""Readouts that match the physics of each property.

Scalar heads pool an MLP of the invariant node features:
  sum       extensive (energies, enthalpies, heat capacities); element references apply
  mean      intensive
  attention non-additive (flash point, boiling point): multi-head attention pooling
  hybrid    sigmoid(m) * sum + (1 - sigmoid(m)) * attention, m learned
  energy    sum, plus forces and stress (derivatives are taken in model.py)
  classification  mean-pooled features -> logits
Each node counts atom_weight times. Every head returns {output name: (G, ...)} in
normalised units and declares the kind of each output in `outputs`.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from mpa_dist.model.irreps import num_scalars
from mpa_dist.model.normalization import TargetNorm
from mpa_dist.model.scatter import graph_mean, graph_sum, scatter_sum, segment_softmax


def mlp(c_in: int, c_hidden: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(c_in, c_hidden), nn.SiLU(), nn.Linear(c_hidden, c_out))


class Head(nn.Module):
    """name, irreps of the node features, and the norm of the (main) output."""

    kind = "scalar"
    extensive: bool | None = False
    forces = stress = False

    def __init__(self, name: str, irreps: o3.Irreps, max_z: int, element_reference: bool = False):
        super().__init__()
        self.name = name
        self.c = num_scalars(irreps)
        self.norm = TargetNorm(self.kind, max_z, element_reference)

    @property
    def outputs(self) -> dict[str, tuple[str, bool | None]]:
        """output name -> (kind, extensive: True / False / None when neither)."""
        return {self.name: (self.kind, self.extensive)}


class PooledHead(Head):
    def __init__(self, name, irreps, max_z, pooling: str, element_reference: bool | None = None):
        self.extensive = pooling == "sum"
        super().__init__(name, irreps, max_z, self.extensive if element_reference is None else element_reference)
        self.pooling = pooling
        self.atomwise = mlp(self.c, self.c, 1)

    def forward(self, x, batch, pos):
        e = self.atomwise(x[:, :self.c]).squeeze(-1)
        return {self.name: graph_sum(e, batch) if self.pooling == "sum" else graph_mean(e, batch)}


class AttentionPool(nn.Module):
    """Multi-head attention pooling over the nodes of each graph (a node of weight w is w copies)."""

    def __init__(self, c: int, num_heads: int = 4, c_out: int = 1):
        super().__init__()
        self.h = num_heads
        self.score = mlp(c, c, num_heads)
        self.value = nn.Linear(c, c)
        self.out = mlp(c, c, c_out)

    def forward(self, s, batch):
        logw = torch.log(batch.atom_weight.to(s.dtype))
        alpha = segment_softmax(self.score(s), batch.graph, batch.num_graphs, logw)  # (N, H)
        v = self.value(s).view(s.shape[0], self.h, -1)
        pooled = scatter_sum(alpha.unsqueeze(-1) * v, batch.graph, batch.num_graphs).flatten(1)
        return self.out(pooled)


class AttentionHead(Head):
    def __init__(self, name, irreps, max_z, element_reference: bool | None = None):
        super().__init__(name, irreps, max_z, bool(element_reference))
        self.pool = AttentionPool(self.c, 4 if self.c % 4 == 0 else 1)

    def forward(self, x, batch, pos):
        return {self.name: self.pool(x[:, :self.c], batch).squeeze(-1)}


class HybridHead(Head):
    extensive = None  # part extensive, part intensive, by a learned share

    def __init__(self, name, irreps, max_z, element_reference: bool | None = None):
        super().__init__(name, irreps, max_z, bool(element_reference))
        self.additive = mlp(self.c, self.c, 1)
        self.pool = AttentionPool(self.c, 4 if self.c % 4 == 0 else 1)
        self.mix = nn.Parameter(torch.zeros(1))  # (1,), not 0-dim: DeepSpeed cannot broadcast 0-dim parameters

    def forward(self, x, batch, pos):
        s = x[:, :self.c]
        g = torch.sigmoid(self.mix)
        y = g * graph_sum(self.additive(s).squeeze(-1), batch) + (1 - g) * self.pool(s, batch).squeeze(-1)
        return {self.name: y}


class EnergyHead(PooledHead):
    def __init__(self, name, irreps, max_z, forces: bool = True, stress: bool = False,
                 element_reference: bool | None = None):
        super().__init__(name, irreps, max_z, "sum", element_reference)
        self.forces, self.stress = forces, stress


class ClassificationHead(Head):
    kind = "logits"

    def __init__(self, name, irreps, max_z, num_classes: int = 2):
        super().__init__(name, irreps, max_z)
        self.atomwise = mlp(self.c, self.c, self.c)
        self.classify = mlp(self.c, self.c, num_classes)

    def forward(self, x, batch, pos):
        return {self.name: self.classify(graph_mean(self.atomwise(x[:, :self.c]), batch))}
