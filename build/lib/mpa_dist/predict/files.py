"""Inputs of `launch/predict.py`: a CSV table with a `smiles` or `formula` column, or
structure files that ase.io reads (a file, a directory or a glob; every frame of a
multi-frame file is a row), with the columns to carry into the output table."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mpa_dist.data.record import RecordError

INPUT_COLUMNS = ("smiles", "formula")  # matched case-insensitively
CONDITION_COLUMNS = ("temperature_K", "pressure_Pa")  # optional per-row conditions, in these units
TABLE_SUFFIXES = (".csv",)


class InputError(ValueError):
    """The input as a whole cannot be read (a row that cannot be read is a row error instead)."""


@dataclass
class Inputs:
    kind: str  # smiles | formula | structure: the Predictor.predict argument they go to
    items: list  # strings, or ase Atoms / RecordError for structures
    columns: pd.DataFrame  # carried into the output, one row per item
    conditions: list[dict] | None = None


def read_inputs(spec: str, smiles_column: str | None = None, formula_column: str | None = None) -> Inputs:
    path = Path(spec)
    if path.is_file() and path.suffix.lower() in TABLE_SUFFIXES:
        return read_table(path, smiles_column, formula_column)
    if smiles_column or formula_column:
        raise InputError(f"{spec}: smiles_column/formula_column name a column of a CSV table, and this is not one")
    return read_structures(spec)


def from_list(kind: str, items: list) -> Inputs:
    """Inputs given on the command line (smiles=[...] or formulas=[...])."""
    items = [str(x) for x in items]
    if not items:
        raise InputError(f"{kind}: an empty list")
    return Inputs(kind, items, pd.DataFrame({kind: items}))


def read_table(path: Path, smiles_column: str | None = None, formula_column: str | None = None) -> Inputs:
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a readable CSV table: {e}") from None
    lower = {str(c).strip().lower(): c for c in df.columns}
    named = {k: c for k, c in (("smiles", smiles_column), ("formula", formula_column)) if c}
    if len(named) > 1:
        raise InputError(f"{path}: give smiles_column or formula_column, not both")
    for kind, col in named.items():
        if col not in df.columns:
            raise InputError(f"{path}: no column {col!r} ({kind}_column; columns: {list(df.columns)})")
        lower = {k: c for k, c in lower.items() if k not in INPUT_COLUMNS} | {kind: col}
    found = [k for k in INPUT_COLUMNS if k in lower]
    if len(found) != 1:
        what = "both a 'smiles' and a 'formula' column" if found else "no 'smiles' or 'formula' column"
        raise InputError(f"{path}: {what} (columns: {list(df.columns)}); give exactly one, or name it with "
                         f"smiles_column= or formula_column=")
    kind = found[0]
    conds = {c: lower[c.lower()] for c in CONDITION_COLUMNS if c.lower() in lower}
    conditions = [{c: row[col] for c, col in conds.items()} for _, row in df.iterrows()] if conds else None
    return Inputs(kind, df[lower[kind]].tolist(), df, conditions)


def structure_files(spec: str) -> list[Path]:
    path = Path(spec)
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
    elif path.is_file():
        files = [path]
    else:
        files = [Path(p) for p in sorted(glob.glob(spec)) if Path(p).is_file()]
    if not files:
        raise InputError(f"{spec}: no such file, no files in that directory, or no file matches that glob")
    return files


def read_structures(spec: str) -> Inputs:
    """Every frame of every file; a file ase cannot read is one row with its error."""
    import ase.io

    items, names, frames = [], [], []
    for path in structure_files(spec):
        try:
            read = ase.io.read(path, index=":")
            if not read:
                raise ValueError("no structure in the file")
        except Exception as e:  # ase raises many types for files it cannot parse
            items.append(RecordError(str(path), f"ase.io could not read the file: {type(e).__name__}: {e}"))
            names.append(str(path))
            frames.append(None)
            continue
        for i, atoms in enumerate(read):
            items.append(atoms)
            names.append(str(path))
            frames.append(i)
    return Inputs("structure", items, pd.DataFrame({"file": names, "frame": pd.array(frames, dtype="Int64")}))
