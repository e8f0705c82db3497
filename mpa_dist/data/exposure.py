"""Which compounds the experimental tasks evaluate, and which training entries would expose them.

An entry exposes an evaluation compound when it is that compound (the same canonical SMILES or
reduced formula), or when either of the two is known only by its formula and the formulas are
equal (a composition-level DFT entry "H2O" exposes water; two isomers do not expose each other).

The evaluation compounds are those that some experimental task validates or tests under some
split scheme (random, ood, fold0..4): a first-principles value of such a compound is privileged
information for it (nobody has it for a genuinely new compound), so pre- and mid-training drop
those entries by default (`data.privileged=true` keeps them, for a study of that effect only).
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import pandas as pd

from mpa_dist.data.catalog import registry
from mpa_dist.data.catalog.splits import EVALUATION, FOLDS
from mpa_dist.data.offline import cache_dir, files_hash
from mpa_dist.data.readers.formula import reduced_formula
from mpa_dist.data.readers.smiles import canonical_smiles

SCHEMES = ("random", "ood") + tuple(f"fold{k}" for k in range(FOLDS))
DEFAULT_SCHEMES = ("random", "ood")  # data.eval_schemes: the schemes a checkpoint serves (matbench adds its folds)
IDENTITY = ("compound", "compound_kind", "compound_formula")


@dataclass(frozen=True)
class EvaluationSet:
    compounds: dict  # compound -> why it is evaluated ("test of boiling_point under random")
    formulas: dict  # reduced formula of every evaluation compound -> why
    formula_level: dict  # reduced formula of the evaluation compounds known only by formula -> why

    def hit(self, compound: str, kind: str, formula: str) -> str | None:
        """Why this entry exposes an evaluation compound, or None."""
        if compound in self.compounds:
            return self.compounds[compound]
        if kind == "formula" and formula in self.formulas:
            return f"same formula as the {self.formulas[formula]}"
        if kind == "molecule" and formula in self.formula_level:
            return f"same formula as the {self.formula_level[formula]}"
        return None


def evaluation_compounds(tables: dict[str, pd.DataFrame], schemes=SCHEMES) -> EvaluationSet:
    """tables: experimental task name -> its entries (with split and identity columns)."""
    compounds, formulas, formula_level = {}, {}, {}
    for name, t in tables.items():
        for scheme in schemes:
            col = f"split_{scheme}"
            if col not in t:
                continue
            ev = t[t[col].isin(EVALUATION)]
            for c, k, f, s in zip(ev["compound"], ev["compound_kind"], ev["compound_formula"], ev[col]):
                why = f"{s} compound {c} of {name} under {scheme}"
                compounds.setdefault(c, why)
                formulas.setdefault(f, why)
                if k == "formula":
                    formula_level.setdefault(f, why)
    return EvaluationSet(compounds, formulas, formula_level)


@functools.cache
def catalogue_evaluation_set(schemes: tuple[str, ...] = DEFAULT_SCHEMES) -> EvaluationSet:
    tables = {ds.name: ds.entries() for ds in registry.datasets().values() if ds.kind == "experimental"}
    return evaluation_compounds(tables, schemes)


def _identities(input_kind: str, groups: list[str], per_worker: int = 20_000) -> list[tuple[str, str, str]]:
    """_identity_of each group; a large set on every core (spawned workers, one per `per_worker` groups):
    QM9's 130,831 SMILES took ~45 s in one process, on the path of every fresh pre-training (measured)."""
    workers = min(os.cpu_count() or 1, len(groups) // per_worker)
    if workers < 2:
        return [_identity_of(input_kind, g) for g in groups]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
        return list(ex.map(_identity_of, itertools.repeat(input_kind), groups, chunksize=4096))


def _identity_of(input_kind: str, group: str) -> tuple[str, str, str]:
    try:
        if input_kind == "molecule":
            c = canonical_smiles(group)
            return c, "molecule", registry.molecule_formula(c)
        f = reduced_formula(group)
        return f, "formula", f
    except Exception:  # unreadable: its reader rejects it with the reason; it can match nothing
        return f"unreadable:{group}", "unreadable", ""


def with_identity(ds, entries: pd.DataFrame) -> pd.DataFrame:
    """The entries with `compound`, `compound_kind` and `compound_formula` (first-principles sets: from
    their group, cached per dataset by the code that computes it)."""
    if all(c in entries for c in IDENTITY):
        return entries
    path = cache_dir() / "catalog" / f"{ds.name}.identity.parquet"
    version = files_hash([__file__, registry.__file__])
    known = pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=["group", "version", *IDENTITY])
    known = known[known["version"] == version] if len(known) else known
    todo = sorted(set(entries["group"]) - set(known["group"]))
    if todo:
        new = pd.DataFrame([(g, version, *i) for g, i in zip(todo, _identities(ds.input, todo))],
                           columns=["group", "version", *IDENTITY])
        known = pd.concat([known, new], ignore_index=True)
        if ds.kind == "computed":
            path.parent.mkdir(parents=True, exist_ok=True)
            known.to_parquet(path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
    ident = known.drop_duplicates("group").set_index("group")
    out = entries.copy()
    for c in IDENTITY:
        out[c] = ident.loc[out["group"], c].to_numpy()
    return out


def split_exposed(ds, entries: pd.DataFrame, ev: EvaluationSet) -> tuple[pd.DataFrame, list[dict]]:
    """(kept entries, excluded [{key, reason}]) of a first-principles dataset."""
    reasons = [ev.hit(c, k, f) for c, k, f in zip(entries["compound"], entries["compound_kind"],
                                                   entries["compound_formula"])]
    hit = pd.Series([r is not None for r in reasons], index=entries.index)
    excluded = [{"key": k, "reason": f"first-principles entry of an evaluation compound ({r}): privileged "
                                     "information, kept out of training (data.privileged=false)"}
                for k, r in zip(entries.loc[hit, "key"], (r for r in reasons if r is not None))]
    return entries[~hit], excluded
