"""A deep ensemble of one readout: K heads of the same kind on the same backbone features, whose
outputs (in normalised units) are averaged (Lakshminarayanan et al., NeurIPS 2017, "Simple and
Scalable Predictive Uncertainty Estimation using Deep Ensembles"; Chemprop's ensembles).

The members differ by their initialisation and by the order in which they saw the training data;
head fitting on cached features (mpa_dist/train/probe.py) fits each one on its own, with its own
early stopping, through `active`. The ensemble owns the one target norm (the members' outputs are
in its normalised units), so an export is an ordinary model with a head spec {"ensemble": K}.
"""

from __future__ import annotations

import torch
from torch import nn


class EnsembleHead(nn.Module):
    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble head needs at least 2 members, got {len(members)}")
        first = members[0]
        self.name, self.kind, self.extensive = first.name, first.kind, first.extensive
        self.forces, self.stress = first.forces, first.stress
        if self.forces or self.stress:
            raise ValueError(f"head {self.name!r}: energy heads with forces or stress are not ensembled")
        self.norm = first.norm
        for m in members:
            del m.norm  # one norm, the ensemble's: the members predict in its units
        self.members = nn.ModuleList(members)
        self.active: int | None = None  # a member alone (while it is fitted), or None: the mean of all

    @property
    def outputs(self) -> dict[str, tuple[str, bool | None]]:
        return self.members[0].outputs

    def forward(self, x, batch, pos) -> dict[str, torch.Tensor]:
        if self.active is not None:
            return self.members[self.active](x, batch, pos)
        outs = [m(x, batch, pos) for m in self.members]
        return {k: torch.stack([o[k] for o in outs]).mean(0) for k in outs[0]}
