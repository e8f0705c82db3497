"""Predictor on small exported models: one row per input in order, each head from records of
its training source, physical units (log10 tasks mapped back), errors kept as rows."""

import numpy as np
import pandas as pd
import pytest
import torch
from ase.build import bulk, molecule
from pymatgen.core import Lattice, Structure

from mpa_dist.data.batch import collate_records
from mpa_dist.data.readers.smiles import molecule_records
from mpa_dist.predict import Predictor
from mpa_dist.predict.predictor import load_member


def direct(export, smiles, source, head, k=2):
    """The head's output (training space) for each conformer, computed without the Predictor."""
    m = load_member(export)
    recs = molecule_records("x", smiles, source, "none", {}, k=k)
    batch = collate_records(recs, m.model.cutoff, m.meta.source_vocab)
    return m.model.predict(batch)[head].double().numpy()


def test_rows_in_order_with_errors_kept(multi_export):
    p = Predictor.load(multi_export, conformer_cache=False)
    smiles = ["CCO", "not a smiles", "", "[Na+].[Cl-]", "c1ccccc1O"]
    df = p.predict(smiles=smiles, conformers=2)
    assert list(df["smiles"]) == smiles and len(df) == len(smiles)
    ok = df["error"] == ""
    assert list(ok) == [True, False, False, False, True]
    assert "unparseable SMILES 'not a smiles'" in df.loc[1, "error"]
    assert df.loc[2, "error"] == "empty SMILES"
    assert "several fragments" in df.loc[3, "error"]
    assert df.loc[ok, "bp@boiling_point [K]"].notna().all() and df.loc[~ok, "bp@boiling_point [K]"].isna().all()
    assert list(df["conformers"]) == [2, 0, 0, 0, 2]
    # heads trained on other input kinds have nothing to say about molecules
    assert df["expt_gap@expt_gap [eV]"].isna().all() and df["energy@mlearn [eV]"].isna().all()


def test_each_head_uses_its_training_source_and_physical_units(multi_export):
    p = Predictor.load(multi_export, conformer_cache=False)
    row = p.predict(smiles=["CCCO"], conformers=2).iloc[0]
    bp = direct(multi_export, "CCCO", "boiling_point", "bp@boiling_point")
    assert row["bp@boiling_point [K]"] == pytest.approx(bp.mean(), rel=1e-6)
    assert row["bp@boiling_point std [K]"] == pytest.approx(bp.std(), abs=1e-6)
    wrong = direct(multi_export, "CCCO", "qm9", "bp@boiling_point")
    assert abs(wrong.mean() - bp.mean()) > 1e-4  # the source embedding matters, so the check above is real
    # vp trained on log10(Pa): the table holds 10**mean (a geometric mean) in Pa, std in decades
    log_vp = direct(multi_export, "CCCO", "vapor", "vp@vapor")
    assert row["vp@vapor [Pa]"] == pytest.approx(10 ** log_vp.mean(), rel=1e-5)
    assert row["vp@vapor std [log10(Pa)]"] == pytest.approx(log_vp.std(), abs=1e-6)


def test_formulas_and_structures(multi_export):
    p = Predictor.load(multi_export, max_atoms=20, conformer_cache=False)
    df = p.predict(formulas=["Fe2O3", "Xx2", "CsCl", "NaCl.2H2O"])
    assert df["expt_gap@expt_gap [eV]"].notna().tolist() == [True, False, False, False]
    assert "unknown element" in df.loc[1, "error"]
    assert df.loc[2, "error"] == "element Cs (Z=55) is beyond the model's max_z=36"
    assert "hydrate" in df.loc[3, "error"]
    assert df["expt_gap@expt_gap std [eV]"].isna().all()  # one composition, one model: no spread to report

    flat = bulk("Cu", "fcc", a=3.6)
    flat.cell[2] = 0.0  # periodic, with a degenerate cell
    silicon = Structure(Lattice.cubic(5.43), ["Si"] * 2, [[0, 0, 0], [0.25, 0.25, 0.25]])
    df = p.predict(structures=[bulk("Cu", "fcc", a=3.6), molecule("H2O"), flat, silicon,
                               bulk("Cu", "fcc", a=3.6).repeat(3), "a string"])
    assert df["structure"].tolist()[:2] == ["Cu", "H2O"]
    assert df["energy@mlearn [eV]"].notna().tolist() == [True, False, False, True, False, False]
    assert df["bp@boiling_point [K]"].notna().tolist() == [False, True, False, False, False, False]
    assert "missing cell" in df.loc[2, "error"]
    assert df.loc[4, "error"] == "27 atoms exceed the limit of 20 (max_atoms)"
    assert "not an ase Atoms" in df.loc[5, "error"]


def test_unseen_elements_are_refused_when_the_export_lists_them(multi_export, tmp_path):
    import json
    import shutil

    for suffix in (".safetensors", ".json"):
        shutil.copy(multi_export.with_suffix(suffix), tmp_path / f"m{suffix}")
    meta = json.loads((tmp_path / "m.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps({**meta, "elements": [1, 6, 8]}))
    df = Predictor.load(tmp_path / "m", conformer_cache=False).predict(smiles=["CO", "CN"], conformers=1)
    assert df["error"].tolist() == ["", "element(s) N never seen in training"]


def test_an_element_seen_only_before_the_last_phase_is_a_warning(multi_export, tmp_path):
    import json
    import shutil

    for suffix in (".safetensors", ".json"):
        shutil.copy(multi_export.with_suffix(suffix), tmp_path / f"m{suffix}")
    meta = json.loads((tmp_path / "m.json").read_text())
    lineage = [{"phase": "pretrain", "elements": [1, 6, 7, 8]}, {"phase": "posttrain", "elements": [1, 6, 8]}]
    (tmp_path / "m.json").write_text(json.dumps({**meta, "elements": [1, 6, 7, 8], "lineage": lineage}))
    df = Predictor.load(tmp_path / "m", conformer_cache=False).predict(smiles=["CO", "CN", "CS"], conformers=1)
    assert df["error"].tolist() == ["", "", "element(s) S never seen in training"]
    assert df["warning"].tolist() == ["", "element(s) N not in this model's posttrain training data (seen only "
                                          "in earlier phases): an extrapolation", ""]
    assert df["bp@boiling_point [K]"].notna().tolist() == [True, True, False]  # a warned row is predicted


def test_ensemble_mean_and_spread_over_models(ensemble_exports):
    water = molecule("H2O")
    single = [Predictor.load(e).predict(structures=[water]).iloc[0] for e in ensemble_exports]
    both = Predictor.load(ensemble_exports).predict(structures=[water]).iloc[0]
    a, b = (s["bp [K]"] for s in single)
    assert np.isnan(single[0]["bp std [K]"])
    assert both["bp [K]"] == pytest.approx((a + b) / 2, rel=1e-6)
    assert both["bp std [K]"] == pytest.approx(abs(a - b) / 2, rel=1e-5)  # population std of two values
    assert abs(a - b) > 1e-3


def test_exactly_one_kind_of_input(multi_export):
    p = Predictor.load(multi_export, conformer_cache=False)
    with pytest.raises(ValueError, match="exactly one"):
        p.predict(smiles=["C"], formulas=["NaCl"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_gives_the_cpu_table(multi_export):
    args = {"smiles": ["CCO", "xx"], "conformers": 2}
    cpu = Predictor.load(multi_export, conformer_cache=False).predict(**args)
    gpu = Predictor.load(multi_export, device="cuda", conformer_cache=False).predict(**args)
    pd.testing.assert_frame_equal(cpu, gpu, rtol=1e-4)
