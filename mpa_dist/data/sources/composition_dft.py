"""Composition-level DFT sets shipped with crabnet 2.0.8: the computed side of inorganic mid-training.

Read as data files (never crabnet code) from `crabnet/data/benchmark_data/<set>/{train,val,test}.csv`
and `crabnet/data/matbench/{mp_e_form,mp_gap}.csv`; every file has the columns `formula,target`.

- The three files `train`, `val` and `test` of one benchmark_data folder are crabnet's random
  split of ONE set (no formula appears in two of them): `entries` concatenates them and keeps
  crabnet's split in the `split` column only for reference. Downstream splitting is ours.
- Within a benchmark_data set every formula appears once (crabnet kept one polymorph).
  matbench mp_e_form (26,502 repeated formulas) and mp_gap (18,851) hold one row per MP
  STRUCTURE, so polymorphs repeat a formula with different values: they are kept, with
  `ref` = the row index, and left to the common de-duplication (tolerance).
- Several sets describe the same calculations: the four OQMD sets share their 341,700
  compositions, CritExam (Bartel et al. 2020, 85,014 MP compounds) overlaps matbench
  mp_e_form (an older MP release). They are separate sets, not merged.
- Units, checked on known values: formation energies and energies per atom in eV/atom
  (OQMD Cd2NdRh -0.18; AFLOW HgPd -1.69), volume in A^3/atom (OQMD median 20.7), gaps in eV,
  moduli in GPa (AFLOW Zr: K_VRH 94.7, G_VRH 36.0), Debye temperature in K (Zr 269 K),
  thermal conductivity in W/(m K) and linear thermal expansion in 1/K (both at 300 K from
  AFLOW's quasi-harmonic AGL model), energy above hull in eV/atom.
- Each set has a physical sanity range; rows outside it raise RecordError in `to_records`
  (OQMD holds a few hundred broken entries, e.g. formation enthalpies of -199 eV/atom).

Left out: `mp_mu_b` (MP total magnetisation, per CELL: not a property of a composition) and
`mp_elastic_anisotropy` (the universal anisotropy index must be >= 0, yet 0.1% of the values
are below -600).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version

import numpy as np
import pandas as pd

from mpa_dist.data.offline import cache_dir, files_hash, package_file
from mpa_dist.data.readers.formula import composition_record
from mpa_dist.data.record import Label, Record, RecordError

PACKAGE = "crabnet"
OQMD = "PBE(+U) (OQMD)"
AFLOW = "PBE(+U) (AFLOW)"
AFLOW_AGL = "PBE + quasi-harmonic Debye model (AFLOW AGL)"
MP = "PBE(+U) (Materials Project)"


@dataclass(frozen=True)
class DFTSet:
    name: str
    files: tuple[str, ...]  # relative to crabnet/
    label: str
    unit: str
    theory: str
    sanity: tuple[float, float]
    readout: str  # how a model should pool atoms for this label
    description: str = ""


def _bench(folder: str) -> tuple[str, ...]:
    return tuple(f"data/benchmark_data/{folder}/{s}.csv" for s in ("train", "val", "test"))


SETS: dict[str, DFTSet] = {s.name: s for s in (
    DFTSet("oqmd_formation_enthalpy", _bench("OQMD_Formation_Enthalpy"), "formation_energy_per_atom", "eV/atom",
           OQMD, (-6.0, 5.0), "mean", "OQMD formation enthalpy (0 K, no zero-point)"),
    DFTSet("oqmd_energy_per_atom", _bench("OQMD_Energy_per_atom"), "energy_per_atom", "eV/atom",
           OQMD, (-15.0, 0.0), "mean", "OQMD total energy per atom"),
    DFTSet("oqmd_volume_per_atom", _bench("OQMD_Volume_per_atom"), "volume_per_atom", "A^3/atom",
           OQMD, (2.0, 150.0), "mean", "OQMD relaxed volume per atom"),
    DFTSet("oqmd_bandgap", _bench("OQMD_Bandgap"), "band_gap", "eV", OQMD, (0.0, 20.0), "attention",
           "OQMD PBE band gap"),
    DFTSet("aflow_band_gap", _bench("aflow__Egap"), "band_gap", "eV", AFLOW, (0.0, 20.0), "attention",
           "AFLOW PBE band gap"),
    DFTSet("aflow_energy_per_atom", _bench("aflow__energy_atom"), "energy_per_atom", "eV/atom",
           AFLOW, (-15.0, 0.0), "mean", "AFLOW total energy per atom"),
    DFTSet("aflow_bulk_modulus", _bench("aflow__ael_bulk_modulus_vrh"), "bulk_modulus_vrh", "GPa",
           AFLOW, (0.0, 1000.0), "attention", "AFLOW AEL Voigt-Reuss-Hill bulk modulus"),
    DFTSet("aflow_shear_modulus", _bench("aflow__ael_shear_modulus_vrh"), "shear_modulus_vrh", "GPa",
           AFLOW, (0.0, 1000.0), "attention", "AFLOW AEL Voigt-Reuss-Hill shear modulus"),
    DFTSet("aflow_debye_temperature", _bench("aflow__ael_debye_temperature"), "debye_temperature", "K",
           AFLOW, (0.0, 3000.0), "attention", "AFLOW AEL Debye temperature"),
    DFTSet("aflow_thermal_conductivity", _bench("aflow__agl_thermal_conductivity_300K"),
           "thermal_conductivity_300K", "W/(m K)", AFLOW_AGL, (0.0, 1000.0), "attention",
           "AFLOW AGL lattice thermal conductivity at 300 K"),
    DFTSet("aflow_thermal_expansion", _bench("aflow__agl_thermal_expansion_300K"), "thermal_expansion_300K",
           "1/K", AFLOW_AGL, (0.0, 1e-3), "attention", "AFLOW AGL linear thermal expansion at 300 K"),
    DFTSet("mp_bulk_modulus", _bench("mp_bulk_modulus"), "bulk_modulus_vrh", "GPa", MP, (0.0, 1000.0),
           "attention", "MP Voigt-Reuss-Hill bulk modulus"),
    DFTSet("mp_shear_modulus", _bench("mp_shear_modulus"), "shear_modulus_vrh", "GPa", MP, (0.0, 1000.0),
           "attention", "MP Voigt-Reuss-Hill shear modulus"),
    DFTSet("mp_e_hull", _bench("mp_e_hull"), "e_above_hull", "eV/atom", MP, (0.0, 10.0), "attention",
           "MP energy above the convex hull"),
    DFTSet("critexam_formation_energy", _bench("CritExam__Ef"), "formation_energy_per_atom", "eV/atom", MP,
           (-6.0, 5.0), "mean", "MP formation energy (Bartel et al. 2020, npj Comput. Mater. 6, 97)"),
    DFTSet("critexam_decomposition_energy", _bench("CritExam__Ed"), "decomposition_energy", "eV/atom", MP,
           (-6.0, 6.0), "attention", "MP decomposition energy (distance to the hull, signed; Bartel et al. 2020)"),
    DFTSet("mp_e_form", ("data/matbench/mp_e_form.csv",), "formation_energy_per_atom", "eV/atom", MP,
           (-6.0, 5.0), "mean", "matbench mp_e_form (one row per MP structure)"),
    DFTSet("mp_gap", ("data/matbench/mp_gap.csv",), "band_gap", "eV", MP, (0.0, 20.0), "attention",
           "matbench mp_gap (one row per MP structure)"),
)}


@lru_cache(maxsize=None)
def _reduced(formula: str) -> str:
    from pymatgen.core import Composition
    try:
        return Composition(formula).reduced_formula
    except Exception:  # unparseable: to_records rejects it with the reason
        return formula


def count(name: str) -> int:
    """len(entries(name)) without reducing every formula (the catalogue's count: seconds, not a minute)."""
    return sum(len(pd.read_csv(package_file(PACKAGE, rel), usecols=["formula"])) for rel in SETS[name].files)


def entries(name: str, limit: int | None = None) -> pd.DataFrame:
    """All rows of set `name` (crabnet's train/val/test concatenated), with `key`, `group`, `set`."""
    if name not in SETS:
        raise KeyError(f"unknown composition DFT set {name!r}; known: {sorted(SETS)}")
    spec = SETS[name]
    parts = []
    for rel in spec.files:
        df = pd.read_csv(package_file(PACKAGE, rel), keep_default_na=False, na_values=[""])
        if list(df.columns) != ["formula", "target"]:
            raise ValueError(f"{rel}: expected columns formula,target, got {list(df.columns)}")
        df["split"] = rel.rsplit("/", 1)[-1].removesuffix(".csv") if len(spec.files) > 1 else "all"
        df["ref"] = np.arange(len(df))
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    if limit:
        df = df.head(limit).copy()
    df["set"] = name
    df["key"] = name + "/" + df["split"] + "/" + df["ref"].astype(str)
    df["group"] = _groups(name, df["formula"].astype(str)) if not limit else df["formula"].astype(str).map(_reduced)
    return df


def _groups(name: str, formulas: pd.Series) -> list[str]:
    """Every row's reduced formula (its compound), cached on disk: pymatgen takes ~0.1 ms a formula,
    36 s for OQMD's 341,700 (measured), and every process that plans shards of a set needs them.
    Keyed by the set's files, this module and pymatgen's version; a stale or short cache is rebuilt."""
    key = files_hash([*(package_file(PACKAGE, rel) for rel in SETS[name].files), __file__])
    path = cache_dir() / "composition_dft" / f"{name}-{key}-pymatgen{version('pymatgen')}.parquet"
    if path.exists():
        cached = pd.read_parquet(path)["group"]
        if len(cached) == len(formulas):
            return cached.tolist()
    groups = formulas.map(_reduced).tolist()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two ranks may build it at once: each writes its own
    pd.DataFrame({"group": groups}).to_parquet(tmp)
    tmp.replace(path)
    return groups


def to_records(row: dict) -> list[Record]:
    key = row["key"]
    spec = SETS[row["set"]]
    try:
        value = float(row["target"])
    except (TypeError, ValueError):
        raise RecordError(key, f"non-numeric target {row['target']!r}") from None
    if not np.isfinite(value):
        raise RecordError(key, "missing target")
    lo, hi = spec.sanity
    if not lo <= value <= hi:
        raise RecordError(key, f"{spec.label} {value} {spec.unit} outside the sanity range [{lo}, {hi}]")
    return [composition_record(key, str(row["formula"]), source=spec.name, theory=spec.theory,
                               labels={spec.label: Label(value, spec.unit)},
                               meta={"crabnet_split": str(row["split"])})]
