"""First-principles datasets other than QM9, as catalogue entries: the periodic sets
(mlearn, MP Li-O) and the composition-level sets shipped with crabnet."""

from __future__ import annotations

import functools

from mpa_dist.data.catalog.spec import DatasetSpec, Source, TaskSpec
from mpa_dist.data.catalog.splits import assign_computed_splits, sample
from mpa_dist.data.sources import composition_dft, mlearn, mp_li_o

MLEARN = Source("mlearn (Zuo et al. 2020) via the alignn 2026.8.11 sdist", "BSD-3-Clause (mlearn data)",
                "doi:10.1021/acs.jpca.9b08723")
LI_O = Source("Materials Project Li-O structures via the m3gnet 0.2.4 wheel", "CC BY 4.0 (MP data)",
              "doi:10.1063/1.4812323")
CRABNET = Source("crabnet 2.0.8 benchmark data (OQMD, AFLOW, MP, matbench)",
                 "MIT (crabnet); OQMD CC BY 4.0, AFLOW and MP CC BY 4.0", "doi:10.1038/s41524-021-00545-1")


def _task(dataset, label, unit, input_, readout, description=""):
    return TaskSpec(name=f"{dataset}_{label}", property=f"{label} ({dataset})", unit=unit, input=input_,
                    kind="computed", dataset=dataset, label=label, readout=readout, description=description)


def _crystal(name, module, source, tasks, description):
    return DatasetSpec(name=name, input="crystal", kind="computed", theory=module.THEORY, sources=(source,),
                       tasks=tasks, entries=lambda limit=None: assign_computed_splits(sample(module.entries(), limit), name),
                       to_records=lambda row, options=None: module.to_records(row), description=description)


def _composition(s: composition_dft.DFTSet) -> DatasetSpec:
    return DatasetSpec(
        name=s.name, input="composition", kind="computed", theory=s.theory, sources=(CRABNET,),
        tasks=(_task(s.name, s.label, s.unit, "composition", s.readout, s.description),),
        entries=functools.partial(_composition_entries, s.name), count=functools.partial(composition_dft.count, s.name),
        to_records=lambda row, options=None: composition_dft.to_records(row), description=s.description)


def _composition_entries(name, limit=None):
    return assign_computed_splits(sample(composition_dft.entries(name), limit), name)


DATASETS = [
    _crystal("mlearn", mlearn, MLEARN, (
        _task("mlearn", "energy", "eV", "crystal", "energy", "PBE energy per cell, with forces and stress"),),
        "1,566 periodic PBE configurations of Cu, Ge, Li, Mo, Ni, Si with energies, forces, stresses"),
    _crystal("mp_li_o", mp_li_o, LI_O, (
        _task("mp_li_o", "energy", "eV", "crystal", "energy"),
        _task("mp_li_o", "band_gap", "eV", "crystal", "attention")),
        "47 Materials Project Li-O structures with energies and band gaps"),
] + [_composition(s) for s in composition_dft.SETS.values()]
