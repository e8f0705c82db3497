"""Configs, parameter counts and head construction."""

from __future__ import annotations

import pytest
import torch

from mpa_dist.model import build_model, count_parameters

SIZES = ["tiny", "small", "base", "large"]


def _layered_count(cfg: dict) -> int:
    """Exact count from one- and two-layer builds: layers after the first are identical."""
    one = count_parameters({**cfg, "num_layers": 1})
    two = count_parameters({**cfg, "num_layers": 2})
    return one + (cfg["num_layers"] - 1) * (two - one)


def test_sizes_grow_and_large_has_100m_parameters(config_of):
    counts = [_layered_count(config_of(s)) for s in SIZES]
    assert counts == sorted(counts), dict(zip(SIZES, counts))
    assert counts[0] < 50_000, "tiny must train in CI on 2 cores"
    assert counts[-1] >= 100_000_000, f"large has {counts[-1]:,} parameters"


def test_meta_count_matches_a_real_build(config_of):
    cfg = config_of("tiny")
    heads = [{"name": "e", "readout": "energy"}, {"name": "mu", "readout": "vector"}]
    assert count_parameters(cfg, heads) == sum(p.numel() for p in build_model(cfg, heads).parameters())
    assert _layered_count(cfg) == count_parameters(cfg)


def test_unknown_keys_are_errors(config_of):
    with pytest.raises(ValueError, match="unknown keys"):
        build_model({**config_of("tiny"), "dropout": 0.1}, [])
    with pytest.raises(ValueError, match="unknown keys"):
        build_model(config_of("tiny"), [{"name": "x", "readout": "sum", "pooling": "max"}])
    with pytest.raises(ValueError, match="readout"):
        build_model(config_of("tiny"), [{"name": "x", "readout": "median"}])


def test_omegaconf_node_is_accepted(config_of):
    from omegaconf import OmegaConf
    model = build_model(OmegaConf.create(config_of("tiny")), [{"name": "u0", "readout": "sum"}])
    assert model.cutoff == 5.0


def test_outputs_shapes_and_kinds(make_model, mixed_batch):
    model = make_model("tiny")
    out = model(mixed_batch)
    g, n = mixed_batch.num_graphs, mixed_batch.numbers.shape[0]
    shapes = {"energy": (g,), "cv": (g,), "gap@expt_gap": (g,), "boiling_point": (g,), "flash_point": (g,),
              "dipole": (g,), "dipole_vector": (g, 3), "polarizability_tensor": (g, 3, 3), "metal": (g, 2),
              "forces": (n, 3), "stress": (g, 3, 3)}
    for k, shape in shapes.items():
        assert tuple(out[k].shape) == shape, k
        assert torch.isfinite(out[k]).all(), k
    assert set(out) == set(model.output_kinds())
    t = out["polarizability_tensor"]
    assert torch.allclose(t, t.transpose(1, 2))


def test_stress_is_zero_without_a_cell(make_model, molecule_batch):
    out = make_model("tiny")(molecule_batch)
    assert torch.equal(out["stress"], torch.zeros_like(out["stress"]))


def test_several_energy_heads_get_suffixed_forces(make_model, mixed_batch):
    heads = [{"name": "energy@mptrj", "readout": "energy"}, {"name": "energy@omat", "readout": "energy", "stress": True}]
    out = make_model("tiny", heads)(mixed_batch)
    assert {"forces@mptrj", "forces@omat", "stress@omat"} <= set(out)
    with pytest.raises(ValueError, match="suffix"):
        make_model("tiny", [{"name": "e1", "readout": "energy"}, {"name": "e2", "readout": "energy"}])


def test_derivatives_can_be_left_out(make_model, crystal_records):
    """The trainer leaves out forces and stress for a batch without their labels (a second backward
    through the whole batch is most of a training step); by default a model computes them."""
    from mpa_dist.data.batch import collate_records

    model = make_model("tiny", [{"name": "energy", "readout": "energy", "forces": True, "stress": True}])
    batch = collate_records(crystal_records, 5.0, dtype=torch.float64)
    model.train()
    lean, full = model(batch, derivatives=False), model(batch)
    assert set(lean) == {"energy"} and {"energy", "forces", "stress"} <= set(full)
    assert full["forces"].requires_grad  # kept differentiable in training: it trains on them
    assert torch.equal(lean["energy"], full["energy"])


def test_a_head_range_clamps_physical_predictions_only(make_model, molecule_batch):
    """A band gap is not negative: a head with {"range": [0, None]} clamps its predictions in physical units
    (evaluation, predictions, exports), an ensemble's too; the normalised outputs that the loss reads are
    left as they are, and a head without a range is not clamped."""
    heads = [{"name": "gap", "readout": "mean"}, {"name": "gap_ranged", "readout": "mean", "range": [0.0, None]},
             {"name": "gap_ens", "readout": "mean", "range": [None, 0.0], "ensemble": 2}]
    model = make_model("tiny", heads=heads)
    with torch.no_grad():
        out = model(molecule_batch)
    for k, h in model.heads.items():
        h.norm.shift.fill_(-float(out[k].median()))  # physical predictions on both sides of 0
    phys = model.to_physical(out, molecule_batch)
    assert (phys["gap"] < 0).any() and (phys["gap"] > 0).any()
    assert (phys["gap_ranged"] >= 0).all() and (phys["gap_ranged"] == 0).sum() >= len(out["gap_ranged"]) // 2
    assert (phys["gap_ens"] <= 0).all() and (phys["gap_ens"] == 0).any()
    assert (out["gap_ranged"] * model.heads["gap_ranged"].norm.scale + model.heads["gap_ranged"].norm.shift < 0).any()
    with pytest.raises(ValueError, match="scalar output"):
        make_model("tiny", heads=[{"name": "dipole", "readout": "vector", "range": [0.0, None]}])


def test_catalogue_tasks_give_their_heads_their_physical_range():
    from mpa_dist.train.plan import head_range

    gap = {"readout": "attention", "transform": "none", "classification": False, "sanity": [0.0, 15.0]}
    assert head_range(gap) == {"range": [0.0, 15.0]}
    assert head_range({**gap, "transform": "log10"}) == {}  # its training units are not the range's
    assert head_range({**gap, "readout": "classification", "classification": True}) == {}
    assert head_range({**gap, "readout": "vector"}) == {}
    assert head_range({**gap, "sanity": [None, None]}) == {}
