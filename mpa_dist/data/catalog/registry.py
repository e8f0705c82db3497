"""The catalogue: every dataset and task the project can train on, built from offline packages.

Experimental task tables are curated once (canonical keys, repeats merged, splits
assigned) and cached as parquet under $MPA_CACHE/catalog, keyed by a hash of the code
that builds them, so a change of a builder or of the curation rebuilds them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import json
import multiprocessing as mp
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mpa_dist.data.catalog import curate as curate_mod
from mpa_dist.data.catalog import splits as splits_mod
from mpa_dist.data.catalog.spec import DatasetSpec, TaskSpec
from mpa_dist.data.offline import cache_dir, files_hash
from mpa_dist.data.readers.formula import composition_record, reduced_formula
from mpa_dist.data.readers.smiles import ConformerCache, molecule_records
from mpa_dist.data.record import EXPERIMENTAL as EXPERIMENTAL_THEORY
from mpa_dist.data.record import Label, Record

# Modules that define TABLES = [(TaskSpec, builder), ...] of experimental tasks.
EXPERIMENTAL_MODULES = ("mpa_dist.data.catalog.molecules_expt", "mpa_dist.data.catalog.inorganic_expt")
# Modules of first-principles datasets; each defines DATASETS = [DatasetSpec, ...].
COMPUTED_MODULES = ("mpa_dist.data.sources.qm9", "mpa_dist.data.sources.dft_sets")


@dataclass
class RecordOptions:
    conformers: int = 1  # K conformers per molecule given as SMILES
    seed: int = 0
    cache: ConformerCache | None = None


def _code_hash(*objs) -> str:
    return files_hash(inspect.getsourcefile(o) for o in objs)


def _cache_paths(name: str) -> tuple[Path, Path, Path]:
    d = cache_dir() / "catalog"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{name}.parquet", d / f"{name}.rejects.jsonl", d / f"{name}.version"


def _version(spec: TaskSpec, builder) -> str:
    """The code that builds the table and its spec; a composition table links its compounds to the molecular
    tables' (_link_compounds), so their versions too: a changed molecular table rebuilds the composition ones."""
    v = _code_hash(builder, curate_mod, splits_mod, _link_compounds) + hashlib.sha256(repr(spec).encode()).hexdigest()[:8]
    if spec.input != "molecule":
        v += hashlib.sha256(" ".join(_molecular_versions()).encode()).hexdigest()[:8]
    return v


@functools.cache
def _molecular_versions() -> tuple[str, ...]:
    return tuple(_version(ds.tasks[0], ds.builder) for ds in datasets().values()
                 if ds.kind == "experimental" and ds.input == "molecule")


def _is_current(name: str, version: str) -> bool:
    table, _, ver_path = _cache_paths(name)
    return table.exists() and ver_path.exists() and ver_path.read_text() == version


def build_task_table(spec: TaskSpec, builder, force: bool = False) -> pd.DataFrame:
    """Curated entries of one experimental task (cached), with their compound identity and the splits
    that depend on the compound alone (random, ood). Rejects go to <name>.rejects.jsonl."""
    table, rej_path, ver_path = _cache_paths(spec.name)
    version = _version(spec, builder)
    if not force and _is_current(spec.name, version):
        return pd.read_parquet(table)
    raw, rejects = builder()
    entries, cur_rej = curate_mod.curate(spec, raw)
    entries, link_rej = _link_compounds(spec, entries)
    entries = splits_mod.assign_splits(entries)
    entries, est_rej = splits_mod.drop_estimated_held_out(entries)
    entries.insert(0, "key", [f"{spec.name}/{hashlib.sha1(g.encode()).hexdigest()[:12]}" for g in entries["group"]])
    all_rej = pd.concat([rejects, cur_rej, link_rej, est_rej], ignore_index=True)
    entries.to_parquet(table.with_suffix(".tmp"))
    table.with_suffix(".tmp").replace(table)
    with open(rej_path, "w") as f:
        for r in all_rej.itertuples(index=False):
            f.write(json.dumps({"ref": str(r.ref), "reason": r.reason}) + "\n")
    ver_path.write_text(version)
    return entries


