"""Forces as the negative gradient of the energy, stress through a strain derivative.

A symmetric strain eps per graph deforms positions and cell, r -> r (1 + eps); the stress
is (1 / V) dE/d eps (ASE's sign: negative under compression), and zero for graphs
without a cell.
"""

from __future__ import annotations

import torch


def apply_strain(batch, pos: torch.Tensor, cell: torch.Tensor):
    eps = torch.zeros(batch.num_graphs, 3, 3, dtype=pos.dtype, device=pos.device, requires_grad=True)
    sym = 0.5 * (eps + eps.transpose(1, 2))
    pos = pos + torch.einsum("ni,nij->nj", pos, sym[batch.graph])
    cell = cell + torch.bmm(cell, sym)
    return eps, pos, cell


def energy_derivatives(energy: torch.Tensor, pos: torch.Tensor, eps: torch.Tensor | None, cell: torch.Tensor,
                       create_graph: bool, retain_graph: bool = False):
    """(forces (N, 3), stress (G, 3, 3) or None)."""
    inputs = [pos] if eps is None else [pos, eps]
    grads = torch.autograd.grad(energy.sum(), inputs, create_graph=create_graph,
                                retain_graph=create_graph or retain_graph, allow_unused=True)
    forces = -grads[0] if grads[0] is not None else torch.zeros_like(pos)
    if eps is None:
        return forces, None
    volume = torch.linalg.det(cell).abs()
    g = grads[1] if grads[1] is not None else torch.zeros_like(eps)
    has_cell = volume > 1e-8
    stress = torch.where(has_cell[:, None, None], g / torch.where(has_cell, volume, 1.0)[:, None, None],
                         torch.zeros_like(g))
    return forces, stress
