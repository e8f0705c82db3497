"""Bring your own data: a file path used where a catalogue dataset name is expected.

- CSV with a `smiles` column (molecules, made 3-D) or a `formula` column (compositions);
  every other numeric column is a label and must name its unit: `boiling_point [K]`.
- JSON in the MPtrj layout, or a list of pymatgen ComputedStructureEntry dicts.
- `.db`: an ASE database. Anything else: whatever ase.io reads (extxyz, CIF, POSCAR, ...).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path

import pandas as pd

from mpa_dist.data.catalog.spec import DatasetSpec, Source, TaskSpec
from mpa_dist.data.catalog.splits import add_fold_splits, assign_splits, sample, split_of
from mpa_dist.data.readers import structures
from mpa_dist.data.readers.formula import composition_record, reduced_formula
from mpa_dist.data.readers.smiles import canonical_smiles, molecule_records
from mpa_dist.data.record import Label, Record, RecordError

_UNIT = re.compile(r"^\s*(?P<name>[^\[]+?)\s*\[(?P<unit>[^\]]*)\]\s*$")
THEORY_USER = "user"


def parse_label_column(col: str) -> tuple[str, str]:
    m = _UNIT.match(col)
    if not m:
        raise ValueError(f"column {col!r} has no unit: name it like '{col} [unit]' (use [1] if dimensionless)")
    return m["name"].strip().replace(" ", "_"), m["unit"].strip()


def _csv_dataset(path: Path, name: str) -> DatasetSpec:
    df = pd.read_csv(path)
    kind = "molecule" if "smiles" in df.columns else "composition" if "formula" in df.columns else None
    if kind is None:
        raise ValueError(f"{path}: a CSV needs a 'smiles' or a 'formula' column")
    col = "smiles" if kind == "molecule" else "formula"
    label_cols = [c for c in df.columns if c not in (col, "id", "key") and pd.api.types.is_numeric_dtype(df[c])]
    labels = dict(parse_label_column(c) for c in label_cols)
    rename = {c: parse_label_column(c)[0] for c in label_cols}

    def entries(limit=None):
        out = df.rename(columns=rename).copy()
        out["key"] = [f"{name}/{r.get('id', i)}" for i, r in enumerate(out.to_dict('records'))]
        groups = []
        for k, text in zip(out["key"], out[col]):
            try:
                groups.append(canonical_smiles(text, k) if kind == "molecule" else reduced_formula(text, k))
            except RecordError:
                groups.append(f"invalid:{k}")  # to_records rejects it with the reason
        out["group"] = out["compound"] = groups  # a user's compounds split as the catalogue's do
        out["compound_kind"] = "molecule" if kind == "molecule" else "formula"
        out = assign_splits(out.assign(compound_kind=[k if not g.startswith("invalid:") else "invalid"
                                                      for k, g in zip(out["compound_kind"], groups)]))
        from mpa_dist.data.catalog.registry import fold_tests

        return sample(add_fold_splits(out, fold_tests()), limit)

    def to_records(row, options=None):
        labs = {n: Label(row[n], u) for n, u in labels.items() if row[n] == row[n]}
        if kind == "molecule":
            k, seed, cache = (options.conformers, options.seed, options.cache) if options else (1, 0, None)
            return molecule_records(row["key"], row["smiles"], name, THEORY_USER, labs, k=k, seed=seed,
                                    cache=cache, group=row["group"])
        return [composition_record(row["key"], row["formula"], name, THEORY_USER, labs)]

    tasks = tuple(TaskSpec(name=n, property=n, unit=u, input=kind, kind="computed", dataset=name, label=n)
                  for n, u in labels.items())
    return DatasetSpec(name=name, input=kind, kind="user", theory=THEORY_USER, sources=(Source(str(path), "user"),),
                       tasks=tasks, entries=entries, to_records=to_records)


def _structure_dataset(path: Path, name: str) -> DatasetSpec:
    suffix = path.suffix.lower()
    if suffix == ".db":
        items = list(structures.read_ase_db(path, name, THEORY_USER))
    elif suffix == ".json":
        data = json.loads(path.read_text())
        reader = structures.read_computed_entries if isinstance(data, list) else structures.read_mptrj
        items = list(reader(path, name, THEORY_USER))
    else:
        items = list(structures.read_ase(path, name, THEORY_USER))
    rows = []
    for it in items:
        if isinstance(it, RecordError):
            rows.append({"key": it.key, "group": it.key, "error": it.reason, "blob": b""})
        else:
            rows.append({"key": it.key, "group": it.group, "error": "", "blob": it.to_bytes()})
    df = pd.DataFrame(rows)
    df["split_random"] = [split_of(f"{name}|random", f"{g}|{hashlib.sha1(k.encode()).hexdigest()}")
                          for g, k in zip(df["group"], df["key"])]
    df["split_ood"] = [split_of(f"{name}|ood", g) for g in df["group"]]  # whole compositions held out
    for k in range(5):
        df[f"split_fold{k}"] = df["split_random"]

    def to_records(row, options=None):
        if row["error"]:
            raise RecordError(row["key"], row["error"])
        return [Record.from_bytes(row["blob"])]

    first = next((Record.from_bytes(r["blob"]) for r in rows if r["blob"]), None)
    tasks = tuple(TaskSpec(name=n, property=n, unit=lab.unit, input=first.input, kind="computed", dataset=name,
                           label=n, readout="energy" if n == "energy" else "mean")
                  for n, lab in (first.labels.items() if first else []) if not lab.per_atom and n != "stress")
    return DatasetSpec(name=name, input=first.input if first else "crystal", kind="user", theory=THEORY_USER,
                       sources=(Source(str(path), "user"),), tasks=tasks,
                       entries=lambda limit=None: sample(df, limit), to_records=to_records)


@functools.cache
def file_dataset(path: str) -> DatasetSpec:
    path = Path(path)
    name = re.sub(r"[^A-Za-z0-9_]+", "_", path.stem)
    if path.suffix.lower() == ".csv":
        return _csv_dataset(path, name)
    return _structure_dataset(path, name)