@functools.lru_cache(maxsize=None)
def molecule_formula(smiles: str) -> str:
    from rdkit import Chem
    from rdkit.Chem.rdMolDescriptors import CalcMolFormula

    return reduced_formula(CalcMolFormula(Chem.MolFromSmiles(smiles)))


@functools.cache
def _molecular_formulas() -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    """formula -> the canonical SMILES of the molecular tasks' compounds with that formula, and
    (property's split salt, formula) -> the first molecular task of that property holding it. Read once
    a process: every composition task links against all 42 molecular tables."""
    by_formula: dict[str, set[str]] = {}
    same_property: dict[tuple[str, str], str] = {}
    for ds in datasets().values():
        t = ds.tasks[0] if ds.tasks else None
        if ds.kind == "experimental" and ds.input == "molecule":
            table = build_task_table(t, ds.builder)
            for smi, formula in zip(table["group"], table["compound_formula"]):
                by_formula.setdefault(formula, set()).add(smi)
                same_property.setdefault((t.split_salt, formula), t.name)
    return by_formula, same_property


def _link_compounds(spec: TaskSpec, entries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `compound` of every entry, the identity its splits follow in every task: the canonical SMILES
    of a molecule; for a composition, the molecule whose formula it is when the catalogue's molecular
    tasks hold exactly one such molecule (water measured as "H2O" and as "O" is one compound), else the
    reduced formula. Dropped with the reason: a composition that several catalogued molecules share
    (isomers: which compound it is cannot be told), and one the molecular task of the same property
    already measures (kept there only)."""
    out = entries.copy()
    if spec.input == "molecule":
        out["compound"], out["compound_kind"] = out["group"], "molecule"
        out["compound_formula"] = [molecule_formula(g) for g in out["group"]]
        return out, pd.DataFrame(columns=["ref", "reason"])
    by_formula, same_property = _molecular_formulas()
    compound, kind, keep, rej = [], [], [], []
    for group, refs in zip(out["group"], out["refs"]):
        mols = by_formula.get(group, set())
        if (spec.split_salt, group) in same_property:
            rej.append((refs, f"the same substance is in the molecular task {same_property[spec.split_salt, group]!r}"
                              " of this property; kept there only"))
        elif len(mols) > 1:
            rej.append((refs, f"{group} is the formula of {len(mols)} catalogued molecules ({', '.join(sorted(mols)[:3])}"
                              f"{', ...' if len(mols) > 3 else ''}): which compound it is cannot be told, so it "
                              "cannot be split with them"))
        else:
            keep.append(True)
            compound.append(next(iter(mols)) if mols else group)
            kind.append("molecule" if mols else "formula")
            continue
        keep.append(False)
    out = out[keep].reset_index(drop=True)
    out["compound"], out["compound_kind"], out["compound_formula"] = compound, kind, out["group"]
    return out, pd.DataFrame(rej, columns=["ref", "reason"])


@functools.cache
def fold_tests() -> dict[str, frozenset[int]]:
    """compound -> the matbench folds in which some matbench task tests it (held out of every other
    task's training under that fold scheme)."""
    out: dict[str, set[int]] = {}
    for ds in datasets().values():
        if ds.kind == "experimental" and ds.input == "composition":
            t = build_task_table(ds.tasks[0], ds.builder)
            if "fold" in t:
                for c, f in zip(t["compound"], t["fold"]):
                    if f == f and f is not None:
                        out.setdefault(c, set()).add(int(f))
    return {c: frozenset(v) for c, v in out.items()}


@functools.cache
def _task_entries(name: str) -> pd.DataFrame:
    ds = datasets()[name]
    return splits_mod.add_fold_splits(build_task_table(ds.tasks[0], ds.builder), fold_tests())


def _experimental_records(spec: TaskSpec, row: dict, opt: RecordOptions) -> list[Record]:
    labels = {spec.label: Label(np.float64(row["value"]), spec.unit)}
    cond = {"temperature_K": float(row["temperature_K"])} if row.get("temperature_K") == row.get("temperature_K") \
        and row.get("temperature_K") is not None else {}
    meta = {"sources": row["sources"]}
    if spec.input == "molecule":
        return molecule_records(row["key"], row["smiles"], spec.dataset, EXPERIMENTAL_THEORY, labels,
                                k=opt.conformers, seed=opt.seed, cache=opt.cache, conditions=cond,
                                group=row["group"], meta=meta)
    return [composition_record(row["key"], row["formula"], spec.dataset, EXPERIMENTAL_THEORY, labels, cond,
                               meta=meta)]


def _experimental_dataset(spec: TaskSpec, builder) -> DatasetSpec:
    def entries(limit=None):
        return splits_mod.sample(_task_entries(spec.name), limit, by="compound")

    return DatasetSpec(name=spec.name, input=spec.input, kind="experimental", theory=EXPERIMENTAL_THEORY,
                       sources=spec.sources, tasks=(spec,), entries=entries,
                       to_records=functools.partial(_experimental_records, spec), description=spec.description,
                       builder=builder)


@functools.cache
def datasets() -> dict[str, DatasetSpec]:
    out: dict[str, DatasetSpec] = {}
    for mod_name in COMPUTED_MODULES:
        for ds in _import_optional(mod_name, "DATASETS"):
            out[ds.name] = ds
    for mod_name in EXPERIMENTAL_MODULES:
        for spec, builder in _import_optional(mod_name, "TABLES"):
            if spec.name in out:
                raise ValueError(f"task name {spec.name!r} is defined twice")
            out[spec.name] = _experimental_dataset(spec, builder)
    return out


def _import_optional(mod_name: str, attr: str):
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name == mod_name:
            return []
        raise
    return getattr(mod, attr)


def get(name: str) -> DatasetSpec:
    """A catalogue dataset by name, or a user's file (CSV, extxyz, CIF, ASE db, MPtrj JSON...) by path."""
    ds = datasets()
    if name not in ds and Path(name).is_file():
        from mpa_dist.data.catalog.user_files import file_dataset

        return file_dataset(str(Path(name).resolve()))
    if name not in ds:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(ds))}")
    return ds[name]


