"""MPAModel: a backbone and its readout heads.

forward(batch) -> {output: prediction per graph in NORMALISED units}, plus `forces` (N, 3)
and `stress` (G, 3, 3) when an energy head asks for them (`forces@src` / `stress@src` for an
energy head named `energy@src` when there are several). `predict` maps to physical units.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn

from mpa_dist.model.conformers import aggregate_conformers
from mpa_dist.model.derivatives import apply_strain, energy_derivatives
from mpa_dist.model.outputs import OutputSpec, label_of, parse


def _suffix(name: str) -> str:
    return name[name.index("@"):] if "@" in name else ""


class MPAModel(nn.Module):
    def __init__(self, backbone: nn.Module, heads: list[nn.Module]):
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleDict({h.name: h for h in heads})
        energy = [h for h in heads if h.forces or h.stress]
        if len({_suffix(h.name) for h in energy}) < len(energy):
            raise ValueError("several energy heads with forces/stress need distinct @source suffixes")
        self.derivative_of = {f"{k}{_suffix(h.name)}": h.name for h in energy for k, on in
                              (("forces", h.forces), ("stress", h.stress)) if on}

    @property
    def cutoff(self) -> float:
        return self.backbone.cutoff

    def output_kinds(self) -> dict[str, tuple[str, bool | None]]:
        """output -> (kind, extensive): kinds are scalar, vector, tensor, logits, forces, stress."""
        kinds = {k: v for h in self.heads.values() for k, v in h.outputs.items()}
        kinds.update({k: (k.split("@")[0], None) for k in self.derivative_of})
        return kinds

    def output_specs(self) -> dict[str, OutputSpec]:
        """output -> OutputSpec (label, source, kind), parsed once (heads do not change after init)."""
        if getattr(self, "_specs", None) is None:
            self._specs = {k: parse(k, kind, ext) for k, (kind, ext) in self.output_kinds().items()}
        return self._specs

    def forward(self, batch, derivatives: bool = True) -> dict[str, torch.Tensor]:
        """derivatives=False leaves out forces and stress: the trainer passes it for a batch without
        their labels, which then skips a second backward through the whole batch."""
        need_f = derivatives and any(k.startswith("forces") for k in self.derivative_of)
        need_s = derivatives and any(k.startswith("stress") for k in self.derivative_of)
        pos, cell, eps = batch.pos, batch.cell, None
        with torch.enable_grad() if (need_f or need_s) else nullcontext():
            if need_f or need_s:
                pos = pos if pos.requires_grad else pos.detach().requires_grad_(True)
            if need_s:
                eps, pos, cell = apply_strain(batch, pos, cell)
            x = self.backbone(batch, pos, cell)
            out = {}
            # Under bf16 autocast the backbone's products run in bf16; readouts (sums over atoms,
            # attention pooling) and the force/stress derivatives stay in float32.
            with torch.autocast(pos.device.type, enabled=False):
                x = x.to(pos.dtype)
                for head in self.heads.values():
                    out.update(head(x, batch, pos))
                energies = list(dict.fromkeys(self.derivative_of.values())) if need_f or need_s else []
                for k, name in enumerate(energies):
                    f, s = energy_derivatives(out[name], pos, eps, cell, create_graph=self.training,
                                              retain_graph=k < len(energies) - 1)
                    sfx = _suffix(name)
                    if f"forces{sfx}" in self.derivative_of:
                        out[f"forces{sfx}"] = f
                    if f"stress{sfx}" in self.derivative_of:
                        out[f"stress{sfx}"] = s
        return out

    def norm_of(self, output: str):
        return self.heads[self.derivative_of.get(output, output.removesuffix("_vector"))].norm

    def to_physical(self, out: dict[str, torch.Tensor], batch) -> dict[str, torch.Tensor]:
        """Physical units; a scalar head with `bounds` (its spec's range: a band gap is not negative)
        clamped to them."""
        phys = {}
        for k, y in out.items():
            norm = self.norm_of(k)
            phys[k] = y * norm.scale.to(y.dtype) if k in self.derivative_of else norm.to_physical(y, batch)
            lo, hi = getattr(self.heads[k], "bounds", (None, None)) if k in self.heads else (None, None)
            if lo is not None or hi is not None:
                phys[k] = phys[k].clamp(lo, hi)
        return phys

    def normalise_labels(self, batch) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """output -> (normalised label, mask) for each output with a label of the same name
        (a head `bandgap@expt_gap` reads the label `bandgap`; forces read `forces`)."""
        out = {}
        for k in list(self.output_kinds()):
            label = label_of(k)
            if label not in batch.labels:
                continue
            y, norm = batch.labels[label], self.norm_of(k)
            y = y / norm.scale.to(y.dtype) if k in self.derivative_of else norm.to_normalised(y, batch)
            out[k] = (y, batch.label_mask[label])
        return out

    @torch.no_grad()
    def predict(self, batch, aggregate: str | None = None):
        """Physical units; with aggregate ("mean" / "min"), one row per conformer group:
        returns (group names, predictions) then."""
        phys = {k: v.detach() for k, v in self.to_physical(self(batch), batch).items()}
        return aggregate_conformers(phys, batch.groups, aggregate) if aggregate else phys
