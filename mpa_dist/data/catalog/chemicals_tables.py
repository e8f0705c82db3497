"""Reading chemicals' (1.5.2) CAS-indexed property tables into SMILES-keyed entries.

`chemicals` ships its tables indexed by CAS number and its own CAS -> SMILES table
(`Identifiers/chemical identifiers pubchem *.tsv`). This module builds the CAS -> SMILES
dict once (read directly: no `search_chemical` per CAS), checks every resolved structure
(salts, hydrates, ions, radicals, mixtures, isotopes, formula mismatches) and turns one
column of a table into `(entries, rejects)` frames, every unusable row with a reason.
"""

from __future__ import annotations

import importlib
import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Callable

import pandas as pd

ENTRY_COLUMNS = ["smiles", "value", "source", "estimated", "ref", "temperature_K"]
REJECT_COLUMNS = ["ref", "reason"]
T298 = 298.15

# Bulk metals and ionic/network solids are not molecules: a SMILES with a metal but no carbon
# (NaCl written covalently, TiO2, [Fe]) is rejected; organometallics are kept.
METALS = frozenset(
    "Li Be Na Mg Al K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn "
    "Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po Fr Ra "
    "Ac Th Pa U Np Pu Am Cm".split()
)

# Names that betray a salt, hydrate, ion, radical or mixture even when the CAS number resolved
# to a neutral parent structure (ephedrine hydrochloride -> ephedrine).
_BAD_NAME = [
    (re.compile(r"hydro(chloride|bromide|iodide|fluoride)"
                r"|\b(hydrogen )?(sulfate|nitrate|phosphate|perchlorate|tosylate|mesylate|maleate|fumarate"
                r"|tartrate|citrate|oxalate|acetate|chloride|bromide|iodide) salt"
                r"|\bsalt\b|\bsodium\b|\bpotassium\b|\blithium\b|\bcalcium\b|\bmagnesium\b|\bammonium\b|\bzinc\b",
                re.I), "salt (by name)"),
    (re.compile(r"\b(mono|di|tri|tetra|penta|hexa|hepta|octa|nona|deca|hemi|sesqui)?hydrate\b", re.I), "hydrate (by name)"),
    (re.compile(r"\bions?\b|\bcation\b|\banion\b|\(\s*[+-]\d?\s*\)$|\bium ion\b", re.I), "ion (by name)"),
    (re.compile(r"\bradical\b", re.I), "radical (by name)"),
    (re.compile(r"\bmixture\b|\bmixed isomers\b|\bisomers\b|\bmix\b|\bblend\b", re.I), "mixture (by name)"),
]


def chemicals_dir() -> Path:
    spec = importlib.util.find_spec("chemicals")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("package 'chemicals' (==1.5.2) is not installed")
    return Path(list(spec.submodule_search_locations)[0])


@lru_cache(maxsize=1)
def cas_index() -> dict[str, tuple[str, str, str]]:
    """CAS -> (SMILES, formula, common name) from chemicals' identifier tables, read once.

    Only the primary CAS (field 1) of each row is used: the synonyms also list deprecated
    and generic CAS numbers (isomer-unspecified, salts) that would resolve to the wrong structure.
    """
    folder = chemicals_dir() / "Identifiers"
    out: dict[str, tuple[str, str, str]] = {}
    # the small table and the user db take precedence (curated); pubchem large fills the rest
    for fname in ("chemical identifiers pubchem small.tsv", "chemical identifiers example user db.tsv",
                  "chemical identifiers pubchem large.tsv", "Inorganic db.tsv"):
        path = folder / fname
        if not path.exists():
            raise FileNotFoundError(f"chemicals identifier table missing: {path}")
        with open(path, encoding="utf-8") as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) < 5 or not p[4] or p[1] in out:
                    continue
                name = p[8] if len(p) > 8 else (p[7] if len(p) > 7 else "")
                out[p[1].strip()] = (p[4].strip(), p[2].strip(), name)
    return out


