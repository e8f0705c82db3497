"""The scaling study end to end at smoke size: mid-training with none and some first-principles
data, one sweep over both and direct fine-tuning, the table and the plot."""

import pandas as pd
import pytest

from launching import ROOT, launch
from mpa_dist.report.scaling_report import scaling_table
from mpa_dist.tune.scaling import midtrain_overrides


def test_midtrain_overrides_per_amount(tmp_path):
    assert "data.dft_sources={}" in midtrain_overrides(0, tmp_path)
    assert "size.qm9=1000" in midtrain_overrides(1000, tmp_path)
    assert "size.composition_dft=null" in midtrain_overrides(None, tmp_path)


def test_scaling_table_is_relative_to_direct():
    res = pd.DataFrame({"task": ["a", "a", "a", "b", "b", "b"], "split": ["random"] * 6,
                        "arm": ["direct", "dft_0", "dft_all"] * 2, "mae": [2.0, 2.0, 1.0, 10.0, 12.0, 9.0]})
    t = scaling_table(res, {"dft_0": 0, "dft_all": None}).set_index("arm")
    assert t.loc["dft_0", "mean_relative_mae"] == pytest.approx((1.0 + 1.2) / 2)
    assert t.loc["dft_all", "mean_relative_mae"] == pytest.approx((0.5 + 0.9) / 2)
    assert t.loc["dft_all", "wins_vs_direct"] == 2 and t.loc["dft_0", "wins_vs_direct"] == 0
    assert t.loc["dft_all", "seeds"] == 1 and t["std_over_seeds"].isna().all()  # no spread from one seed


def test_scaling_table_compares_each_seed_with_direct_of_that_seed():
    # seed 0: dft_all halves both errors; seed 1: direct is worse, dft_all equals it on task a
    res = pd.DataFrame({"task": ["a", "a", "b", "b"] * 2, "split": ["random"] * 8, "seed": [0] * 4 + [1] * 4,
                        "arm": ["direct", "dft_all"] * 4, "mae": [2.0, 1.0, 10.0, 5.0, 4.0, 4.0, 10.0, 5.0]})
    t = scaling_table(res, {"dft_all": None}).set_index("arm").loc["dft_all"]
    per_seed = [(0.5 + 0.5) / 2, (1.0 + 0.5) / 2]
    assert t["seeds"] == 2 and t["mean_relative_mae"] == pytest.approx(sum(per_seed) / 2)
    assert t["std_over_seeds"] == pytest.approx(pd.Series(per_seed).std(ddof=1))
    assert t["a (random)"] == pytest.approx(2.5) and t["wins_vs_direct"] == 2  # per-task MAE: mean over seeds


@pytest.mark.slow
@pytest.mark.multiprocess
def test_smoke_scaling_study(pretrained, tmp_path):
    out = tmp_path / "scaling"
    launch("scaling.py", "preset=smoke", "name=scaling_test", f"out={out}", "amounts=[0,100]",
           f"pretrained={pretrained / 'pretrain' / 'model'}",
           f"overrides=['data.shards_root={ROOT / 'shards' / 'test'}']", "sweep_overrides=['sweep.seeds=[1]']",
           timeout=600)
    table = pd.read_csv(out / "scaling.csv").set_index("arm")
    assert list(table.index) == ["dft_0", "dft_100"] and (table["tasks"] == 2).all()
    assert (table["seeds"] == 1).all()  # the sweep's own seed list, from sweep_overrides
    assert (table["mean_relative_mae"] > 0).all()
    res = pd.read_csv(out / "sweep" / "results.csv")
    assert set(res["arm"]) == {"direct", "dft_0", "dft_100"} and set(res["seed"]) == {1}
    md = (out / "scaling.md").read_text()
    assert "dft_100" in md and "scaling.png" in md and (out / "scaling.png").stat().st_size > 5000
