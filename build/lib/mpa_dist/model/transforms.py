"""Transformations of a Batch used by the physics checks: rigid motions, atom permutations,
splitting into members, and supercells of a periodic record."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from mpa_dist.data.batch import Batch
from mpa_dist.data.record import Record


def rigid_motion(batch: Batch, rot: torch.Tensor, shift: torch.Tensor) -> Batch:
    """Positions r -> r rot^T + shift, cells (rows) -> cell rot^T; rot may be improper."""
    rot, shift = rot.to(batch.pos.dtype), shift.to(batch.pos.dtype)
    return dataclasses.replace(batch, pos=batch.pos @ rot.T + shift, cell=batch.cell @ rot.T)


def permute_atoms(batch: Batch, seed: int = 0) -> tuple[Batch, torch.Tensor]:
    """Shuffle atoms inside each graph (graphs stay contiguous) and shuffle the edge order.
    Returns the batch and `perm`: new node k is old node perm[k]."""
    g = torch.Generator().manual_seed(seed)
    ptr = torch.cumsum(batch.num_nodes, 0) - batch.num_nodes
    perm = torch.cat([p + torch.randperm(int(n), generator=g) for p, n in zip(ptr.tolist(), batch.num_nodes.tolist())])
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(len(perm))
    eperm = torch.randperm(batch.edge_index.shape[1], generator=g)
    return dataclasses.replace(
        batch, numbers=batch.numbers[perm], pos=batch.pos[perm], atom_weight=batch.atom_weight[perm],
        graph=batch.graph[perm], edge_index=inverse[batch.edge_index[:, eperm]],
        edge_shift=batch.edge_shift[eperm], labels={}, label_mask={}), perm


def split_batch(batch: Batch) -> list[Batch]:
    """The members of a batch as batches of one graph each (labels dropped)."""
    out = []
    i = batch.edge_index[0]
    ptr = (torch.cumsum(batch.num_nodes, 0) - batch.num_nodes).tolist()
    for gi in range(batch.num_graphs):
        nodes = batch.graph == gi
        edges = batch.graph[i] == gi
        one = lambda t: t[gi:gi + 1]
        out.append(Batch(
            numbers=batch.numbers[nodes], pos=batch.pos[nodes], atom_weight=batch.atom_weight[nodes],
            graph=torch.zeros(int(nodes.sum()), dtype=torch.long), edge_index=batch.edge_index[:, edges] - ptr[gi],
            edge_shift=batch.edge_shift[edges], cell=one(batch.cell), num_nodes=one(batch.num_nodes),
            input_kind=one(batch.input_kind), source=one(batch.source),
            conditions={k: one(v) for k, v in batch.conditions.items()}, labels={}, label_mask={},
            keys=batch.keys[gi:gi + 1], groups=batch.groups[gi:gi + 1]))
    return out


def supercell(record: Record, reps=(2, 1, 1)) -> Record:
    """The record repeated reps[k] times along lattice vector k."""
    grid = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), -1).reshape(-1, 3)
    pos = (record.positions[None, :, :] + (grid @ record.cell)[:, None, :]).reshape(-1, 3)
    return dataclasses.replace(record, key=record.key + f"x{reps}", numbers=np.tile(record.numbers, len(grid)),
                               positions=pos, cell=record.cell * np.asarray(reps)[:, None], labels={})


def crystal(key: str, numbers, frac, cell, source: str = "test") -> Record:
    cell = np.asarray(cell, dtype=np.float64)
    return Record(key=key, input="crystal", numbers=numbers, positions=np.asarray(frac) @ cell, cell=cell,
                  pbc=np.ones(3, bool), source=source, theory="test")
