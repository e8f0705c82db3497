"""Readouts of geometric quantities: a dipole (l = 1) and a polarizability (l = 0 + l = 2).

Dipole: mu = sum_i (q_i - mean q) r_i + sum_i u_i, with charges q from scalar features
(neutralised per graph, so mu does not move with the origin) and atomic dipoles u from the
l = 1 features. The head's main output is |mu| (the QM9 label); `<name>_vector` is mu.
Polarizability: a sum over atoms of 1x0e + 1x2e, mapped to a symmetric 3x3 tensor.
"""

from __future__ import annotations

import torch
from e3nn import io, o3

from mpa_dist.model.heads import Head, mlp
from mpa_dist.model.scatter import graph_mean, graph_sum


class VectorHead(Head):
    kind = "vector"
    extensive = None  # sum q r depends on where the atoms of a crystal are wrapped

    def __init__(self, name, irreps, max_z):
        super().__init__(name, irreps, max_z)
        self.charge = mlp(self.c, self.c, 1)
        self.atomic = o3.Linear(irreps, o3.Irreps("1x1o"))

    @property
    def outputs(self):
        return {self.name: ("scalar", None), f"{self.name}_vector": ("vector", None)}

    def forward(self, x, batch, pos):
        q = self.charge(x[:, :self.c])
        q = q - graph_mean(q, batch)[batch.graph]
        mu = graph_sum(q * pos + self.atomic(x), batch)
        return {self.name: torch.sqrt(mu.pow(2).sum(-1) + 1e-12), f"{self.name}_vector": mu}


class TensorHead(Head):
    kind = "tensor"
    extensive = True

    def __init__(self, name, irreps, max_z):
        super().__init__(name, irreps, max_z)
        ct = io.CartesianTensor("ij=ji")
        basis = ct.to_cartesian(torch.eye(ct.dim))  # (6, 3, 3)
        self.atomic = o3.Linear(irreps, ct)  # 1x0e + 1x2e
        self.register_buffer("basis", basis, persistent=False)

    def forward(self, x, batch, pos):
        t = graph_sum(self.atomic(x), batch)
        return {self.name: torch.einsum("gk,kij->gij", t, self.basis.to(t.dtype))}
