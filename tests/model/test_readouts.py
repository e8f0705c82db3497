"""Normalisation buffers, element references, conformer aggregation, compositions, sources
and conditions, and that the tiny model can learn."""

from __future__ import annotations

import dataclasses

import torch

from mpa_dist.data.batch import collate_records
from mpa_dist.data.readers.formula import composition_record
from mpa_dist.model import element_counts
from mpa_dist.model.conformers import aggregate_conformers


def test_norm_buffers_fit_and_round_trip(make_model, mixed_batch):
    model = make_model("tiny")
    max_z = model.backbone.embedding.atom.num_embeddings - 1
    counts = element_counts(mixed_batch, max_z)
    ref = torch.zeros(max_z + 1, dtype=torch.float64)
    ref[[1, 6, 8, 11, 17, 22, 26, 3, 27]] = torch.tensor([-13.6, -1030.0, -2040.0, -4400, -12500, -23000, -34000,
                                                          -200, -37000], dtype=torch.float64)
    y = counts @ ref + torch.randn(len(counts), dtype=torch.float64) * 0.1
    model.heads["energy"].norm.fit(y, counts)
    norm = model.heads["energy"].norm
    assert (y - norm.reference(mixed_batch, y.dtype)).abs().max() < 1.0
    assert torch.allclose(norm.to_physical(norm.to_normalised(y, mixed_batch), mixed_batch), y)
    state = model.state_dict()
    assert "heads.energy.norm.element_ref" in state and "heads.gap.norm.scale" in state
    gap = torch.rand(len(counts), dtype=torch.float64) * 5
    model.heads["gap"].norm.fit(gap)
    assert abs(float(model.heads["gap"].norm.shift) - float(gap.mean())) < 1e-9

    fresh = make_model("tiny", seed=1)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.heads["energy"].norm.element_ref, norm.element_ref)


def test_predict_is_physical_units(make_model, mixed_batch):
    model = make_model("tiny")
    norm = model.heads["energy"].norm
    norm.scale.fill_(2.0)
    norm.element_ref[8] = -100.0
    raw, phys = model(mixed_batch), model.predict(mixed_batch)
    o_count = element_counts(mixed_batch, model.backbone.embedding.atom.num_embeddings - 1)[:, 8]
    assert torch.allclose(phys["energy"], 2 * raw["energy"] - 100 * o_count)
    assert torch.allclose(phys["forces"], 2 * raw["forces"])
    assert torch.allclose(phys["stress"], 2 * raw["stress"])
    labels = dataclasses.replace(mixed_batch, labels={"energy": phys["energy"]},
                                 label_mask={"energy": torch.ones(mixed_batch.num_graphs, dtype=torch.bool)})
    target, mask = model.normalise_labels(labels)["energy"]
    assert torch.allclose(target, raw["energy"]) and mask.all()


def test_conformers_are_averaged(make_model, qm9_records):
    model = make_model("tiny")
    a = qm9_records[3]
    b = dataclasses.replace(a, key=a.key + "/c1", positions=a.positions + 0.05 * torch.randn(a.num_atoms, 3).numpy())
    batch = collate_records([a, qm9_records[1], b], model.cutoff, dtype=torch.float64)
    per_graph = model.predict(batch)
    names, per_group = model.predict(batch, aggregate="mean")
    assert names == [a.group, qm9_records[1].group]
    assert torch.allclose(per_group["cv"][0], (per_graph["cv"][0] + per_graph["cv"][2]) / 2)
    assert torch.allclose(per_group["dipole_vector"][1], per_graph["dipole_vector"][1])
    assert "forces" not in per_group
    _, low = aggregate_conformers(per_graph, batch.groups, "min")
    assert torch.allclose(low["cv"][0], torch.minimum(per_graph["cv"][0], per_graph["cv"][2]))


def test_composition_scaling(make_model):
    """A composition is a token set: Fe4O6 is twice Fe2O3 for extensive outputs, equal for intensive."""
    model = make_model("tiny")
    recs = [composition_record("a", "Fe2O3", "expt", "experimental"),
            composition_record("b", "Fe4O6", "expt", "experimental", reduce=False)]
    out = model(collate_records(recs, model.cutoff, dtype=torch.float64))
    for key, (kind, extensive) in model.output_kinds().items():
        if kind == "forces":
            assert torch.equal(out[key], torch.zeros_like(out[key]))
        elif extensive is True:
            assert torch.allclose(out[key][1], 2 * out[key][0]), key
        elif extensive is False:
            assert torch.allclose(out[key][1], out[key][0]), key


def test_sources_and_conditions_are_inputs(make_model, mixed_batch):
    model = make_model("tiny")
    torch.nn.init.normal_(model.backbone.embedding.source.weight)
    base = model(mixed_batch)["gap"]
    other = model(dataclasses.replace(mixed_batch, source=torch.zeros_like(mixed_batch.source)))["gap"]
    assert not torch.allclose(base, other)
    hot = dict(mixed_batch.conditions, temperature_K=torch.full_like(mixed_batch.conditions["temperature_K"], 900.0))
    warm = model(dataclasses.replace(mixed_batch, conditions=hot))["gap"]
    assert not torch.allclose(base, warm) and torch.isfinite(warm).all()
    assert torch.isfinite(model(dataclasses.replace(mixed_batch, conditions={}))["gap"]).all()


def test_tiny_model_learns(make_model, molecule_batch):
    torch.manual_seed(0)
    model = make_model("tiny", heads=[{"name": "u0", "readout": "energy"}], dtype=torch.float32).train()
    batch = molecule_batch.to("cpu", torch.float32)
    y = batch.labels["u0"]
    model.heads["u0"].norm.fit(y, element_counts(batch, model.backbone.embedding.atom.num_embeddings - 1))
    target = model.normalise_labels(batch)["u0"][0]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        out = model(batch)
        loss = (out["u0"] - target).pow(2).mean() + out["forces"].pow(2).mean()  # QM9 minima: zero forces
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
