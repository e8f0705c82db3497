"""Checks a record must pass before it is written to a shard.

Each failed check raises RecordError naming the record and the cause; the shard writer
turns that into a line of rejects.jsonl, so no input is lost silently.
"""

from __future__ import annotations

import numpy as np

from mpa_dist.data.neighbors import neighbor_list
from mpa_dist.data.record import Record, RecordError

MAX_Z = 118
MIN_DISTANCE = 0.5  # Angstrom; closer pairs are overlapping atoms, not chemistry
MIN_CELL_VOLUME = 1.0  # Angstrom^3


def validate(r: Record) -> Record:
    if r.num_atoms == 0:
        raise RecordError(r.key, "no atoms")
    bad = r.numbers[(r.numbers < 1) | (r.numbers > MAX_Z)]
    if bad.size:
        raise RecordError(r.key, f"unknown element with atomic number {int(bad[0])}")
    for name, lab in r.labels.items():
        if not np.all(np.isfinite(lab.value)):
            raise RecordError(r.key, f"label {name!r} is NaN or infinite")
        if lab.per_atom and lab.value.shape[0] != r.num_atoms:
            raise RecordError(r.key, f"label {name!r} has {lab.value.shape[0]} rows for {r.num_atoms} atoms")
    for name, val in r.conditions.items():
        if not np.isfinite(val):
            raise RecordError(r.key, f"condition {name!r} is NaN or infinite")
    if r.input == "composition":
        _check_composition(r)
    else:
        _check_geometry(r)
    return r


def _check_composition(r: Record) -> None:
    if r.amounts is None or r.amounts.shape != r.numbers.shape:
        raise RecordError(r.key, "composition without one amount per element")
    if not np.all(r.amounts > 0) or not np.all(np.isfinite(r.amounts)):
        raise RecordError(r.key, "composition amounts must be positive and finite")
    if len(set(r.numbers.tolist())) != r.num_atoms:
        raise RecordError(r.key, "composition lists an element twice")


def _check_geometry(r: Record) -> None:
    if r.positions is None or r.positions.shape != (r.num_atoms, 3):
        raise RecordError(r.key, f"positions missing or not of shape ({r.num_atoms}, 3)")
    if not np.all(np.isfinite(r.positions)):
        raise RecordError(r.key, "positions are NaN or infinite")
    if r.input == "crystal":
        if r.cell is None or r.pbc is None or not r.pbc.any():
            raise RecordError(r.key, "missing cell: a crystal needs a lattice and periodic boundaries")
        if r.cell.shape != (3, 3) or not np.all(np.isfinite(r.cell)):
            raise RecordError(r.key, "cell is not a finite 3x3 matrix")
        vol = abs(np.linalg.det(r.cell))
        if vol < MIN_CELL_VOLUME:
            raise RecordError(r.key, f"cell volume {vol:.3g} A^3 is degenerate")
    i, _, _, d = neighbor_list(r.positions, r.cell, r.pbc, MIN_DISTANCE, with_distances=True)
    if len(i):
        raise RecordError(r.key, f"overlapping atoms: a pair is {d.min():.3f} A apart (< {MIN_DISTANCE} A)")
