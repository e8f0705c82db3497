"""What each output of a model is, typed: the output-name protocol parsed in one place.

Output names: `<label>@<source>` (a head that learns from one source's records: `gap@qm9`),
`<label>` (a post-trained head: its task's records), `<label>@<source>_vector` (the vector of a
vector head, whose main output is its magnitude: label `<label>_vector`), and `forces@<source>` /
`stress@<source>` (derivatives of the energy head `energy@<source>`; `forces` / `stress` alone
for a model with one energy head).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

KINDS = ("scalar", "vector", "tensor", "logits", "forces", "stress")


@dataclass(frozen=True)
class OutputSpec:
    name: str  # the model's output name
    label: str  # the batch label it learns from and is scored against
    source: str | None  # the source whose records it learns from; None: any record with the label
    kind: str  # one of KINDS
    extensive: bool | None = None  # a sum over atoms (None where it does not apply)

    @property
    def per_atom(self) -> bool:
        return self.kind == "forces"

    @property
    def metric(self) -> str:
        """How it is scored: accuracy (classes), none (derivatives), else mae/rmse."""
        return "accuracy" if self.kind == "logits" else "none" if self.kind in ("forces", "stress") else "error"


def label_of(name: str) -> str:
    """`gap@qm9` -> `gap`; `dipole@qm9_vector` -> `dipole_vector`; `boiling_point` -> itself."""
    base, _, src = name.partition("@")
    return base + "_vector" if src.endswith("_vector") and not base.endswith("_vector") else base


def parse(name: str, kind: str = "scalar", extensive: bool | None = None) -> OutputSpec:
    if kind not in KINDS:
        raise ValueError(f"output {name!r}: unknown kind {kind!r} (one of {KINDS})")
    src = name.partition("@")[2].removesuffix("_vector")
    return OutputSpec(name, label_of(name), src or None, kind, extensive)


def source_mask(spec: OutputSpec, source: torch.Tensor, vocab: dict[str, int]) -> torch.Tensor:
    """Which graphs of a batch (their `source` ids) this output learns from and is scored on."""
    if spec.source is None:
        return torch.ones_like(source, dtype=torch.bool)
    return source == vocab.get(spec.source, -1)
