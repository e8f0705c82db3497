"""Neighbour lists with periodic boundaries, computed by vesin.

vesin was chosen over pymatgen's `find_points_in_spheres` (a little faster in one
measurement here, but it needs a Lattice object per call and returns unsorted float
images) and over ase's `neighbor_list` (50x slower: bench/bench_data.py prints both).
"""

from __future__ import annotations

import numpy as np
import vesin


def neighbor_list(positions, cell, pbc, cutoff: float, with_distances: bool = False):
    """Full (i, j, shift) lists: atom j + shift @ cell lies within `cutoff` of atom i.

    `shift` is the integer cell offset, so the edge vector is
    positions[j] - positions[i] + shift @ cell. Non-periodic inputs get a zero box.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if pbc is None or cell is None or not np.any(pbc):
        box, periodic = np.zeros((3, 3)), False
    else:
        box, periodic = np.asarray(cell, dtype=np.float64), [bool(p) for p in pbc]
    nl = vesin.NeighborList(cutoff=float(cutoff), full_list=True, sorted=True)
    q = "ijSd" if with_distances else "ijS"
    out = nl.compute(points=positions, box=box, periodic=periodic, quantities=q)
    i, j, s = out[0].astype(np.int64), out[1].astype(np.int64), out[2].astype(np.int64)
    if with_distances:
        return i, j, s, out[3]
    return i, j, s
