"""Deep-ensemble heads: the mean of their members, one norm, rebuilt from the spec."""

from __future__ import annotations

import pytest
import torch

from mpa_dist.model import EnsembleHead, build_model


def test_ensemble_predicts_the_mean_of_its_members(make_model, mixed_batch):
    heads = [{"name": "gap", "readout": "hybrid", "ensemble": 3}, {"name": "dipole", "readout": "vector", "ensemble": 2}]
    model = make_model("tiny", heads=heads)
    ens = model.heads["gap"]
    assert isinstance(ens, EnsembleHead) and len(ens.members) == 3
    out = model(mixed_batch)
    alone = []
    for k in range(3):
        ens.active = k
        alone.append(model(mixed_batch)["gap"])
    ens.active = None
    assert not torch.allclose(alone[0], alone[1])  # members start from their own initialisation
    torch.testing.assert_close(out["gap"], torch.stack(alone).mean(0))
    assert set(out) >= {"gap", "dipole", "dipole_vector"} and out["dipole_vector"].shape == (mixed_batch.num_graphs, 3)
    state = model.state_dict()
    assert "heads.gap.norm.scale" in state and not any(".members.0.norm." in k for k in state)
    again = make_model("tiny", heads=heads, seed=1)
    again.load_state_dict(state)  # strict: the spec {"ensemble": K} rebuilds the same module
    torch.testing.assert_close(again(mixed_batch)["gap"], out["gap"])
    assert model.output_kinds()["gap"] == make_model("tiny", heads=[{"name": "gap", "readout": "hybrid"}]).output_kinds()["gap"]


def test_energy_heads_with_forces_are_not_ensembled(make_model):
    with pytest.raises(ValueError, match="not ensembled"):
        make_model("tiny", heads=[{"name": "energy", "readout": "energy", "forces": True, "ensemble": 2}])
