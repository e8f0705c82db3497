"""What a model can take: checks a record must pass before it is predicted, each failure a
RecordError naming the cause (the row stays in the output with NaN predictions)."""

from __future__ import annotations

from dataclasses import dataclass

from ase.data import chemical_symbols

from mpa_dist.data.record import Record, RecordError
from mpa_dist.data.validate import validate

MAX_ATOMS = 1000  # per structure; larger ones are refused rather than run out of memory


@dataclass(frozen=True)
class Limits:
    max_z: int  # the heaviest element the model embeds
    max_atoms: int = MAX_ATOMS
    elements: frozenset[int] | None = None  # elements seen in training, when the export records them

    @classmethod
    def of(cls, metas: list[dict], max_atoms: int = MAX_ATOMS) -> Limits:
        """The tightest limits over the members of an ensemble (their ExportMeta)."""
        max_z = min(m.max_z for m in metas)
        seen = [frozenset(m.elements) for m in metas if m.elements]
        return cls(max_z, max_atoms, frozenset.intersection(*seen) if seen else None)

    def check(self, r: Record) -> Record:
        validate(r)  # atoms present, finite positions, a non-degenerate cell, no overlapping atoms
        if r.num_atoms > self.max_atoms:
            raise RecordError(r.key, f"{r.num_atoms} atoms exceed the limit of {self.max_atoms} (max_atoms)")
        z = int(r.numbers.max())
        if z > self.max_z:
            raise RecordError(r.key, f"element {chemical_symbols[z]} (Z={z}) is beyond the model's max_z={self.max_z}")
        if self.elements is not None:
            unseen = sorted(set(r.numbers.tolist()) - self.elements)
            if unseen:
                names = ", ".join(chemical_symbols[z] for z in unseen)
                raise RecordError(r.key, f"element(s) {names} never seen in training")
        return r
