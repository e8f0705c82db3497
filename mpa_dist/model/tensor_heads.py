"""Readouts of geometric quantities: a dipole (l = 1) and a polarizability (l = 0 + l = 2).

Dipole: mu = sum_i (q_i - mean q) r_i + sum_i u_i, with charges q from scalar features
(neutralised per graph, so mu does not move with the origin) and atomic dipoles u from the
l = 1 features. The head's main output is |mu| (the QM9 label); `<name>_vector` is mu.
Polarizability: a sum over atoms of 1x0e + 1x2e, mapped to a symmetric 3x3 tensor. A backbone
without l = 2 features (lmax 1) gets the atomic 2e part from the square of its l = 1 features
(1o x 1o -> 2e, e3nn's TensorSquare), so the anisotropy stays learnable.
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
        irreps = o3.Irreps(irreps)
        self.square = None
        if not any(ir.l == 2 and ir.p == 1 for _, ir in irreps):
            vectors = [i for i, (_, ir) in enumerate(irreps) if ir == o3.Irrep("1o")]
            if not vectors:
                raise ValueError(f"tensor head {name!r} needs l = 1 (1o) or l = 2 (2e) node features; got {irreps}")
            self.vectors = irreps.slices()[vectors[0]]
            self.square = o3.TensorSquare(irreps[vectors[0]:vectors[0] + 1], irreps_out=o3.Irreps("1x2e"))

    def forward(self, x, batch, pos):
        a = self.atomic(x)
        if self.square is not None:
            a = torch.cat([a[:, :1], a[:, 1:] + self.square(x[:, self.vectors])], dim=1)
        t = graph_sum(a, batch)
        return {self.name: torch.einsum("gk,kij->gij", t, self.basis.to(t.dtype))}
