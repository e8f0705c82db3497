"""Deterministic, leak-free splits.

A group's split is a pure function of (property, split scheme, group key): a hash. So
the same compound lands in the same split in every task that measures the same property,
and no validation or test entry of one task can be training data of another task with
that property, nor of mid-training (which takes training splits only).

Schemes:
- random: the group is the compound (canonical SMILES / reduced formula);
- scaffold (molecules): the Bemis-Murcko scaffold; acyclic molecules, which share the
  empty scaffold, are each their own group so they do not all fall on one side;
- grouped (compositions): the chemical system (the set of elements), so test compounds
  come from element combinations never seen in training;
- matbench: the official 5 folds given by the source (a `fold` column), kept as is.
"""

from __future__ import annotations

import hashlib

import pandas as pd
from pymatgen.core import Composition
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}


def _unit_interval(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def split_of(property_: str, scheme: str, group: str) -> str:
    u = _unit_interval(f"{property_}|{scheme}|{group}")
    if u < FRACTIONS["test"]:
        return "test"
    if u < FRACTIONS["test"] + FRACTIONS["val"]:
        return "val"
    return "train"


def scaffold(smiles: str) -> str:
    mol = Chem.MolFromSmiles(smiles)
    scaf = MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False) if mol else ""
    return scaf or f"acyclic:{smiles}"


def chemical_system(formula: str) -> str:
    return "-".join(sorted(el.symbol for el in Composition(formula).elements))


def ood_group(input_kind: str, group: str) -> str:
    return scaffold(group) if input_kind == "molecule" else chemical_system(group)


def assign_splits(entries: pd.DataFrame, property_: str, input_kind: str) -> pd.DataFrame:
    """Adds `split_random` and `split_ood` (scaffold or chemical system) columns."""
    out = entries.copy()
    out["split_random"] = [split_of(property_, "random", g) for g in out["group"]]
    out["ood_group"] = [ood_group(input_kind, g) for g in out["group"]]
    out["split_ood"] = [split_of(property_, "ood", g) for g in out["ood_group"]]
    return out


def drop_estimated_held_out(entries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Estimated values may train but never evaluate: drop them where any scheme holds them out."""
    held = entries["estimated"].astype(bool) & ((entries["split_random"] != "train") | (entries["split_ood"] != "train"))
    rejects = pd.DataFrame({"ref": entries.loc[held, "refs"],
                            "reason": "estimated value whose compound is held out for evaluation"})
    return entries[~held].reset_index(drop=True), rejects


def assign_computed_splits(entries: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """First-principles sets split at random by group; their OOD split is the random one."""
    out = entries.copy()
    out["split_random"] = [split_of(dataset, "random", g) for g in out["group"]]
    out["split_ood"] = out["split_random"]
    return out
