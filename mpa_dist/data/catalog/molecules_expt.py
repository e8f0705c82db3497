"""Experimental molecular property tasks: one TaskSpec per property, merging all sources.

`TABLES` holds `(spec, builder)` pairs; `builder()` returns `(entries, rejects)`:
entries have columns smiles (as resolved, not canonicalised), value (in `spec.unit`),
source (the name of one Source in `spec.sources`), estimated, ref, temperature_K; rejects
have ref and reason for every input row that could not be used. De-duplication,
canonicalisation, sanity filtering and splits are done downstream.

Units: chemicals stores SI (K, Pa, m^3/mol, J/mol, J/(mol K), Pa^0.5, mole fractions);
the conversions to the declared units are explicit below.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd

from mpa_dist.data.catalog.chemicals_tables import T298, frames
from mpa_dist.data.catalog.molecules_expt_correlations import CORRELATION_TASKS
from mpa_dist.data.catalog.molecules_expt_sets import (
    aqsoldb,
    bradley_mp,
    confirm_against,
    deep4chem,
    freesolv,
    g2_enthalpies,
    huuskonen,
    lipophilicity,
    prefer_source,
)
from mpa_dist.data.catalog.molecules_expt_sources import S, cas
from mpa_dist.data.catalog.spec import TaskSpec

Part = tuple[str, Callable[[], tuple[list, list]]]  # (source key, reader)
KJ = 1e-3  # J/mol -> kJ/mol


def spec(name, prop, unit, readout, sanity, tol, desc, parts, transform="none") -> TaskSpec:
    keys = list(dict.fromkeys(k for k, _ in parts))
    return TaskSpec(name=name, property=prop, unit=unit, input="molecule", kind="experimental", dataset=name,
                    label=name, sources=tuple(S[k] for k in keys), transform=transform, sanity=sanity,
                    readout=readout, split="scaffold", tolerance=tol, description=desc)


def builder(parts: list[Part], post=None, positive=False) -> Callable[[], tuple[pd.DataFrame, pd.DataFrame]]:
    def build():
        entries, rejects = [], []
        for _, read in parts:
            e, r = read()
            entries += e
            rejects += r
        if post is not None:
            entries, rejects = post(entries, rejects)
        if positive:  # several tables write 0 for a missing value of a strictly positive quantity
            rejects += [{"ref": e["ref"], "reason": f"{e['source']}: value 0 (placeholder for a missing value)"}
                        for e in entries if e["value"] == 0]
            entries = [e for e in entries if e["value"] != 0]
        return frames(entries, rejects)

    return build


# ---- value helpers for tables whose value depends on a condition column ----
def _near_room(col: str, tcol: str, lo=283.15, hi=303.15):
    def value(row):
        if row[col] != row[col]:
            raise ValueError("missing value")
        t = row[tcol]
        if not (lo <= t <= hi):
            raise ValueError(f"measured at {t} K, not near room temperature")
        return row[col]

    return value


def _permittivity(row):
    if row["Permittivity"] != row["Permittivity"] and row["A"] != row["A"]:
        raise ValueError("missing value")
    if 283.15 <= row["T"] <= 303.15:
        return row["Permittivity"]
    if row["Tmin"] <= T298 <= row["Tmax"] and pd.notna(row["A"]):
        return row["A"] + row["B"] * T298 + row["C"] * T298**2 + row["D"] * T298**3
    raise ValueError(f"measured at {row['T']} K and no correlation covering 298.15 K")


def _permittivity_T(row):
    return row["T"] if 283.15 <= row["T"] <= 303.15 else T298


def _trc_cp(row):
    from chemicals.heat_capacity import TRCCp

    if not (row["Tmin"] <= T298 <= row["Tmax"]):
        raise ValueError("298.15 K outside the correlation range")
    return TRCCp(T298, *(row[f"a{i}"] for i in range(8)))


# ---- the tasks ----
_TASKS: list[tuple] = []


def task(name, prop, unit, readout, sanity, tol, desc, parts, transform="none", post=None):
    _TASKS.append((spec(name, prop, unit, readout, sanity, tol, desc, parts, transform),
                   builder(parts, post, positive=sanity[0] > 0)))


task("melting_point", "melting point", "K", "attention", (10.0, 1000.0), 5.0,
     "Normal melting point of the pure compound.",
     [cas("crc_handbook", "miscdata", "CRC_organic_data", "Tm", name_col="Name"),
      cas("cas_common_chemistry", "miscdata", "common_chemistry_data", "Tm", int_index=True),
      cas("bradley_open_melting_point", "phase_change", "Tm_ON_data", "Tm"),
      cas("nist_webbook", "miscdata", "webbook_data", "Tm", int_index=True),
      cas("wikidata", "miscdata", "wikidata_data", "Tm", int_index=True),
      ("bradley_melting_points", bradley_mp)])
# CAS Common Chemistry gives a boiling point without its pressure (chemicals keeps the value only), and for
# compounds that boil high it is often one at reduced pressure (didodecylamine: 453 K, where the random forest
# predicts 658 K): on the demo's test split both models over-predicted the CAS-only compounds by tens of kelvin
# and the others by a few (docs/history.md). Its values are kept only where another measured source agrees.
_CAS_TB_WHY = "its boiling points carry no pressure, and many are at reduced pressure"
task("boiling_point", "normal boiling point", "K", "attention", (4.0, 1200.0), 5.0,
     "Boiling point at 101.325 kPa; CAS Common Chemistry values kept only when another measured source confirms them.",
     [cas("crc_handbook", "miscdata", "CRC_organic_data", "Tb", name_col="Name"),
      cas("nist_webbook", "miscdata", "webbook_data", "Tb", int_index=True),
      cas("wikidata", "miscdata", "wikidata_data", "Tb", int_index=True),
      cas("cas_common_chemistry", "miscdata", "common_chemistry_data", "Tb", int_index=True),
      cas("yaws", "phase_change", "Tb_data_Yaws", "Tb")],
     post=lambda e, r: confirm_against(e, r, S["cas_common_chemistry"].name, tol=5.0, why=_CAS_TB_WHY))

_crit = {"Tc": [], "Pc": [], "Vc": [], "omega": []}
for key, mod, tab, cols, kw in [
    ("iupac_critical_data", "critical", "critical_data_IUPAC", "Tc Pc Vc", {"name_col": "Chemical"}),
    ("crc_handbook", "critical", "critical_data_CRC", "Tc Pc Vc", {"name_col": "Chemical"}),
    ("psrk_revision_4", "critical", "critical_data_PSRKR4", "Tc Pc Vc omega", {"name_col": "Chemical"}),
    ("passut_danner_1973", "critical", "critical_data_PassutDanner", "Tc Pc omega", {"name_col": "Chemical"}),
    ("coolprop_reference_eos_constants", "miscdata", "heos_data", "Tc Pc Vc omega", {"name_col": "name"}),
    ("nist_webbook", "miscdata", "webbook_data", "Tc Pc Vc", {"int_index": True}),
    ("dippr_via_pina_martines", "critical", "critical_data_PinaMartines", "Tc Pc Vc", {}),
    ("yaws", "critical", "critical_data_Yaws", "Tc Pc Vc omega", {"name_col": "Chemical"}),
]:
    for c in cols.split():
        scale = {"Pc": 1e-6, "Vc": 1e6}.get(c, 1.0)  # Pa -> MPa, m^3/mol -> cm^3/mol
        _crit[c].append(cas(key, mod, tab, c, scale=scale, **kw))
task("critical_temperature", "critical temperature", "K", "attention", (5.0, 1500.0), 5.0,
     "Vapour-liquid critical temperature.", _crit["Tc"])
task("critical_pressure", "critical pressure", "MPa", "hybrid", (0.1, 30.0), 0.2,
     "Vapour-liquid critical pressure.", _crit["Pc"])
task("critical_volume", "critical molar volume", "cm^3/mol", "sum", (20.0, 3000.0), 15.0,
     "Vapour-liquid critical molar volume.", _crit["Vc"])
task("acentric_factor", "acentric factor", "1", "hybrid", (-0.5, 2.5), 0.03,
     "Pitzer acentric factor, -log10(Psat/Pc at T = 0.7 Tc) - 1.", _crit["omega"])

task("liquid_density", "liquid density near room temperature", "kg/m^3", "mean", (300.0, 3500.0), 20.0,
     "Density of the liquid (or solid) near 20-25 C as listed by the CRC Handbook.",
     [cas("crc_handbook", "miscdata", "CRC_organic_data", "rho", name_col="Name")])
task("refractive_index", "refractive index (sodium D line, near room temperature)", "1", "mean", (1.0, 2.2), 0.005,
     "Refractive index n_D between 10 and 30 C.",
     [cas("crc_handbook", "refractivity", "RI_data_CRC_organic", _near_room("RI", "RIT"), temperature="RIT"),
      cas("wikidata", "miscdata", "wikidata_data", _near_room("RI", "RIT"), temperature="RIT", int_index=True)])

_safety = {"T_flash": [], "T_autoignition": [], "LFL": [], "UFL": []}
for key, tab, kw in [("nfpa_497", "NFPA_2008_data", {"name_col": "Name"}),
                     ("iec_60079_20_1", "IEC_2010_data", {"name_col": "Names"})]:
    for c in _safety:
        _safety[c].append(cas(key, "safety", tab, c, scale=100.0 if c in ("LFL", "UFL") else 1.0, **kw))
_safety["T_flash"].append(cas("dippr_flash_points_via_serat", "safety", "DIPPR_SERAT_data", "T_flash", name_col="Name"))
for c in _safety:
    _safety[c].append(cas("wikidata", "miscdata", "wikidata_data", c, int_index=True,
                          scale=100.0 if c in ("LFL", "UFL") else 1.0))
task("flash_point", "flash point", "K", "attention", (100.0, 800.0), 10.0,
     "Closed-cup flash point.", _safety["T_flash"])
task("autoignition_temperature", "autoignition temperature", "K", "attention", (300.0, 1200.0), 30.0,
     "Autoignition temperature in air.", _safety["T_autoignition"])
task("lower_flammability_limit", "lower flammability limit in air", "vol%", "attention", (0.1, 50.0), 0.5,
     "Lower flammability (explosive) limit in air, volume percent.", _safety["LFL"])
task("upper_flammability_limit", "upper flammability limit in air", "vol%", "attention", (1.0, 100.0), 3.0,
     "Upper flammability (explosive) limit in air, volume percent.", _safety["UFL"])

task("dipole_moment", "dipole moment (gas)", "D", "vector", (0.0, 15.0), 0.2,
     "Magnitude of the experimental gas-phase electric dipole moment.",
     [cas("poling", "dipole", "dipole_data_Poling", "dipole_moment", name_col="Chemical"),
      cas("nist_cccbdb", "dipole", "dipole_data_CCDB", "dipole_moment", name_col="Chemical"),
      cas("muller_dipoles", "dipole", "dipole_data_Muller", "dipole_moment", name_col="Chemical")])
task("dielectric_constant", "static relative permittivity of the liquid near room temperature", "1", "attention",
     (1.0, 300.0), 2.0, "Static dielectric constant of the liquid at 10-30 C, else from the CRC correlation at 298.15 K.",
     [cas("crc_handbook", "permittivity", "permittivity_data_CRC", _permittivity, temperature=_permittivity_T,
          name_col="Chemical")])
task("logp", "octanol-water partition coefficient", "log10(Kow)", "hybrid", (-6.0, 12.0), 0.5,
     "log10 of the octanol-water partition coefficient of the neutral compound.",
     [cas("crc_handbook", "environment", "logP_data_CRC", "logP", name_col="Name "),
      cas("src_physprop_via_syrres", "environment", "logP_data_Syrres", "logP", name_col="Chemical"),
      cas("wikidata", "miscdata", "wikidata_data", "logP", int_index=True)])

_hfg = [cas("atct_1_112", "reaction", "Hfg_ATcT_data", "Hfg", scale=KJ, name_col="Chemical", formula_col="Formula",
            temperature=T298),
        cas("crc_handbook", "heat_capacity", "CRC_standard_data", "Hfg", scale=KJ, name_col="Chemical", temperature=T298),
        cas("nist_webbook", "miscdata", "webbook_data", "Hfg", scale=KJ, int_index=True, temperature=T298),
        ("ase_g2_experimental_enthalpies", g2_enthalpies),
        cas("api_tdb_via_albahri", "reaction", "Hfg_API_TDB_data", "Hfg", scale=KJ, name_col="Compound", temperature=T298),
        cas("yaws", "reaction", "Hfg_S0g_YAWS_data", "Hfg", scale=KJ, name_col="name", temperature=T298)]


def _hfg_post(entries, rejects):
    entries, rejects = confirm_against(entries, rejects, S["api_tdb_via_albahri"].name, tol=8.0)
    return prefer_source(entries, rejects, S["atct_1_112"].name, tol=8.0)


task("enthalpy_of_formation_gas", "standard enthalpy of formation (gas, 298.15 K)", "kJ/mol", "sum",
     (-5000.0, 3000.0), 8.0, "Standard enthalpy of formation of the ideal gas at 298.15 K; ATcT preferred, "
     "API-TDB values kept only when another source confirms them.", _hfg, post=_hfg_post)
task("enthalpy_of_formation_liquid", "standard enthalpy of formation (liquid, 298.15 K)", "kJ/mol", "sum",
     (-5000.0, 3000.0), 8.0, "Standard enthalpy of formation of the liquid at 298.15 K; ATcT preferred.",
     [cas("atct_1_112", "reaction", "Hfl_ATcT_data", "Hfl", scale=KJ, name_col="Chemical", formula_col="Formula",
          temperature=T298),
      cas("crc_handbook", "heat_capacity", "CRC_standard_data", "Hfl", scale=KJ, name_col="Chemical", temperature=T298),
      cas("nist_webbook", "miscdata", "webbook_data", "Hfl", scale=KJ, int_index=True, temperature=T298)],
     post=lambda e, r: prefer_source(e, r, S["atct_1_112"].name, tol=8.0))
task("enthalpy_of_formation_solid", "standard enthalpy of formation (solid, 298.15 K)", "kJ/mol", "sum",
     (-6000.0, 3000.0), 10.0, "Standard enthalpy of formation of the crystalline solid at 298.15 K.",
     [cas("crc_handbook", "heat_capacity", "CRC_standard_data", "Hfs", scale=KJ, name_col="Chemical", temperature=T298),
      cas("nist_webbook", "miscdata", "webbook_data", "Hfs", scale=KJ, int_index=True, temperature=T298)])
for phase, col, lo_hi, extra in [
    ("gas", "S0g", (100.0, 2500.0), [cas("yaws", "reaction", "Hfg_S0g_YAWS_data", "S0g", name_col="name", temperature=T298)]),
    ("liquid", "S0l", (30.0, 2500.0), []),
    ("solid", "S0s", (5.0, 2500.0), []),
]:
    task(f"standard_entropy_{phase}", f"standard molar entropy ({phase}, 298.15 K)", "J/(mol K)", "sum", lo_hi, 5.0,
         f"Standard molar entropy of the {phase} at 298.15 K and 1 bar.",
         [cas("crc_handbook", "heat_capacity", "CRC_standard_data", col, name_col="Chemical", temperature=T298),
          cas("nist_webbook", "miscdata", "webbook_data", col, int_index=True, temperature=T298)] + extra)
task("heat_capacity_gas", "isobaric heat capacity (ideal gas, 298.15 K)", "J/(mol K)", "sum", (15.0, 2000.0), 4.0,
     "Ideal-gas isobaric molar heat capacity at 298.15 K.",
     [cas("crc_handbook", "heat_capacity", "CRC_standard_data", "Cpg", name_col="Chemical", temperature=T298),
      cas("poling", "heat_capacity", "Cp_data_Poling", "Cpg", name_col="Chemical", temperature=T298),
      cas("trc_gas_phase_tables", "heat_capacity", "TRC_gas_data", _trc_cp, name_col="Chemical", temperature=T298)])
task("heat_capacity_liquid", "isobaric heat capacity (liquid, 298.15 K)", "J/(mol K)", "sum", (20.0, 3000.0), 5.0,
     "Isobaric molar heat capacity of the liquid at 298.15 K.",
     [cas("crc_handbook", "heat_capacity", "CRC_standard_data", "Cpl", name_col="Chemical", temperature=T298),
      cas("poling", "heat_capacity", "Cp_data_Poling", "Cpl", name_col="Chemical", temperature=T298)])
task("enthalpy_of_vaporization", "enthalpy of vaporization (298.15 K)", "kJ/mol", "sum", (1.0, 250.0), 3.0,
     "Enthalpy of vaporization at 298.15 K (NIST WebBook: standard value, mostly at 298 K).",
     [cas("crc_handbook", "phase_change", "Hvap_data_CRC", "Hvap298", scale=KJ, name_col="Chemical",
          formula_col="Formula", temperature=T298),
      cas("gharagheizi_enthalpies", "phase_change", "Hvap_data_Gharagheizi", "Hvap298", scale=KJ, name_col="Chemical",
          temperature=T298),
      cas("nist_webbook", "miscdata", "webbook_data", "Hvap", scale=KJ, int_index=True)])
task("enthalpy_of_fusion", "enthalpy of fusion", "kJ/mol", "hybrid", (0.01, 200.0), 2.0,
     "Enthalpy of fusion at the melting point.",
     [cas("crc_handbook", "phase_change", "Hfus_data_CRC", "Hfus", scale=KJ, name_col="Chemical", formula_col="Formula"),
      cas("nist_webbook", "miscdata", "webbook_data", "Hfus", scale=KJ, int_index=True),
      cas("wikidata", "miscdata", "wikidata_data", "Hfus", scale=KJ, int_index=True)])
task("enthalpy_of_sublimation", "enthalpy of sublimation (298.15 K)", "kJ/mol", "sum", (5.0, 400.0), 5.0,
     "Enthalpy of sublimation near 298.15 K.",
     [cas("gharagheizi_enthalpies", "phase_change", "Hsub_data_Gharagheizi", "Hsub", scale=KJ, name_col="Chemical",
          temperature=T298),
      cas("nist_webbook", "miscdata", "webbook_data", "Hsub", scale=KJ, int_index=True)])
task("triple_point_temperature", "triple point temperature", "K", "attention", (10.0, 1000.0), 3.0,
     "Solid-liquid-vapour triple point temperature.",
     [cas("staveley_1981", "triple", "triple_data_Staveley", "Tt", name_col="Chemical"),  # its formulas are OCR-garbled
      cas("coolprop_reference_eos_constants", "miscdata", "heos_data", "Tt", name_col="name"),
      cas("nist_webbook", "miscdata", "webbook_data", "Tt", int_index=True)])
for comp, readout, desc in [("D", "mean", "dispersion"), ("P", "hybrid", "polar"), ("H", "hybrid", "hydrogen-bonding")]:
    col = f"HANSEN_DELTA_{comp}"
    task(f"hansen_delta_{comp.lower()}", f"Hansen solubility parameter delta_{comp}", "MPa^0.5", readout, (0.0, 50.0),
         1.0, f"Hansen {desc} solubility parameter at 25 C.",
         [cas("hansen_parameters", "solubility", t, col, scale=1e-3, prefix=f"hansen_parameters:{t}:")
          for t in ("alsheri_hansen_data", "hspipy_data", "wdr_schrier_data", "manuel_ruben_2022_data")])
task("research_octane_number", "research octane number", "1", "attention", (-100.0, 150.0), 5.0,
     "Research octane number (RON) of the pure compound.",
     [cas("florian_liming_fuel_data", "combustion", "florian_liming_ron_experimental", "RON"),
      cas("combustdb", "combustion", "combustdb_ron", "RON")])
task("motor_octane_number", "motor octane number", "1", "attention", (-100.0, 150.0), 5.0,
     "Motor octane number (MON) of the pure compound.",
     [cas("florian_liming_fuel_data", "combustion", "florian_liming_mon_experimental", "MON"),
      cas("combustdb", "file", "Misc/Travis_Kessler_Combustdb_MON.tsv", "MON")])
task("cetane_number", "cetane number", "1", "attention", (-50.0, 150.0), 5.0,
     "Cetane number (or derived cetane number) of the pure compound.",
     [cas("florian_liming_fuel_data", "file", "Misc/Florian_Liming_CETANE_experimental.tsv", "CETANE"),
      cas("combustdb", "file", "Misc/Travis_Kessler_Combustdb_CETANE.tsv", "CETANE")])

task("aqueous_solubility", "aqueous solubility (log molar, ~25 C)", "log10(mol/L)", "hybrid", (-13.0, 3.0), 0.5,
     "log10 of the intrinsic aqueous solubility in mol/L near 25 C.",
     [("aqsoldb", aqsoldb), ("huuskonen_solubility", huuskonen)])
task("logd_7_4", "octanol/buffer distribution coefficient at pH 7.4", "log10(D)", "hybrid", (-5.0, 8.0), 0.3,
     "log10 of the octanol/water distribution coefficient at pH 7.4 (AstraZeneca shake-flask).",
     [("lipophilicity_astrazeneca_chembl", lipophilicity)])
task("hydration_free_energy", "hydration free energy (298 K)", "kJ/mol", "hybrid", (-150.0, 30.0), 2.0,
     "Free energy of transfer from the ideal gas to water at 298 K (FreeSolv, converted from kcal/mol).",
     [("freesolv", freesolv)])
task("absorption_max_dichloromethane", "UV-vis absorption maximum in dichloromethane", "nm", "attention",
     (150.0, 1500.0), 10.0, "Wavelength of maximum absorption of the chromophore dissolved in dichloromethane.",
     [("deep4chem_optical", lambda: deep4chem("Absorption max (nm)"))])
task("emission_max_dichloromethane", "fluorescence emission maximum in dichloromethane", "nm", "attention",
     (150.0, 1500.0), 10.0, "Wavelength of maximum emission of the chromophore dissolved in dichloromethane.",
     [("deep4chem_optical", lambda: deep4chem("Emission max (nm)"))])

for _args in CORRELATION_TASKS:
    task(*_args[:8], **_args[8])

TABLES: list[tuple[TaskSpec, Callable[[], tuple[pd.DataFrame, pd.DataFrame]]]] = list(_TASKS)

_names = [s.name for s, _ in TABLES]
if len(set(_names)) != len(_names):
    raise RuntimeError(f"duplicate task names in molecules_expt: {_names}")
