"""The element-property embedding: pymatgen's values, standardised, read by the model, saved with it."""

from __future__ import annotations

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from mpa_dist.data.elements import PROPERTIES, element_properties, standardised


def test_table_holds_pymatgen_values_and_no_element_is_nan():
    table = element_properties(118)
    col = {p: j for j, p in enumerate(PROPERTIES)}
    assert table.shape == (119, len(PROPERTIES))
    assert table[8, col["Z"]] == 8 and abs(table[8, col["X"]] - 3.44) < 1e-9  # oxygen, Pauling scale
    assert table[26, col["row"]] == 4 and table[26, col["group"]] == 8  # iron
    assert np.isnan(table[0]).all() and np.isnan(table[110]).all()  # no element; past pymatgen's data
    z = standardised(table)
    assert np.isfinite(z).all() and z.dtype == np.float32
    present = ~np.isnan(table[1:104, col["X"]])
    assert abs(z[1:104, col["X"]][present].mean()) < 1e-5 and abs(z[1:104, col["X"]][present].std() - 1) < 1e-4
    mass = table[1:104, col["atomic_mass"]]  # log-scaled, so still in the order of the masses
    assert (np.diff(z[1:104, col["atomic_mass"]][np.argsort(mass)]) >= 0).all()


def test_model_reads_the_table_and_saves_it(make_model, mixed_batch, tmp_path):
    model = make_model("tiny", element_features=True)
    state = model.state_dict()
    assert "backbone.embedding.element_table" in state
    before = model(mixed_batch)
    with torch.no_grad():  # another table, the same weights: the outputs move
        model.backbone.embedding.element_table.mul_(2)
    moved = model(mixed_batch)
    assert any(not torch.allclose(before[k], moved[k]) for k in before)
    with torch.no_grad():
        model.backbone.embedding.element_table.div_(2)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp_path / "m.safetensors")
    fresh = make_model("tiny", element_features=True, seed=1)
    fresh.load_state_dict(load_file(tmp_path / "m.safetensors"))
    after = fresh(mixed_batch)
    assert all(torch.allclose(before[k], after[k]) for k in before)


def test_without_element_features_there_is_no_table(make_model):
    model = make_model("tiny", element_features=False)
    assert not any(k.startswith("backbone.embedding.element") for k in model.state_dict())


def test_an_untrained_element_starts_at_its_properties(make_model):
    """Each element's learned vector starts at zero, so a fresh (or rarely seen) element is its
    properties' projection: osmium starts nearer ruthenium (its group) than fluorine."""
    model = make_model("tiny", heads=[{"name": "gap", "readout": "mean"}])
    emb = model.backbone.embedding
    assert torch.count_nonzero(emb.atom.weight) == 0
    h = emb.atom.weight + emb.element(emb.element_table.to(emb.atom.weight.dtype))
    os_, ru, f = h[76], h[44], h[9]
    assert (os_ - ru).norm() < (os_ - f).norm() and h[76].norm() > 0


def test_element_init_std_sets_the_learned_part_beside_the_properties(make_model):
    """model.element_init_std draws each element's learned vector at N(0, std^2); the properties'
    projection is the same as at 0, so the two starts differ by the learned part alone."""
    at_zero = make_model("tiny", heads=[{"name": "gap", "readout": "mean"}]).backbone.embedding
    drawn = make_model("tiny", heads=[{"name": "gap", "readout": "mean"}], element_init_std=0.3).backbone.embedding
    assert torch.equal(at_zero.element.weight, drawn.element.weight)
    assert abs(drawn.atom.weight.std().item() - 0.3) < 0.02
