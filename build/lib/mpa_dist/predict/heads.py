"""What each head of an exported model predicts: its label, the source whose embedding it
was trained with, the input kind it takes, its unit and target transform, and the columns
it fills in a prediction table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mpa_dist.model.outputs import label_of, parse


def head_source(name: str, meta) -> str:
    """`gap@qm9` was trained on qm9 records; a post-trained head (named by its label alone)
    on its task's records, meta.data[0]."""
    return parse(name).source or (meta.data or [""])[0]


@dataclass(frozen=True)
class HeadInfo:
    name: str  # head (and output) name in the model, e.g. "gap@qm9" or "boiling_point"
    label: str  # catalogue label, e.g. "gap"
    source: str  # source embedded with the records this head is predicted from
    kind: str  # scalar | tensor | logits (a vector head's main output is its magnitude, a scalar)
    unit: str  # physical unit of the prediction ("" for dimensionless)
    transform: str  # none | log10 | log10_neg: the space the head was trained and averages in
    input: str | None  # molecule | crystal | composition, or None when the export does not say

    def takes(self, input_kind: str) -> bool:
        return self.input is None or self.input == input_kind

    def _column(self, std: bool) -> str:
        what = f"{self.name}{' isotropic' if self.kind == 'tensor' else ''}{' std' if std else ''}"
        if self.kind == "logits":
            return f"{what} [P(class 1)]"
        unit = self.unit or "1"
        return f"{what} [log10({unit})]" if std and self.transform != "none" else f"{what} [{unit}]"

    @property
    def column(self) -> str:
        return self._column(std=False)

    @property
    def std_column(self) -> str:
        return self._column(std=True)

    def scalars(self, y: torch.Tensor) -> np.ndarray:
        """One number per graph, in the space the head trained in (log10 for log10 tasks)."""
        y = y.detach().double().cpu()
        if self.kind == "tensor":
            y = y.diagonal(dim1=-2, dim2=-1).mean(-1)  # isotropic part, a rotation invariant
        elif self.kind == "logits":
            y = torch.softmax(y, -1)[:, 1]
        return y.reshape(len(y)).numpy()

    def to_physical(self, value: float) -> float:
        """Training space -> the physical unit (a mean of log10 values becomes a geometric mean)."""
        if self.transform == "log10":
            return 10.0 ** value
        if self.transform == "log10_neg":
            return -(10.0 ** value)
        return value


def describe_heads(model, meta) -> list[HeadInfo]:
    """meta: the export's ExportMeta."""
    kinds = model.output_kinds()
    tasks, transforms = meta.tasks, meta.transforms
    out = []
    for h in meta.heads:
        name = h["name"]
        label = label_of(name)
        task = tasks.get(label, {})
        out.append(HeadInfo(name, label, head_source(name, meta), kinds[name][0],
                            task.get("unit", ""), transforms.get(label, task.get("transform", "none")),
                            task.get("input")))
    return out
