"""A batch of graphs: molecules, crystals and compositions side by side.

Nodes are atoms (or, for a composition, one node per element weighted by its amount per
formula unit; compositions have no edges). An edge (i, j) points from centre i to
neighbour j, and its vector is pos[j] - pos[i] + edge_shift @ cell[graph[i]].
Per-structure labels have a leading graph dimension and a mask; per-atom labels a node
dimension and a per-graph mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import torch

from mpa_dist.data.neighbors import neighbor_list
from mpa_dist.data.record import INPUT_KINDS, Record

CONDITIONS = ("temperature_K", "pressure_Pa")


@dataclass
class Batch:
    numbers: torch.Tensor  # (N,) long
    pos: torch.Tensor  # (N, 3) Angstrom
    atom_weight: torch.Tensor  # (N,) atoms per node: 1, or amount per formula unit
    graph: torch.Tensor  # (N,) long, graph index of each node
    edge_index: torch.Tensor  # (2, E) long, (centre, neighbour)
    edge_shift: torch.Tensor  # (E, 3) integer cell offsets, as float
    cell: torch.Tensor  # (G, 3, 3) Angstrom, zeros when not periodic
    num_nodes: torch.Tensor  # (G,) long
    input_kind: torch.Tensor  # (G,) long, index into INPUT_KINDS
    source: torch.Tensor  # (G,) long, index into the source vocabulary (0 = unknown)
    conditions: dict[str, torch.Tensor]  # name -> (G,), NaN where absent
    labels: dict[str, torch.Tensor]  # name -> (G, ...) or (N, ...) for per-atom labels
    label_mask: dict[str, torch.Tensor]  # name -> (G,) bool
    keys: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # conformers of one molecule share a group
    info: dict = field(default_factory=dict)  # loader bookkeeping, e.g. corrupt samples skipped
    features: torch.Tensor | None = None  # (N, irreps) node features of a frozen backbone, when cached

    @property
    def num_graphs(self) -> int:
        return int(self.num_nodes.shape[0])

    @property
    def num_atoms(self) -> float:
        return float(self.atom_weight.sum())

    def to(self, device, dtype: torch.dtype | None = None) -> Batch:
        def move(t):
            if not isinstance(t, torch.Tensor):
                return t
            if dtype is not None and t.is_floating_point():
                return t.to(device=device, dtype=dtype)
            return t.to(device)

        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = {k: move(t) for k, t in v.items()} if isinstance(v, dict) else move(v)
        return Batch(**out)


def add_edges(r: Record, cutoff: float) -> tuple[Record, np.ndarray, np.ndarray]:
    """Neighbour list of one record; compositions have none."""
    if r.input == "composition":
        return r, np.zeros((2, 0), np.int64), np.zeros((0, 3), np.int64)
    i, j, s = neighbor_list(r.positions, r.cell, r.pbc, cutoff)
    return r, np.stack([i, j]), s


def collate(items: list[tuple[Record, np.ndarray, np.ndarray]], source_vocab: dict[str, int],
            dtype: torch.dtype = torch.float32) -> Batch:
    """Collate (record, edge_index, edge_shift) triples into one Batch."""
    recs = [it[0] for it in items]
    n = np.array([r.num_atoms for r in recs])
    offsets = np.concatenate([[0], np.cumsum(n)[:-1]])
    pos = [r.positions if r.positions is not None else np.zeros((r.num_atoms, 3)) for r in recs]
    cells = [r.cell if (r.periodic and r.cell is not None) else np.zeros((3, 3)) for r in recs]
    edge_index = np.concatenate([e + o for (_, e, _), o in zip(items, offsets)], axis=1)
    edge_shift = np.concatenate([s for (_, _, s) in items], axis=0)

    labels, masks = {}, {}
    names = sorted({k for r in recs for k in r.labels})
    for name in names:
        present = [name in r.labels for r in recs]
        ref = next(r.labels[name] for r in recs if name in r.labels)
        if ref.per_atom:
            rows = [r.labels[name].value if p else np.full((r.num_atoms,) + ref.value.shape[1:], np.nan)
                    for r, p in zip(recs, present)]
            labels[name] = torch.as_tensor(np.concatenate(rows), dtype=dtype)
        else:
            rows = [r.labels[name].value if p else np.full(ref.value.shape, np.nan) for r, p in zip(recs, present)]
            labels[name] = torch.as_tensor(np.stack(rows), dtype=dtype)
        masks[name] = torch.as_tensor(present)

    conditions = {c: torch.tensor([r.conditions.get(c, np.nan) for r in recs], dtype=dtype) for c in CONDITIONS}
    return Batch(
        numbers=torch.as_tensor(np.concatenate([r.numbers for r in recs])),
        pos=torch.as_tensor(np.concatenate(pos), dtype=dtype),
        atom_weight=torch.as_tensor(np.concatenate([r.atom_weights for r in recs]), dtype=dtype),
        graph=torch.as_tensor(np.repeat(np.arange(len(recs)), n)),
        edge_index=torch.as_tensor(edge_index, dtype=torch.long),
        edge_shift=torch.as_tensor(edge_shift, dtype=dtype),
        cell=torch.as_tensor(np.stack(cells), dtype=dtype),
        num_nodes=torch.as_tensor(n),
        input_kind=torch.tensor([INPUT_KINDS.index(r.input) for r in recs]),
        source=torch.tensor([source_vocab.get(r.source, 0) for r in recs]),
        conditions=conditions,
        labels=labels,
        label_mask=masks,
        keys=[r.key for r in recs],
        groups=[r.group for r in recs],
    )


def collate_records(records: list[Record], cutoff: float, source_vocab: dict[str, int] | None = None,
                    dtype: torch.dtype = torch.float32) -> Batch:
    """Convenience for tests and prediction: neighbour lists and collation in one call."""
    vocab = source_vocab or {s: i + 1 for i, s in enumerate(sorted({r.source for r in records}))}
    return collate([add_edges(r, cutoff) for r in records], vocab, dtype)
