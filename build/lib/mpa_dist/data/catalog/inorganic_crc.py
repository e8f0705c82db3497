"""CRC Handbook and JANAF tables of inorganic compounds, read from the chemicals 1.5.2 package.

chemicals ships the tables indexed by CAS number and name only, in SI units (K, kg/m^3,
J/mol, J/(mol K); checked: Al2O3 (alpha) Hf(s) = -1675700 J/mol, calcium acetate 1500 kg/m^3,
thallium Tm 577.15 K). The formula of each row comes from chemicals' own CAS table
(`search_chemical(cas, autoload=True)`, offline), and is only trusted when
  - the lookup returns the SAME CAS number (75-20-7 "calcium carbide" resolves to an organic
    acetate under another CAS: rejected),
  - the name is not a hydrate, ion, radical, solution or mixture (hydrates resolve to the
    anhydrous parent for some CAS numbers and not for others),
  - the compound is not organic (C and H together: composition does not determine
    the properties of an organic compound; the molecular catalogue covers them),
  - every element the name implies ("sodium", "chlor", "sulf", ...) is in the formula, and
    no element except O (oxo-anions) or H (hydr-, ammonium, acids) is in the formula
    without being implied by the name.
Every rejected row is returned with its reason.

Extensive values per formula unit (enthalpy, Gibbs energy, entropy and heat capacity) are
divided by the number of atoms of the formula they were tabulated for, so that they do not
depend on how the formula is later reduced (Hg2Cl2 and HgCl are one composition): these
tasks are per ATOM, in eV/atom or J/(mol K) per mole of atoms, with readout "mean".
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

import numpy as np
import pandas as pd
from pymatgen.core import Element

from mpa_dist.data.offline import package_file
from mpa_dist.data.readers.formula import parse_formula
from mpa_dist.data.record import RecordError
from mpa_dist.units import KJ_MOL_EV

PHYS = "Misc/Physical Constants of Inorganic Compounds.csv"
THERMO = "Heat Capacity/CRC Standard Thermodynamic Properties of Chemical Substances.tsv"
JANAF_CP_SOLID = "Heat Capacity/JANAF_1998_solid_Cp.json"

_NOT_PURE = re.compile(r"hydrate|\bion\b|radical|solution|mixture|\baq\b|\(aq\)|\balum\b|\bbasic\b", re.I)
_ALIASES = {"aluminum": "Al", "cesium": "Cs", "sulphur": "S", "water": "H", "deuterium": "H", "tritium": "H"}
# word stems that imply an element, e.g. "perchlorate" -> Cl, "sulfide" -> S
_STEMS = {"chlor": "Cl", "fluor": "F", "brom": "Br", "iod": "I", "sulf": "S", "sulph": "S", "thio": "S",
          "nitr": "N", "azide": "N", "amide": "N", "imide": "N", "ammon": "N", "cyan": "C", "carb": "C",
          "phosph": "P", "selen": "Se", "tellur": "Te", "arsen": "As", "antimon": "Sb", "silic": "Si",
          "silan": "Si", "silox": "Si", "bor": "B", "hydr": "H", "ox": "O", "germ": "Ge", "stann": "Sn",
          "plumb": "Pb", "chrom": "Cr", "mangan": "Mn", "molybd": "Mo", "tungst": "W", "vanad": "V",
          "titan": "Ti", "zircon": "Zr", "ferr": "Fe", "cupr": "Cu", "argent": "Ag", "aur": "Au",
          "permangan": "Mn", "bismuth": "Bi", "osm": "Os", "ruthen": "Ru", "rhen": "Re", "tantal": "Ta",
          "niob": "Nb", "stib": "Sb", "aluminate": "Al", "zincate": "Zn", "plumbate": "Pb", "aluminide": "Al",
          "amin": "N", "azin": "N", "azo": "N", "hydrazin": "N", "arsin": "As", "ozon": "O", "uranyl": "U",
          "beryll": "Be", "cadm": "Cd", "platin": "Pt", "acet": "C", "cyanid": "N", "cyanat": "N",
          "cyanog": "N", "diazine": "N", "hydrazoic": "N", "phosphonium": "H", "borazin": "N", "hydrid": "H",
          "hydrox": "H", "hydrogen": "H", "ammonium": "H"}
_O_IMPLIED = re.compile(r"ate\b|ite\b|ox|oxy|peroxide|superoxide|ozonide|yl\b|yl |water|alum|acid|ite\)|ate\)", re.I)
_H_IMPLIED = re.compile(r"hydr|ammon|acid|water|\bhydrogen|amide|imide|phosphine|arsine|stibine|silane|borane|"
                        r"germane|stannane|hydrazin|hydroxyl|deuter", re.I)


@lru_cache(maxsize=1)
def _element_names() -> list[tuple[re.Pattern, str]]:
    pats = []
    for z in range(1, 104):
        el = Element.from_Z(z)
        pats.append((re.compile(r"\b" + el.long_name.lower()), el.symbol))
    for name, sym in _ALIASES.items():
        pats.append((re.compile(r"\b" + name), sym))
    return pats


def implied_elements(name: str) -> set[str]:
    """Elements a chemical name implies: full element names as words, and anion/prefix stems."""
    low = name.lower()
    found = {sym for pat, sym in _element_names() if pat.search(low)}
    # stems only inside words that are not themselves element names already matched
    found |= {sym for stem, sym in _STEMS.items() if stem in low}
    return found


_STRICT_STEMS = ("chlor", "fluor", "brom", "iod", "sulf", "sulph", "thio", "nitr", "azide", "phosph", "selen",
                 "tellur", "arsen", "silic", "cyan", "hydrid", "hydrox", "hydrogen", "ammonium")
_STRICT_H = ("boran", "silan", "phosphin", "arsin", "stibin")  # hydrides named without "hydr"


def check_name_formula(name: str, elements: set[str]) -> str | None:
    """None if the formula's elements agree with the name, else the reason."""
    low = name.lower()
    implied = implied_elements(name)
    required = {sym for pat, sym in _element_names() if pat.search(low)}
    required |= {_STEMS[s] for s in _STRICT_STEMS if s in low}
    required |= {"H" for s in _STRICT_H if s in low}
    missing = required - elements
    if missing:
        return f"the name implies {sorted(missing)}, absent from the formula"
    extra = elements - implied
    if "O" in extra and _O_IMPLIED.search(name):
        extra.discard("O")
    if "H" in extra and _H_IMPLIED.search(name):
        extra.discard("H")
    if extra:
        return f"formula elements {sorted(extra)} are not implied by the name"
    return None


