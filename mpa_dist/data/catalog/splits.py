"""Splits by compound, the same in every task and every phase.

Under each scheme, a compound's split is a function of (scheme, compound) only: a hash. So a
compound held out for one task is held out for every task that measures it, and no phase
(pre-, mid- or post-training) can train on it under that scheme.

The compound is a stereo-insensitive canonical SMILES for molecules and the reduced formula
for compositions; a composition that is the formula of exactly one catalogued molecule IS
that molecule (`registry` links them), so it shares the molecule's splits.

Schemes:
- random: the group is the compound;
- ood: the Bemis-Murcko scaffold (molecules; acyclic molecules are each their own group) or the
  chemical system (compositions), across all tasks at once: a test scaffold is a test scaffold
  everywhere;
- fold{k} (matbench): the official fold k of a matbench task is its test set; a compound that
  any matbench task tests in fold k is `held` (neither trained on nor scored) in every other
  task; every other compound validates with probability 1/8 and trains otherwise, in every task.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import pandas as pd
from pymatgen.core import Composition
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
EVALUATION = ("val", "test")


def unit_interval(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def split_of(scheme: str, group: str) -> str:
    u = unit_interval(f"{scheme}|{group}")
    if u < FRACTIONS["test"]:
        return "test"
    if u < FRACTIONS["test"] + FRACTIONS["val"]:
        return "val"
    return "train"


@lru_cache(maxsize=None)  # the tasks share their molecules: each scaffold is computed once
def scaffold(smiles: str) -> str:
    mol = Chem.MolFromSmiles(smiles)
    scaf = MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False) if mol else ""
    return scaf or f"acyclic:{smiles}"


@lru_cache(maxsize=None)
def chemical_system(formula: str) -> str:
    return "-".join(sorted(el.symbol for el in Composition(formula).elements))


def ood_group(compound_kind: str, compound: str) -> str:
    if compound_kind == "molecule":
        return scaffold(compound)
    return chemical_system(compound) if compound_kind == "formula" else compound  # unreadable: itself


def assign_splits(entries: pd.DataFrame) -> pd.DataFrame:
    """Adds `ood_group`, `split_random` and `split_ood` from the `compound` and `compound_kind` columns."""
    out = entries.copy()
    out["split_random"] = [split_of("random", c) for c in out["compound"]]
    out["ood_group"] = [ood_group(k, c) for k, c in zip(out["compound_kind"], out["compound"])]
    out["split_ood"] = [split_of("ood", g) for g in out["ood_group"]]
    return out


FOLDS = 5
FOLD_VAL = 0.125  # of the four training folds, held for validation (model selection)


def add_fold_splits(out: pd.DataFrame, fold_tests: dict[str, set[int]] | None = None) -> pd.DataFrame:
    """`split_fold{k}`, the same rule in every task. fold_tests: compound -> the folds in which some
    matbench task tests it. Under fold{k} such a compound is `test` in the task whose official fold k
    holds it and `held` (neither trained on nor scored) everywhere else; every other compound
    validates with probability 1/8 (a hash of fold{k} and the compound) and trains otherwise."""
    out = out.copy()
    fold_tests = fold_tests or {}
    fold = out["fold"] if "fold" in out else pd.Series([None] * len(out), index=out.index)
    for k in range(FOLDS):
        col = []
        for f, c in zip(fold, out["compound"]):
            if f is not None and f == f and int(f) == k:
                col.append("test")
            elif k in fold_tests.get(c, ()):
                col.append("held")
            else:
                col.append("val" if unit_interval(f"fold{k}|{c}") < FOLD_VAL else "train")
        out[f"split_fold{k}"] = col
    return out


def drop_estimated_held_out(entries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Estimated values may train but never evaluate: drop them where any scheme holds them out."""
    held = entries["estimated"].astype(bool) & ((entries["split_random"] != "train") | (entries["split_ood"] != "train"))
    rejects = pd.DataFrame({"ref": entries.loc[held, "refs"],
                            "reason": "estimated value whose compound is held out for evaluation"})
    return entries[~held].reset_index(drop=True), rejects


def sample(entries: pd.DataFrame, limit: int | None, by: str = "group") -> pd.DataFrame:
    """A seeded random sample of `limit` entries, by a hash of the compound (the same for every
    arm, baseline and phase, and nested: a smaller sample is part of a larger one); order kept."""
    if not limit or limit >= len(entries):
        return entries
    u = pd.Series([unit_interval(f"sample|{g}") for g in entries[by]], index=entries.index)
    return entries.loc[sorted(u.nsmallest(limit).index)]


def assign_computed_splits(entries: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """First-principles sets split at random by group (their own validation, not an experimental
    task's); every first-principles entry whose compound an experimental task evaluates is
    dropped before training (mpa_dist.data.exposure)."""
    out = entries.copy()
    out["split_random"] = [split_of(f"{dataset}|random", g) for g in out["group"]]
    out["split_ood"] = out["split_random"]
    for k in range(FOLDS):
        out[f"split_fold{k}"] = out["split_random"]
    return out
