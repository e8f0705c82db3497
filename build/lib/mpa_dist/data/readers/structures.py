"""Structures a user brings: anything ase.io reads (extxyz, CIF, POSCAR, ...), ASE
databases, pymatgen Structure / ComputedStructureEntry JSON (the MPtrj layout), and
in-memory ase Atoms or pymatgen Structures.

Each reader yields Records or RecordErrors (never silently drops a frame), so callers can
write the good ones and report the others.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np

from mpa_dist.data.record import Label, Record, RecordError
from mpa_dist.units import KBAR_EV_A3

# ase stores stress in eV/A^3 with sign (1/V) dE/d(strain): we keep that convention.
_ASE_LABELS = {"energy": ("eV", False), "free_energy": ("eV", False), "forces": ("eV/A", True),
               "stress": ("eV/A^3", False), "dipole": ("e*A", False), "magmom": ("mu_B", False)}


def from_atoms(atoms, key: str, source: str, theory: str, extra_labels: dict | None = None) -> Record:
    """An ase Atoms object (with calculator results or info/arrays labels) as a Record."""
    labels: dict[str, Label] = {}
    results = dict(atoms.calc.results) if atoms.calc is not None else {}
    for name, (unit, per_atom) in _ASE_LABELS.items():
        if name in results:
            v = np.asarray(results[name], dtype=np.float64)
            if name == "stress" and v.shape == (6,):  # Voigt xx yy zz yz xz xy
                xx, yy, zz, yz, xz, xy = v
                v = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
            labels[name] = Label(v, unit, per_atom)
    for name, value in (extra_labels or {}).items():
        labels[name] = value
    pbc = np.asarray(atoms.pbc, dtype=bool)
    periodic = bool(pbc.any())
    cell = np.asarray(atoms.cell.array, dtype=np.float64)
    if periodic and abs(np.linalg.det(cell)) < 1e-6:
        raise RecordError(key, "missing cell: periodic boundaries are set but the cell is empty")
    return Record(key=key, input="crystal" if periodic else "molecule", numbers=atoms.numbers,
                  positions=atoms.positions, cell=cell if periodic else None, pbc=pbc if periodic else None,
                  source=source, theory=theory, labels=labels,
                  group=atoms.get_chemical_formula(mode="reduce"), meta={"formula": atoms.get_chemical_formula()})


def read_ase(path: str | Path, source: str, theory: str, index: str = ":",
             format: str | None = None) -> Iterator[Record | RecordError]:
    """Every frame of a file ase.io reads; a file ase cannot parse is one RecordError."""
    import ase.io

    path = Path(path)
    try:
        frames = ase.io.read(path, index=index, format=format)
    except Exception as e:  # ase raises many types for bad files
        yield RecordError(str(path), f"ase.io could not read the file: {type(e).__name__}: {e}")
        return
    for i, atoms in enumerate(frames if isinstance(frames, list) else [frames]):
        key = f"{path.stem}/{i:06d}"
        try:
            yield from_atoms(atoms, key, source, theory)
        except RecordError as e:
            yield e


def read_ase_db(path: str | Path, source: str, theory: str, selection=None) -> Iterator[Record | RecordError]:
    """Rows of an ASE database (SQLite or JSON); `key_value_pairs` numbers become scalar labels."""
    import ase.db

    with ase.db.connect(str(path)) as db:
        for row in db.select(selection):
            key = f"{Path(path).stem}/{row.id}"
            try:
                extra = {k: Label(v, "") for k, v in row.key_value_pairs.items() if isinstance(v, (int, float))}
                yield from_atoms(row.toatoms(), key, source, theory, extra)
            except RecordError as e:
                yield e


def from_structure(structure, key: str, source: str, theory: str, labels: dict[str, Label] | None = None) -> Record:
    """A pymatgen Structure (periodic) or Molecule as a Record."""
    from pymatgen.core import Structure

    if not structure.is_ordered:
        raise RecordError(key, "disordered structure (partial occupancies) is not supported")
    numbers = [site.specie.Z for site in structure]
    if isinstance(structure, Structure):
        return Record(key=key, input="crystal", numbers=numbers, positions=structure.cart_coords,
                      cell=structure.lattice.matrix, pbc=np.array(structure.lattice.pbc), source=source,
                      theory=theory, labels=labels or {}, group=structure.composition.reduced_formula)
    return Record(key=key, input="molecule", numbers=numbers, positions=structure.cart_coords, source=source,
                  theory=theory, labels=labels or {}, group=structure.composition.reduced_formula)


def read_mptrj(path: str | Path, source: str = "mptrj", theory: str = "PBE/PBE+U") -> Iterator[Record | RecordError]:
    """MPtrj JSON: {mp_id: {frame_id: {structure, uncorrected_total_energy, force, stress, ...}}}.

    Energies in eV (per cell), forces in eV/A, stress in kBar as MPtrj gives it, converted
    to eV/A^3 with ase's sign (MPtrj/VASP report compressive stress as positive).
    """
    from pymatgen.core import Structure

    data = json.loads(Path(path).read_text())
    for mp_id, frames in data.items():
        for frame_id, f in frames.items():
            key = f"{source}/{frame_id}"
            try:
                s = Structure.from_dict(f["structure"])
                labels = {"energy": Label(f["uncorrected_total_energy"], "eV"),
                          "forces": Label(np.array(f["force"]), "eV/A", per_atom=True)}
                if f.get("stress") is not None:
                    labels["stress"] = Label(-np.array(f["stress"]) * KBAR_EV_A3, "eV/A^3")
                if f.get("bandgap") is not None:
                    labels["band_gap"] = Label(f["bandgap"], "eV")
                r = from_structure(s, key, source, theory, labels)
                r.meta["mp_id"] = mp_id
                yield r
            except (KeyError, ValueError, TypeError) as e:
                yield RecordError(key, f"bad MPtrj frame: {type(e).__name__}: {e}")


def read_computed_entries(path: str | Path, source: str, theory: str) -> Iterator[Record | RecordError]:
    """A JSON list of pymatgen ComputedStructureEntry dicts (energy in eV per cell)."""
    from pymatgen.entries.computed_entries import ComputedStructureEntry

    for i, d in enumerate(json.loads(Path(path).read_text())):
        key = f"{Path(path).stem}/{d.get('entry_id') or i}"
        try:
            e = ComputedStructureEntry.from_dict(d)
            yield from_structure(e.structure, key, source, theory, {"energy": Label(e.uncorrected_energy, "eV")})
        except (KeyError, ValueError, TypeError, RecordError) as err:
            yield err if isinstance(err, RecordError) else RecordError(key, f"bad entry: {err}")