@lru_cache(maxsize=None)
def resolve(cas: str, name: str) -> tuple[str | None, str | None]:
    """(formula, None) for a usable inorganic compound, else (None, reason)."""
    from chemicals.identifiers import search_chemical

    if _NOT_PURE.search(name):
        return None, f"not a pure anhydrous compound by name ({name!r}): hydrate, ion, solution or mixture"
    try:
        meta = search_chemical(cas, autoload=True)
    except Exception as e:  # chemicals raises ValueError for unknown CAS numbers
        return None, f"CAS {cas} not resolvable offline ({type(e).__name__})"
    if not name:  # a table without names (JANAF solids): check against chemicals' own name
        name = str(meta.common_name or "")
        if _NOT_PURE.search(name):
            return None, f"not a pure anhydrous compound by name ({name!r})"
    if meta.CASs != cas:
        return None, f"CAS {cas} resolves to another compound ({meta.CASs}, {meta.common_name!r})"
    if getattr(meta, "charge", 0):
        return None, f"charged species (charge {meta.charge})"
    formula = meta.formula
    named = formula_in_name(name) or formula_in_name(str(meta.common_name or ""))
    if named is not None:
        formula = named  # e.g. "Tantalum carbide (Ta2C)", "iron oxide (Fe3O4)": the name fixes the stoichiometry
    elif smiles_lists_elements(str(meta.smiles or "")):
        return None, (f"chemicals' structure {meta.smiles!r} lists disconnected neutral atoms: its formula "
                      f"{formula} is an element list, not the stoichiometry")
    try:
        comp = parse_formula(formula, cas)
    except RecordError as e:
        return None, f"unusable formula {formula!r}: {e.reason}"
    els = {str(e) for e in comp.elements}
    if els & {"D", "T"} or re.search(r"deuter|tritium|-d\d|-t\d", name, re.I):
        return None, f"isotopically labelled ({formula}): isotopologues share one composition"
    if "C" in els and "H" in els:
        return None, f"organic compound ({formula}): belongs to the molecular tasks"
    bad = check_name_formula(name, els)
    if bad:
        return None, f"formula {formula} inconsistent with the name: {bad}"
    return formula, None