@lru_cache(maxsize=None)
def parse_formula(formula: str) -> Counter | None:
    """Element counts of a formula such as 'C2H6O', '(CH3)2CO' or 'C2H5OH'; None if unparsable."""
    formula = formula.replace(" ", "").replace("[", "(").replace("]", ")")
    if not formula or not re.fullmatch(r"[A-Za-z0-9()]+", formula):
        return None
    tokens = re.findall(r"[A-Z][a-z]?|\d+|[()]|.", formula)
    pos = 0

    def group() -> Counter | None:
        nonlocal pos
        out: Counter = Counter()
        while pos < len(tokens) and tokens[pos] != ")":
            tok = tokens[pos]
            pos += 1
            if tok == "(":
                part = group()
                if part is None or pos >= len(tokens) or tokens[pos] != ")":
                    return None
                pos += 1
            elif re.fullmatch(r"[A-Z][a-z]?", tok):
                part = Counter({tok: 1})
            else:
                return None
            n = 1
            if pos < len(tokens) and tokens[pos].isdigit():
                n = int(tokens[pos])
                pos += 1
            for k, v in part.items():
                out[k] += v * n
        return out

    out = group()
    if out is None or pos != len(tokens):
        return None
    return out


@lru_cache(maxsize=None)
def check_smiles(smiles: str) -> tuple[str | None, tuple | None]:
    """(reason, element counts): reason is None when the structure is one neutral molecule."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    if "." in smiles:
        return "multi-component SMILES (salt, hydrate or mixture)", None
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return "SMILES not parsable by RDKit", None
    counts: Counter = Counter()
    charge = radicals = isotopes = 0
    for a in mol.GetAtoms():
        counts[a.GetSymbol()] += 1
        counts["H"] += a.GetTotalNumHs()
        charge += a.GetFormalCharge()
        radicals += a.GetNumRadicalElectrons()
        isotopes += a.GetIsotope()
    if charge:
        return "ion (net formal charge)", None
    if radicals:
        return "radical (unpaired electrons)", None
    if isotopes:
        return "isotopically labelled (indistinguishable from the parent for a graph model)", None
    if "C" not in counts and METALS.intersection(counts):
        return "inorganic metal compound or bulk element (not a discrete molecule)", None
    if "*" in counts:
        return "SMILES with a dummy atom (polymer or generic structure)", None
    return None, tuple(sorted(counts.items()))


@lru_cache(maxsize=None)
def bad_name(name) -> str | None:
    if not isinstance(name, str):
        return None
    for pat, reason in _BAD_NAME:
        if pat.search(name):
            return reason
    return None


@lru_cache(maxsize=None)
def _resolve(cas: str) -> tuple[str | None, str | None, str, tuple | None]:
    """(SMILES, reason, identifier-table name, element counts) for one CAS number."""
    hit = cas_index().get(cas)
    if hit is None:
        return None, "CAS number not in chemicals' identifier tables (no SMILES)", "", None
    smiles, pc_formula, pc_name = hit
    reason, counts = check_smiles(smiles)
    if reason:
        return None, reason, pc_name, None
    want = parse_formula(pc_formula) if pc_formula else None
    if want is not None and want != Counter(dict(counts)):
        return None, f"identifier table formula {pc_formula} does not match SMILES {smiles}", pc_name, None
    return smiles, None, pc_name, counts


def resolve_cas(cas, name=None, formula=None) -> tuple[str | None, str | None]:
    """(SMILES, None) or (None, reason) for one CAS number of a table row."""
    smiles, reason, pc_name, counts = _resolve(str(cas).strip())
    for n in (name, pc_name):
        r = bad_name(n)
        if r:
            return None, r
    if reason:
        return None, reason
    if isinstance(formula, str) and formula.strip():
        formula = re.sub(r"\s*\((g|l|s|cr|aq)\)\s*$", "", formula.strip())
        if re.search(r"[+-]\s*$|\][+-]|\+", formula):
            return None, f"ion (table formula {formula})"
        want = parse_formula(formula)
        if want is not None and want != Counter(dict(counts)):
            return None, f"table formula {formula} does not match resolved structure {smiles}"
    return smiles, None


def int_cas(i) -> str:
    s = str(int(i))
    return f"{s[:-3]}-{s[-3:-1]}-{s[-1]}"


def get_table(module: str, name: str) -> pd.DataFrame:
    """A lazily loaded chemicals table; fail loudly when its name changed.

    chemicals loads a module's tables on first access through the module's __getattr__, whose list of
    names is incomplete (chemicals 1.x: combustion omits florian_liming_mon_experimental): such a table
    existed only if another table of its module had been read before in the same process, which held in
    one process and failed in a worker that built the MON task first. The module's own loaders
    (`_load_*_data`, no arguments) run first."""
    mod = importlib.import_module(f"chemicals.{module}")
    for loader in [getattr(mod, k) for k in dir(mod) if k.startswith("_load_") and k.endswith("_data")]:
        loader()
    try:
        df = getattr(mod, name)
    except AttributeError as e:
        raise LookupError(f"chemicals.{module} has no table {name!r} (renamed in this chemicals version?)") from e
    if not isinstance(df, pd.DataFrame):
        raise LookupError(f"chemicals.{module}.{name} is a {type(df).__name__}, not a DataFrame")
    return df


def read_tsv(relpath: str, **kw) -> pd.DataFrame:
    """A chemicals data file not exposed as a module attribute, indexed by stripped CAS."""
    path = chemicals_dir() / relpath
    if not path.exists():
        raise FileNotFoundError(f"chemicals data file missing: {path}")
    df = pd.read_csv(path, sep="\t", **kw)
    df["CAS"] = df["CAS"].astype(str).str.strip()
    return df.set_index("CAS")


class Row(dict):
    """A table row readable as row["col"] and row.col; `name` is its index label (the CAS)."""

    __slots__ = ("name",)

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError as e:
            raise AttributeError(key) from e


def from_cas_table(
    df: pd.DataFrame,
    value: str | Callable[[Row], float],
    source: str,
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    estimated: bool = False,
    name_col: str | None = None,
    formula_col: str | None = None,
    temperature: float | str | Callable[[Row], float] | None = None,
    int_index: bool = False,
    prefix: str = "",
) -> tuple[list[dict], list[dict]]:
    """Rows of one CAS-indexed table -> entry dicts and reject dicts (value * scale + offset).

    `value` is a column name or a function of the row (raising ValueError, with the reason,
    when the row cannot give a value, e.g. 298.15 K outside a correlation's range).
    """
    entries, rejects = [], []
    cas_list = [int_cas(c) for c in df.index] if int_index else [str(c).strip() for c in df.index]
    if callable(value):
        cols = list(df.columns)
        dense = df.astype(object).to_numpy() if len(df) else []
        values, rows = [], []
        for c, raw in zip(df.index, dense):
            row = Row(zip(cols, raw))
            row.name = c
            rows.append(row)
            try:
                values.append(float(value(row)))
            except (TypeError, ValueError, ZeroDivisionError, OverflowError) as e:
                values.append(str(e) or type(e).__name__)
    else:
        col = df[value]
        if isinstance(col.dtype, pd.SparseDtype):
            col = col.sparse.to_dense()
        values = pd.to_numeric(col, errors="coerce").astype(float).tolist()
        rows = None
    names = df[name_col].tolist() if name_col else None
    formulas = df[formula_col].tolist() if formula_col else None
    if isinstance(temperature, str):
        temps = pd.to_numeric(df[temperature], errors="coerce").tolist()
    for i, (cas, v) in enumerate(zip(cas_list, values)):
        ref = f"{prefix}{cas}"
        if isinstance(v, str):
            reason = "missing value" if v == "missing value" else f"value not usable ({v})"
            rejects.append({"ref": ref, "reason": f"{source}: {reason}"})
            continue
        if not math.isfinite(v):
            rejects.append({"ref": ref, "reason": f"{source}: missing value"})
            continue
        smiles, reason = resolve_cas(cas, names[i] if names else None, formulas[i] if formulas else None)
        if reason:
            rejects.append({"ref": ref, "reason": f"{source}: {reason}"})
            continue
        if callable(temperature):
            t = temperature(rows[i] if rows is not None else Row(df.iloc[i].to_dict()))
        elif isinstance(temperature, str):
            t = temps[i]
        else:
            t = temperature
        entries.append({"smiles": smiles, "value": v * scale + offset, "source": source,
                        "estimated": estimated, "ref": ref,
                        "temperature_K": float(t) if t is not None else float("nan")})
    return entries, rejects


def frames(entries: list[dict], rejects: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    e = pd.DataFrame(entries, columns=ENTRY_COLUMNS)
    e["value"] = e["value"].astype(float)
    e["estimated"] = e["estimated"].astype(bool)
    e["temperature_K"] = e["temperature_K"].astype(float)
    return e, pd.DataFrame(rejects, columns=REJECT_COLUMNS)
