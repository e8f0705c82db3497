"""An ASE calculator on an exported model's energy head: energy, forces = -dE/dr and, for a
periodic cell, stress = (1/V) dE/d(strain), the derivatives by autograd.

    from ase.optimize import BFGS
    atoms.calc = MPACalculator("runs/demo/pretrain/model", head="energy@mlearn")
    BFGS(atoms).run(fmax=0.05)
"""

from __future__ import annotations

from pathlib import Path

import torch
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from mpa_dist.data.batch import collate_records
from mpa_dist.data.readers.structures import from_atoms
from mpa_dist.model.outputs import label_of
from mpa_dist.predict.heads import head_source
from mpa_dist.predict.limits import MAX_ATOMS, Limits
from mpa_dist.train.checkpoint import load_model, read_meta

ENERGY_READOUTS = ("energy", "sum")  # extensive scalar readouts: a sum of atomic energies


def energy_head(meta, head: str | None = None) -> dict:
    """The head spec to take energies from: `head` by name, else the first with readout energy."""
    heads = meta.heads
    listing = ", ".join(f"{h['name']} ({h.get('readout')})" for h in heads)
    if head is None:
        found = [h for h in heads if h.get("readout") == "energy"]
        if not found:
            raise ValueError(f"the model has no head with readout 'energy': pass head= one of {listing}")
        spec = found[0]
    else:
        found = [h for h in heads if h["name"] == head]
        if not found:
            raise ValueError(f"no head named {head!r}: the model's heads are {listing}")
        spec = found[0]
        if spec.get("readout") not in ENERGY_READOUTS:
            raise ValueError(f"head {head!r} has readout {spec.get('readout')!r}: an energy needs a sum over "
                             f"atoms (readout energy or sum); heads: {listing}")
    task = meta.tasks.get(label_of(spec["name"]), {})
    if task.get("unit", "eV") != "eV" or meta.transforms.get(label_of(spec["name"]), "none") != "none":
        raise ValueError(f"head {spec['name']!r} predicts {task.get('unit')!r} (transform "
                         f"{task.get('transform')!r}): ASE needs an energy in eV")
    return spec


def energy_heads_for(meta, input_kind: str) -> list[str]:
    """Heads that can serve as an energy in eV for structures of this kind."""
    tasks = meta.tasks
    return [h["name"] for h in meta.heads if h.get("readout") in ENERGY_READOUTS
            and tasks.get(label_of(h["name"]), {}).get("unit") == "eV"
            and tasks.get(label_of(h["name"]), {}).get("input") == input_kind]


class MPACalculator(Calculator):
    """Energy (eV), forces (eV/A) and, for periodic cells, stress (eV/A^3, ase's sign and Voigt
    order) from one energy-like head of an exported model.

    head: a head name (readout energy or sum, unit eV); default: the first head with readout
    energy. Forces and stress are always the exact derivatives of that head's energy, by
    autograd, whether or not the head was trained on forces or stresses: a head trained on
    energies alone (e.g. `u0@qm9`, QM9 has no forces) gives consistent but unvalidated forces.
    The head is run with the source embedding it was trained with, and refuses a structure of
    another kind than its training data (a crystal for a molecular head, and vice versa).
    dtype: float64 by default, so forces match finite differences of the energy closely;
    float32 is about twice as fast.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, ckpt: str | Path, head: str | None = None, device: str = "cpu",
                 dtype: torch.dtype = torch.float64, max_atoms: int = MAX_ATOMS, **kwargs):
        super().__init__(**kwargs)
        meta = read_meta(ckpt)
        spec = energy_head(meta, head)
        self.head = name = spec["name"]
        self.source, self.vocab = head_source(name, meta), meta.source_vocab
        self.input = meta.tasks.get(label_of(name), {}).get("input")
        self.meta = meta
        built = {"name": name, "readout": "energy", "forces": True, "stress": True}
        if "element_reference" in spec:
            built["element_reference"] = spec["element_reference"]
        model, _ = load_model(ckpt, heads=[built])  # this head's weights, not the others'
        self.model = model.to(device=device, dtype=dtype).eval()
        self.device, self.dtype = torch.device(device), dtype
        self.limits = Limits.of([meta], max_atoms)
        sfx = name[name.index("@"):] if "@" in name else ""
        self._forces, self._stress = f"forces{sfx}", f"stress{sfx}"

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        rec = from_atoms(self.atoms, "atoms", self.source, "unknown")
        rec.labels = {}
        if self.input in ("molecule", "crystal") and rec.input != self.input:
            raise ValueError(f"head {self.head!r} was trained on {self.input} inputs and these atoms are a "
                             f"{rec.input}: pass head= one of {energy_heads_for(self.meta, rec.input)}")
        self.limits.check(rec)
        batch = collate_records([rec], self.model.cutoff, self.vocab, self.dtype).to(self.device)
        out = self.model.to_physical(self.model(batch), batch)
        energy = float(out[self.head][0].detach())
        self.results = {"energy": energy, "free_energy": energy,
                        "forces": out[self._forces].detach().cpu().double().numpy()}
        if rec.periodic:
            self.results["stress"] = full_3x3_to_voigt_6_stress(out[self._stress][0].detach().cpu().double().numpy())
