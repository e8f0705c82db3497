"""The baseline arms on the smoke shards: fitted on exactly the entries the model arms see, and
Chemprop's message-passing network where it is installed."""

import sys

import numpy as np
import pytest

import missing
from launching import ROOT, smoke


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from hydra import compose, initialize_config_dir

    import mpa_dist.train.resolvers  # noqa: F401
    from mpa_dist.tune import sweep

    tmp = tmp_path_factory.mktemp("baselines")
    overrides = smoke(tmp, "posttrain", "sweep=smoke", f"sweep.out={tmp / 'sweep'}",
                      f"sweep.arms.mpa={tmp / 'none'}", "sweep.chemprop_epochs=8")
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return sweep.base_config(compose("posttrain", overrides=overrides))


def test_chemprop_is_refused_on_composition_tasks_and_named_when_missing(base, monkeypatch):
    from mpa_dist.baselines import applies, run_baseline
    from mpa_dist.tune.config import check

    assert applies("chemprop", "boiling_point") and not applies("chemprop", "expt_gap") and applies("rf", "expt_gap")
    with pytest.raises(ValueError, match="expt_gap is a composition task"):
        run_baseline("chemprop", base, "expt_gap", "random", 0)
    monkeypatch.setitem(sys.modules, "chemprop", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'chemprop==2\.2\.1'"):
        check({"tasks": ["boiling_point"], "arms": {"mpa": "x"}, "baselines": ["dummy", "chemprop"]})


@pytest.mark.slow
def test_chemprop_learns_boiling_points_on_the_model_arms_entries(base):
    missing.module("chemprop")  # an optional install, in requirements.txt: CI has it
    from mpa_dist.baselines import run_baseline

    chemprop = run_baseline("chemprop", base, "boiling_point", "random", 0)
    dummy = run_baseline("dummy", base, "boiling_point", "random", 0)
    row = chemprop["row"]
    # the same test entries, in the same order, as every other arm
    assert row["n_test"] == dummy["row"]["n_test"] > 0 and np.array_equal(chemprop["y"], dummy["y"])
    assert np.isfinite(chemprop["p"]).all() and chemprop["p"].std() > 1.0  # not a constant
    # 8 epochs on 240 molecules: well short of converged, but it must learn something
    assert row["mae"] < 0.9 * dummy["row"]["mae"], (row, dummy["row"])
    assert 0 <= row["hp:best_epoch"] < row["hp:epochs_run"] <= 8 and np.isfinite(row["val_score"])


def test_report_counts_chemprop_only_where_it_ran():
    import pandas as pd

    from mpa_dist.report.sweep_report import baseline_verdict, summary

    rows = [("boiling_point", "mpa", 40.0), ("boiling_point", "direct", 45.0), ("boiling_point", "dummy", 70.0),
            ("boiling_point", "rf", 35.0), ("boiling_point", "chemprop", 30.0),
            ("expt_gap", "mpa", 0.40), ("expt_gap", "direct", 0.50), ("expt_gap", "dummy", 1.1),
            ("expt_gap", "rf", 0.45)]  # no chemprop row: a composition task
    res = pd.DataFrame([{"task": t, "arm": a, "split": "random", "seed": 0, "mae": m, "accuracy": float("nan"),
                         "n_test": 10, "unit": "u"} for t, a, m in rows])
    table = summary(res).set_index("task")
    assert table.loc["boiling_point", "best_baseline"] == "chemprop"
    assert table.loc["boiling_point", "vs_baseline_%"] == pytest.approx(100 * (40 - 30) / 30)
    assert table.loc["expt_gap", "best_baseline"] == "rf"
    text = "\n".join(baseline_verdict(table.reset_index()))
    assert "**random split, mpa**: the random forest beats it on **1 of 2** tasks; Chemprop beats it on **1 of 1**" in text
    assert "A baseline beats the foundation model on 1 of 2" in text


@pytest.mark.parametrize("task", ["boiling_point", "expt_gap"])
def test_the_baselines_train_and_test_on_the_model_arms_entries_key_for_key(base, task, tmp_path):
    """task_splits (what dummy, rf and chemprop fit and score on) lists, split by split, exactly the entries the
    shards of a model arm's trial hold and its loader yields from them: the same keys, each once."""
    import tarfile
    from collections import Counter

    from omegaconf import OmegaConf

    from mpa_dist.baselines.run import task_splits
    from mpa_dist.data.loader import build_loader
    from mpa_dist.data.record import entry_key
    from mpa_dist.data.shards import decode_sample
    from mpa_dist.train import plan
    from mpa_dist.train.schema import validate
    from mpa_dist.tune.trial import trial_config

    data = OmegaConf.create(base["data"])  # as run_baseline reads it (scheme random)
    splits = task_splits(data, task, base["size"]["expt"])
    # a trial of the mpa arm on this task, its sources found as its trainer finds them
    cfg = validate(trial_config(base, {"task": task, "arm": "mpa", "scheme": "random", "seed": 0, "hp": {}}, tmp_path))
    (src,) = plan.sources(cfg.data, write=False)
    seen = {}
    for split, (texts, y, keys) in splits.items():
        assert len(keys) == len(set(keys)) == len(texts) == len(y) > 0, split
        in_tars = []  # the samples the shard files hold
        for s in src.manifest["shards"]:
            if s["split"] == split:
                with tarfile.open(f"{src.path}/{s['name']}") as t:
                    in_tars += [entry_key(r.key) for m in t.getmembers()
                                for r in decode_sample(t.extractfile(m).read())]
        lc = plan.loader_config(cfg.data, [src], split, "epoch", {task: 1}, 5.0, seed=0, workers=0)
        loaded = [entry_key(k) for b in build_loader(lc) for k in b.keys]  # what a model arm trains or is scored on
        assert Counter(keys) == Counter(in_tars) == Counter(loaded), split
        seen[split] = set(keys)
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"]) and not (seen["val"] & seen["test"])