def tasks() -> list[TaskSpec]:
    return [t for ds in datasets().values() for t in ds.tasks]


def _computed_counts() -> dict:
    """Entry counts of the first-principles sets, cached by a hash of the code that reads them."""
    src = Path(__file__).parents[1] / "sources"
    h = files_hash(sorted(src.glob("*.py")))
    path = cache_dir() / "catalog" / "computed_counts.json"
    cached = json.loads(path.read_text()) if path.exists() else {}
    if cached.get("version") != h:
        cached = {"version": h, "counts": {n: d.count() if d.count else len(d.entries())
                                           for n, d in datasets().items() if d.kind == "computed"}}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cached))
    return cached["counts"]


def _build_table(name: str, force: bool) -> str:
    warnings.filterwarnings("ignore", message="No Pauling electronegativity")  # pymatgen, noble gases (as the CLI)
    ds = datasets()[name]
    build_task_table(ds.tasks[0], ds.builder, force=force)
    return name


def build_tables(force: bool = False, workers: int | None = None) -> list[str]:
    """Every experimental table that is missing or stale (every one, with force), written to the cache.
    The molecular tables, which the composition ones link against, first and on every core (spawned
    workers, a table each: the catalogue in one process took ~2 min of a fresh `make run`). Returns the
    names built."""
    exp = [ds for ds in datasets().values() if ds.kind == "experimental"]
    todo = [ds.name for ds in exp if force or not _is_current(ds.tasks[0].name, _version(ds.tasks[0], ds.builder))]
    molecular = [n for n in todo if datasets()[n].input == "molecule"]
    workers = min(len(molecular), workers or os.cpu_count() or 1)
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
            list(ex.map(_build_table, molecular, [force] * len(molecular)))
    else:
        for name in molecular:
            _build_table(name, force)
    for name in todo:
        if name not in molecular:
            _build_table(name, force)
    return todo


def catalog(rebuild: bool = False) -> list[dict]:
    """One item per task: its spec, dataset and number of unique entries with that label."""
    items = []
    build_tables(force=rebuild)
    counts = _computed_counts()
    for ds in datasets().values():
        n = counts[ds.name] if ds.kind == "computed" else len(ds.entries())
        for t in ds.tasks:
            items.append(t.summary(num_entries=n))
    return items
