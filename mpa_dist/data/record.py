"""One record type for the three input kinds: molecule, periodic crystal, bare composition.

A record is what a reader yields, what a shard stores and what the loader batches. Every
label carries its unit; lengths are always Angstrom and cells are row vectors (ase and
pymatgen convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgpack
import numpy as np

INPUT_KINDS = ("molecule", "crystal", "composition")
EXPERIMENTAL = "experimental"
# labels that are derivatives of the energy: their loss takes a second backward through the batch
FORCE_LABEL, STRESS_LABEL = "forces", "stress"


class RecordError(ValueError):
    """A record that cannot be used. The message always names the record and the cause."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"record {key!r}: {reason}")
        self.key = key
        self.reason = reason


@dataclass
class Label:
    """A label value with an explicit unit.

    `per_atom` labels (forces, charges) have one row per atom; the others are per structure
    (a scalar, a vector such as a dipole, or a tensor such as a polarizability).
    """

    value: np.ndarray
    unit: str
    per_atom: bool = False

    def __post_init__(self):
        self.value = np.asarray(self.value, dtype=np.float64)


@dataclass
class Record:
    key: str
    input: str  # one of INPUT_KINDS
    numbers: np.ndarray  # (N,) atomic numbers; for a composition, one entry per element
    source: str  # dataset / source name, e.g. "qm9", "expt_gap"
    theory: str  # level of theory, or "experimental"
    positions: np.ndarray | None = None  # (N, 3) Angstrom
    cell: np.ndarray | None = None  # (3, 3) Angstrom, rows are lattice vectors
    pbc: np.ndarray | None = None  # (3,) bool
    amounts: np.ndarray | None = None  # composition: atoms of each element per formula unit
    labels: dict[str, Label] = field(default_factory=dict)
    conditions: dict[str, float] = field(default_factory=dict)  # e.g. temperature_K, pressure_Pa
    group: str = ""  # canonical SMILES or reduced formula: the unit of deduplication
    conformer: int = 0
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.input not in INPUT_KINDS:
            raise RecordError(self.key, f"input kind {self.input!r} is not one of {INPUT_KINDS}")
        self.numbers = np.asarray(self.numbers, dtype=np.int64).reshape(-1)
        if self.positions is not None:
            self.positions = np.asarray(self.positions, dtype=np.float64)
        if self.cell is not None:
            self.cell = np.asarray(self.cell, dtype=np.float64)
        if self.pbc is not None:
            self.pbc = np.asarray(self.pbc, dtype=bool).reshape(3)
        if self.amounts is not None:
            self.amounts = np.asarray(self.amounts, dtype=np.float64).reshape(-1)
        if not self.group:
            self.group = self.key

    @property
    def num_atoms(self) -> int:
        return int(self.numbers.shape[0])

    @property
    def periodic(self) -> bool:
        return self.pbc is not None and bool(self.pbc.any())

    @property
    def atom_weights(self) -> np.ndarray:
        """Atoms per node: 1 for explicit atoms, the amount per formula unit for compositions."""
        if self.input == "composition":
            return self.amounts
        return np.ones(self.num_atoms)

    # ---- serialisation (msgpack: fast, and safe to read, unlike pickle) ----
    def to_bytes(self) -> bytes:
        d = {
            "key": self.key,
            "input": self.input,
            "numbers": _pack(self.numbers),
            "source": self.source,
            "theory": self.theory,
            "positions": _pack(self.positions),
            "cell": _pack(self.cell),
            "pbc": _pack(self.pbc),
            "amounts": _pack(self.amounts),
            "labels": {k: [_pack(v.value), v.unit, v.per_atom] for k, v in self.labels.items()},
            "conditions": self.conditions,
            "group": self.group,
            "conformer": self.conformer,
            "meta": self.meta,
        }
        return msgpack.packb(d, use_bin_type=True)

    @classmethod
    def from_bytes(cls, data: bytes) -> Record:
        d = msgpack.unpackb(data, raw=False)
        for k in ("numbers", "positions", "cell", "pbc", "amounts"):
            d[k] = _unpack(d[k])
        d["labels"] = {k: Label(_unpack(v), u, p) for k, (v, u, p) in d["labels"].items()}
        return cls(**d)


def _pack(a: np.ndarray | None):
    if a is None:
        return None
    a = np.asarray(a).copy(order="C")  # not ascontiguousarray: it turns 0-d arrays into 1-d
    return [a.dtype.str, list(a.shape), a.tobytes()]


def _unpack(p):
    if p is None:
        return None
    dtype, shape, buf = p
    return np.frombuffer(buf, dtype=np.dtype(dtype)).reshape(shape).copy()


def conformer_key(key: str, i: int) -> str:
    """The key of conformer i of an entry (one record per conformer)."""
    return f"{key}/c{i}"


def entry_key(record_key: str) -> str:
    """The key of the entry a record was made from: a conformer's key less its suffix."""
    head, sep, tail = record_key.rpartition("/c")
    return head if sep and tail.isdigit() else record_key
