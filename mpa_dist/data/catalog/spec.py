"""What the catalogue knows about a dataset and each task (one property) in it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable

KINDS = ("experimental", "computed")
READOUTS = ("sum", "mean", "attention", "hybrid", "vector", "tensor", "classification", "energy")
SCALAR_READOUTS = ("sum", "mean", "attention", "hybrid", "energy")  # one number per graph
TRANSFORMS = ("none", "log10", "log10_neg")  # log10_neg: log10(-x) for strictly negative values
SPLITS = ("random", "scaffold", "grouped", "matbench")


@dataclass(frozen=True)
class Source:
    name: str  # e.g. "CRC Handbook (via chemicals 1.5.2)"
    licence: str  # e.g. "MIT (code); data CC BY-NC 4.0"
    citation: str = ""
    estimated: bool = False  # True for tables that mix in estimated values (Yaws): never evaluated on


@dataclass(frozen=True)
class TaskSpec:
    """One property to predict, with the physics and the bookkeeping it needs."""

    name: str  # unique, snake_case, e.g. "boiling_point"
    property: str  # human-readable, e.g. "normal boiling point"; tasks sharing it share splits
    unit: str  # unit of the stored values, e.g. "K", "eV", "kJ/mol", "log10(mol/L)"
    input: str  # molecule | crystal | composition
    kind: str  # experimental | computed
    dataset: str  # the dataset whose records carry this label
    label: str  # the label name inside those records
    sources: tuple[Source, ...] = ()
    transform: str = "none"  # how it trains; predictions are mapped back to `unit`
    sanity: tuple[float, float] = (float("-inf"), float("inf"))  # physical range, in `unit`
    readout: str = "mean"  # sum (extensive), mean (intensive), attention (non-additive), hybrid, ...
    split: str = "random"  # the out-of-distribution split; "random" is always available too
    tolerance: float = 0.0  # repeats of one entry that differ by more than this are a conflict
    classification: bool = False
    description: str = ""
    split_key: str = ""  # tasks of one property share it (default: `property`): a substance both measure stays in the molecular one

    @property
    def split_salt(self) -> str:
        return self.split_key or self.property

    def summary(self, num_entries: int | None = None) -> dict:
        d = asdict(self)
        d["sources"] = [asdict(s) for s in self.sources]
        d["sanity"] = [x if math.isfinite(x) else None for x in self.sanity]  # JSON has no infinity
        d["num_entries"] = num_entries
        return d


@dataclass(frozen=True)
class DatasetSpec:
    """Records from one or more sources.

    `entries(limit)` gives one row per entry (a DataFrame with unique `key`, a `group`
    and the split columns `split_random` / `split_ood`); `to_records(row, options)` turns
    a row into records (several for a molecule with K conformers) or raises RecordError.
    """

    name: str
    input: str
    kind: str
    theory: str  # level of theory, or "experimental"
    sources: tuple[Source, ...]
    tasks: tuple[TaskSpec, ...]
    entries: Callable = field(compare=False, repr=False)
    to_records: Callable = field(compare=False, repr=False)
    description: str = ""
    builder: Callable | None = field(default=None, compare=False, repr=False)  # experimental tables
    count: Callable | None = field(default=None, compare=False, repr=False)  # len(entries()) without building them
