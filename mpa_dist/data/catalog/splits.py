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
- matbench: the official 5 folds given by the source (a `fold` column), kept as is; scheme
  `fold{k}` tests on fold k (other tasks keep their random split under it).
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
    """Adds `split_random`, `split_ood` (scaffold or chemical system) and `split_fold0..4` columns."""
    out = entries.copy()
    out["split_random"] = [split_of(property_, "random", g) for g in out["group"]]
    out["ood_group"] = [ood_group(input_kind, g) for g in out["group"]]
    out["split_ood"] = [split_of(property_, "ood", g) for g in out["ood_group"]]
    return add_fold_splits(out, property_)


FOLDS = 5
FOLD_VAL = 0.125  # of the four training folds, held for validation (model selection)


def add_fold_splits(out: pd.DataFrame, property_: str) -> pd.DataFrame:
    """`split_fold{k}`: matbench's official fold k is the test set, the other folds train, a hashed
    1/8 of them validates. An entry the sibling task (same measurements: expt_gap and
    expt_is_metal have different official folds) tests in fold k is `held` out: neither trained
    on nor scored. Entries without a fold (every non-matbench task) keep their random split, so
    that mid-training on scheme fold{k} reads the same training data elsewhere."""
    none = pd.Series([None] * len(out), index=out.index)
    fold = out["fold"] if "fold" in out else none
    held = out["held_folds"] if "held_folds" in out else none
    for k in range(FOLDS):
        out[f"split_fold{k}"] = [
            rnd if f is None or f != f else "test" if int(f) == k else
            "held" if isinstance(h, str) and str(k) in h.split(",") else
            "val" if _unit_interval(f"{property_}|fold{k}|{g}") < FOLD_VAL else "train"
            for f, h, g, rnd in zip(fold, held, out["group"], out["split_random"])]
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
    return add_fold_splits(out, dataset)
