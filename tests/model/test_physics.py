"""Symmetry, derivative, batching and smoothness checks (mpa_dist.model.checks) on every size
that is fast enough here and on every head at once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mpa_dist.data.batch import collate_records
from mpa_dist.data.record import Record
from mpa_dist.model import checks

SIZES = ["tiny", "small"]


@pytest.fixture(scope="module", params=SIZES)
def model(request, make_model):
    return make_model(request.param)


def test_equivariance_molecules(model, molecule_batch):
    checks.assert_equivariant(model, molecule_batch)


def test_equivariance_periodic_and_compositions(model, mixed_batch):
    checks.assert_equivariant(model, mixed_batch)


def test_invariance_without_reflection(model, mixed_batch):
    checks.assert_invariant(model, mixed_batch, seed=3)


def test_forces_and_stress_are_derivatives(model, mixed_batch):
    checks.assert_forces_match_finite_differences(model, mixed_batch, energy="energy", stress="stress")


def test_batch_equals_members(model, mixed_batch):
    checks.assert_batch_consistent(model, mixed_batch)


@pytest.mark.parametrize("which", [0, 1], ids=["rocksalt", "triclinic"])
def test_supercell_scaling(model, crystal_records, which):
    checks.assert_supercell_scaling(model, crystal_records[which], reps=(2, 1, 1))


def test_smooth_as_the_only_neighbour_leaves(model):
    def pair(d):
        rec = Record(key="co", input="molecule", numbers=[6, 8], positions=[[0, 0, 0], [0, 0, d]], source="qm9",
                     theory="t")
        return collate_records([rec], model.cutoff, dtype=torch.float64)
    checks.assert_smooth_at_cutoff(model, pair, model.cutoff)


def test_smooth_as_an_atom_approaches_a_molecule(model, qm9_records):
    mol = qm9_records[-1]
    far = int(np.argmax(mol.positions[:, 0]))

    def approach(d):
        pos = np.vstack([mol.positions, mol.positions[far] + [d, 0, 0]])
        rec = Record(key="m+h", input="molecule", numbers=list(mol.numbers) + [1], positions=pos, source="qm9",
                     theory="t")
        return collate_records([rec], model.cutoff, dtype=torch.float64)
    checks.assert_smooth_at_cutoff(model, approach, model.cutoff)


@pytest.mark.slow  # tracing only, no C++ build: ~20 s on 2 busy cores
def test_compile_captures_the_whole_model_and_matches_eager(make_model, all_heads, mixed_batch):
    """CI's compile check: TorchDynamo captures the model in one graph (fullgraph: a graph break is an error)
    and AOTAutograd's graph gives the eager outputs. Inductor's code generation is the heavy test's below."""
    import torch._dynamo

    heads = [h for h in all_heads if h["readout"] != "energy"] + [{"name": "energy", "readout": "sum"}]
    model = make_model("tiny", heads)
    torch._dynamo.reset()
    try:
        checks.assert_compile_matches_eager(model, mixed_batch, atol=1e-8, rtol=1e-6, backend="aot_eager",
                                            fullgraph=True)
    finally:
        torch._dynamo.reset()


@pytest.mark.slow
@pytest.mark.heavy  # inductor's C++ builds: 27 s on a good day, 113 s on a slow one
def test_compile_matches_eager(make_model, all_heads, mixed_batch):
    """Without autograd forces (a graph break by nature); the rest of the model compiles whole."""
    heads = [h for h in all_heads if h["readout"] != "energy"] + [{"name": "energy", "readout": "sum"}]
    model = make_model("tiny", heads)
    checks.assert_compile_matches_eager(model, mixed_batch, atol=1e-8, rtol=1e-6)


def test_lmax_1_tensor_head_keeps_its_anisotropy(make_model, mixed_batch, molecule_batch):
    """Without l = 2 node features (lmax 1, the demo's backbone) the polarizability's traceless part
    comes from the square of the l = 1 features: it is not zero (a plain linear map from features
    without 2e would leave it zero), and every output of every head still transforms as it should."""
    model = make_model("tiny", lmax=1)
    assert model.heads["polarizability_tensor"].square is not None
    assert make_model("tiny").heads["polarizability_tensor"].square is None  # lmax 2: the l = 2 features
    checks.assert_equivariant(model, mixed_batch)
    with torch.no_grad():
        t = model(molecule_batch)["polarizability_tensor"]
    iso = t.diagonal(dim1=-2, dim2=-1).mean(-1)[:, None, None] * torch.eye(3, dtype=t.dtype)
    assert (t - iso).abs().max() > 1e-3 * t.abs().max()


def test_heads_on_every_layer_keep_symmetry_and_read_each_layer(make_model, mixed_batch):
    """readout_layers="all": every head on every layer's features, joined per degree l. Each output
    still transforms as it should, and the features are the per-layer outputs in order (the last
    layer's block is what the same weights give with readout_layers="last")."""
    model = make_model("tiny", readout_layers="all")
    checks.assert_equivariant(model, mixed_batch)
    last = make_model("tiny", readout_layers="last")
    backbone = model.backbone
    last.backbone.load_state_dict(backbone.state_dict())  # strict: the same backbone weights, names and shapes
    x, y = backbone(mixed_batch), last.backbone(mixed_batch)
    layers, hidden = len(backbone.layers), backbone.hidden
    assert x.shape[-1] == layers * hidden.dim and backbone.irreps.dim == x.shape[-1]
    for (mul, ir), s_all, s_one in zip(backbone.irreps, backbone.irreps.slices(), hidden.slices()):
        block = x[:, s_all].reshape(len(x), layers, -1)  # per degree l: layer after layer
        assert torch.allclose(block[:, -1], y[:, s_one]), f"{ir}: the last layer's block is not the last layer"
        assert not torch.allclose(block[:, 0], block[:, -1]), f"{ir}: the first layer's block repeats the last"