_BARE_ATOM = re.compile(r"\[[A-Z][a-z]?\]")
_NAME_FORMULA = re.compile(r"[\(\[]([A-Z][A-Za-z0-9]*)[\)\]]")


def smiles_lists_elements(smiles: str) -> bool:
    """True for PubChem-style element lists such as '[Ba].[Zr].[O]' or 'O.O.[Fe].[Fe]'."""
    frags = smiles.split(".")
    return len(frags) > 1 and any(_BARE_ATOM.fullmatch(f) for f in frags)


def formula_in_name(name: str) -> str | None:
    """A formula written in the name, e.g. 'Molybdenum silicide [MoSi2]' -> 'MoSi2' (not roman numerals)."""
    for m in _NAME_FORMULA.finditer(name):
        cand = m.group(1)
        if re.fullmatch(r"[IVX]+", cand) or not re.search(r"[a-z0-9]|[A-Z].*[A-Z]", cand):
            continue
        try:
            comp = parse_formula(cand)
        except RecordError:
            continue
        if comp.num_atoms > 0:
            return cand
    return None


def _table(rel: str, sep: str = "\t") -> pd.DataFrame:
    return pd.read_csv(package_file("chemicals", rel), sep=sep)


def _natoms(formula: str) -> float:
    return float(parse_formula(formula).num_atoms)


def crc_builder(table: str, column: str, convert, source: str, temperature_K: float | None = None,
                check=None):
    """A builder over one column of one chemicals table: (entries, rejects).

    convert(value, formula) -> value in the task's unit; check(value) -> reason or None.
    """
    def build() -> tuple[pd.DataFrame, pd.DataFrame]:
        df = _table(PHYS if table == "phys" else THERMO)
        rows, rejects = [], []
        for cas, name, v in zip(df["CAS"], df["Chemical"], df[column]):
            if not isinstance(v, (int, float)) or not np.isfinite(v):
                continue  # the compound has no value in this column: not an input row of this task
            ref = f"{cas} {name}"
            formula, reason = resolve(str(cas), str(name))
            if reason is None and check is not None:
                reason = check(v)
            if reason is not None:
                rejects.append({"ref": ref, "reason": reason})
                continue
            row = {"formula": formula, "value": float(convert(v, formula)), "source": source,
                   "estimated": False, "ref": ref}
            if temperature_K is not None:
                row["temperature_K"] = temperature_K
            rows.append(row)
        return _frames(rows, rejects)

    return build


def janaf_cp_builder(source: str):
    """Cp of solids at 298.15 K from the JANAF 1998 tables, J/(mol K) per mole of atoms."""
    def build() -> tuple[pd.DataFrame, pd.DataFrame]:
        with open(package_file("chemicals", JANAF_CP_SOLID)) as f:
            data = json.load(f)
        janaf = _table("Reactions/JANAF_1998.tsv")
        names = dict(zip(janaf["CAS"], janaf["Chemical"]))
        rows, rejects = [], []
        for cas, (temps, cps) in data.items():
            name = names.get(cas, "")
            ref = f"{cas} {name}".strip()
            if 298.15 not in temps:
                rejects.append({"ref": ref, "reason": "no Cp tabulated at 298.15 K"})
                continue
            cp = cps[temps.index(298.15)]
            formula, reason = resolve(cas, str(name))
            if reason is not None:
                rejects.append({"ref": ref, "reason": reason})
                continue
            rows.append({"formula": formula, "value": cp / _natoms(formula), "source": source,
                         "estimated": False, "ref": ref, "temperature_K": 298.15})
        return _frames(rows, rejects)

    return build


def _frames(rows, rejects):
    ent = pd.DataFrame(rows, columns=None if rows else ["formula", "value", "source", "estimated", "ref"])
    rej = pd.DataFrame(rejects, columns=["ref", "reason"])
    return ent, rej


# conversions from chemicals' SI units
def per_atom_ev(v, formula):  # J/mol per formula unit -> eV/atom
    return v / 1000.0 * KJ_MOL_EV / _natoms(formula)


def per_atom(v, formula):  # J/(mol K) per formula unit -> J/(mol K) per mole of atoms
    return v / _natoms(formula)


def g_cm3(v, formula):  # kg/m^3 -> g/cm^3
    return v / 1000.0


def kelvin(v, formula):
    return v


def condensed_density(v):
    return None if v >= 100.0 else f"density {v} kg/m^3 is a gas density (g/L), not a condensed phase"
