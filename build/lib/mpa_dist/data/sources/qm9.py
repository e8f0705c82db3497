"""QM9: 130,831 small organic molecules at B3LYP/6-31G(2df,p), from the qm9pack package.

All of its properties become labels in explicit units: energies in eV, dipole magnitude
in Debye, isotropic and tensor polarizability in Angstrom^3, <R^2> in Angstrom^2, heat
capacity in cal/(mol K), Mulliken charges in e (per atom).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from mpa_dist.data.catalog.spec import DatasetSpec, Source, TaskSpec
from mpa_dist.data.catalog.splits import assign_computed_splits, sample
from mpa_dist.data.offline import package_file
from mpa_dist.data.record import Label, Record, RecordError
from mpa_dist.units import BOHR3_A3, BOHR_A, HARTREE_EV

THEORY = "B3LYP/6-31G(2df,p)"
SYMBOLS = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}

# label -> (csv column, factor to the unit, unit)
SCALARS = {
    "dipole": ("Dipole_debye", 1.0, "D"),
    "polarizability": ("Polarizability_bohr3", BOHR3_A3, "A^3"),
    "homo": ("HOMO_au", HARTREE_EV, "eV"),
    "lumo": ("LUMO_au", HARTREE_EV, "eV"),
    "gap": ("HOMO_LUMO_gap_au", HARTREE_EV, "eV"),
    "r2": ("R2_bohr2", BOHR_A**2, "A^2"),
    "zpve": ("ZPVE_au", HARTREE_EV, "eV"),
    "u0": ("InternalEnergy_0K_au", HARTREE_EV, "eV"),
    "u298": ("InternalEnergy_298K_au", HARTREE_EV, "eV"),
    "h298": ("Enthalphy_298K_au", HARTREE_EV, "eV"),
    "g298": ("GibbsFreeEnergy_298K_au", HARTREE_EV, "eV"),
    "cv": ("Heatcapacity_Cv_cal_mol_K", 1.0, "cal/(mol K)"),
    "rot_a": ("RotA_GHz", 1.0, "GHz"),
    "rot_b": ("RotB_GHz", 1.0, "GHz"),
    "rot_c": ("RotC_GHz", 1.0, "GHz"),
}
# Harmonic frequencies (3N-6 or 3N-5 per molecule, cm^-1) are kept in meta as text: a label
# of varying length per molecule does not batch.
_BARE_POINT = re.compile(r"(\d)\.(?!\d)")  # QM9 writes "1." and "0.", which JSON rejects
TENSOR_COLUMNS = ["A_xx", "A_xy", "A_yy", "A_xz", "A_yz", "A_zz"]


def entries(limit: int | None = None) -> pd.DataFrame:
    """One row per molecule, in QM9's own order (index 1..133885 with gaps)."""
    parts = [pd.read_csv(package_file("qm9pack", f"data/qm9_part{i}.csv")) for i in (1, 2, 3)]
    df = pd.concat(parts, ignore_index=True)
    pol = pd.read_csv(package_file("qm9pack", "data/qm9_polarizability.csv"))
    df = df.merge(pol, on="XYZ_file", how="left")
    df = df.sort_values("Index", kind="stable").reset_index(drop=True)
    df["key"] = "qm9/" + df["Index"].astype(str).str.zfill(6)
    df["group"] = df["SMILES"]
    return df.head(limit) if limit else df


def _parse_list(text: str, key: str, what: str):
    try:
        text = _BARE_POINT.sub(r"\1.0", text.replace("*^", "e").replace("'", '"'))
        return json.loads(text)
    except (json.JSONDecodeError, AttributeError) as e:
        raise RecordError(key, f"unparseable {what}: {e}") from None


def to_records(row: dict) -> list[Record]:
    key = row["key"]
    elements = _parse_list(row["Elements"], key, "element list")
    unknown = [s for s in elements if s not in SYMBOLS]
    if unknown:
        raise RecordError(key, f"unknown element {unknown[0]!r}")
    pos = np.array(_parse_list(row["XYZ_Ang"], key, "coordinates"), dtype=np.float64)
    labels = {name: Label(np.float64(row[col]) * f, unit) for name, (col, f, unit) in SCALARS.items()}
    charges = _parse_list(row["Mulliken_pop"], key, "Mulliken charges")
    labels["mulliken_charges"] = Label(np.array(charges, dtype=np.float64), "e", per_atom=True)
    if all(c in row and row[c] == row[c] for c in TENSOR_COLUMNS):
        xx, xy, yy, xz, yz, zz = (row[c] * BOHR3_A3 for c in TENSOR_COLUMNS)
        labels["polarizability_tensor"] = Label(np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]), "A^3")
    return [Record(key=key, input="molecule", numbers=[SYMBOLS[s] for s in elements], positions=pos,
                   source="qm9", theory=THEORY, labels=labels, group=row["group"],
                   meta={"smiles": row["SMILES"], "frequencies_cm-1": str(row["Harmonic_Freq_cmi"])})]


SOURCE = Source("QM9 (Ramakrishnan et al. 2014) via qm9pack 1.0.3", "CC0 (data); MIT (qm9pack)",
                "doi:10.1038/sdata.2014.22")
_READOUT = {"dipole": "vector", "polarizability": "sum", "homo": "attention", "lumo": "attention",
            "gap": "attention", "r2": "sum", "zpve": "sum", "u0": "energy", "u298": "sum", "h298": "sum",
            "g298": "sum", "cv": "sum"}
# Rotational constants stay labels of the records but are not pre-training tasks: their
# heavy tail (near-linear molecules reach 10^5 GHz) would swamp a normalised loss.
TASKS = tuple(
    TaskSpec(name=f"qm9_{name}", property=f"{name} ({THEORY})", unit=unit, input="molecule", kind="computed",
             dataset="qm9", label=name, sources=(SOURCE,), readout=_READOUT[name], split="random",
             description=f"QM9 {col}")
    for name, (col, _, unit) in SCALARS.items() if name in _READOUT
) + (TaskSpec(name="qm9_polarizability_tensor", property=f"polarizability tensor ({THEORY})", unit="A^3",
              input="molecule", kind="computed", dataset="qm9", label="polarizability_tensor", sources=(SOURCE,),
              readout="tensor", split="random", description="QM9 static polarizability tensor"),)

DATASETS = [DatasetSpec(
    name="qm9", input="molecule", kind="computed", theory=THEORY, sources=(SOURCE,), tasks=TASKS,
    entries=lambda limit=None: assign_computed_splits(sample(entries(), limit), "qm9"),
    to_records=lambda row, options=None: to_records(row),
    description="130,831 small organic molecules (C, H, O, N, F) with equilibrium geometries")]
