"""The scaling study end to end at smoke size: mid-training with none and some first-principles
data, one sweep over both and direct fine-tuning, the table and the plot."""

import json

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
@pytest.mark.heavy
@pytest.mark.multiprocess
def test_smoke_scaling_study(pretrained, tmp_path):
    out = tmp_path / "scaling"
    launch("scaling.py", "preset=smoke", "name=scaling_test", f"out={out}", "amounts=[0,100]",
           "structures_per_step=null", "max_midtrain_steps=20",
           f"pretrained={pretrained / 'pretrain' / 'model'}",
           f"overrides=['data.shards_root={ROOT / 'shards' / 'test'}']", "seeds=[1]",
           timeout=600)
    table = pd.read_csv(out / "scaling.csv").set_index("arm")
    assert list(table.index) == ["dft_0", "dft_100"] and (table["tasks"] == 2).all()
    assert (table["seeds"] == 1).all()  # the study's seeds in place of the sweep's
    assert (table["vs_direct_interval_over"] == "entries").all()  # paired on the entries scored again
    entries = pd.read_csv(out / "entries.csv")
    assert set(entries["arm"]) == {"direct", "dft_0", "dft_100"} and len(entries) > 0
    assert (table["mean_relative_mae"] > 0).all()
    res = pd.read_csv(out / "sweep" / "results.csv")
    assert set(res["arm"]) == {"direct", "dft_0", "dft_100", "dummy", "rf"} and set(res["seed"]) == {1}
    md = (out / "scaling.md").read_text()
    assert "dft_100" in md and "scaling.png" in md and (out / "scaling.png").stat().st_size > 5000
    assert "- All tasks: MPA against direct fine-tuning" in md and "at 0: " in md and "Trend from 0 to 100" in md
    assert "budget mode **epochs**" in md and "Mid-training budgets" in md and "**0** evaluation compounds" in md
    assert "molecule tasks" in md and "composition tasks" in md
    assert "('rf', 'baseline')" in md and "('direct', 'pre-trained')" in md  # beside the mid-trained arms
    assert "The random forest beats every mid-trained arm on" in md
    b = json.loads((out / "budgets.json").read_text())["dft_100"]  # QM9 for molecules, the composition sets
    # structures_per_step=null: measured by the amount-0 mid-training, which ran first
    speed = json.loads((out.parent / "midtrain-dft_0" / "result.json").read_text())["speed"]
    assert b["structures_per_step"] == speed["graphs_per_step"] > 0
    assert b["molecule_structures"] > 0 and b["composition_structures"] > 0
    assert b["dft_structures"] == b["molecule_structures"] + b["composition_structures"]


def test_slope_is_paired_by_seed_and_says_which_way_the_change_moves():
    from mpa_dist.report.scaling_report import seed_changes, slope, slope_text

    n = {"a": 10, "b": 100, "c": 1000, "d": 10000}
    falls = pd.DataFrame({"a": [-2.0], "b": [-5.1], "c": [-7.9], "d": [-11.0]})  # one seed: least squares
    fit = slope(falls, n)
    assert fit["slope"] == pytest.approx(-3.0, abs=0.1) and fit["high"] < 0 and "falls" in slope_text(fit, "x")
    assert "flat within noise" in slope_text(slope(falls.assign(b=[-9.0], c=[-4.0], d=[-8.5]), n), "x")
    assert "too few" in slope_text(slope(falls[["a", "b"]], n), "x")
    # three seeds with very different offsets but the same slope: paired by seed, the offsets are not noise
    seeds = pd.DataFrame({"b": [10.0, 0.0, -20.0], "c": [5.0, -5.0, -25.0], "d": [0.0, -10.0, -30.0]})
    fit = slope(seeds, n)
    assert fit["slope"] == pytest.approx(-5.0) and fit["high"] < 0 and "3 seeds" in slope_text(fit, "x")
    noisy = seeds.assign(d=[-10.0, 10.0, -30.0])  # one seed against the others: the interval holds 0
    assert slope(noisy, n)["low"] < 0 < slope(noisy, n)["high"]
    # the per-seed changes: each seed's arm against direct of that same seed, mean over tasks
    res = pd.DataFrame({"task": ["t", "t", "u", "u"] * 2, "split": "random", "seed": [0, 0, 0, 0, 1, 1, 1, 1],
                        "arm": ["direct", "b", "direct", "b"] * 2, "mae": [2.0, 1.0, 4.0, 4.0, 1.0, 1.0, 2.0, 3.0]})
    assert seed_changes(res, {"b": 100})["b"].tolist() == [-25.0, 25.0]


def test_epochs_budget_grows_with_the_data_and_steps_budget_does_not():
    from omegaconf import OmegaConf

    from mpa_dist.tune.scaling import midtrain_steps

    cfg = OmegaConf.create({"budget": "epochs", "dft_epochs": 1.0, "structures_per_step": 40, "max_midtrain_steps": None})
    assert midtrain_steps(cfg, 150, 0, 0.35) == (150, False)
    assert midtrain_steps(cfg, 150, 1000, 0.35) == (150, False)  # never fewer than the preset's
    assert midtrain_steps(cfg, 150, 100000, 0.35) == (7143, False)
    assert midtrain_steps(OmegaConf.merge(cfg, {"max_midtrain_steps": 2000}), 150, 100000, 0.35) == (2000, True)
    assert midtrain_steps(OmegaConf.merge(cfg, {"budget": "steps"}), 150, 100000, 0.35) == (150, False)


def test_structures_per_step_null_is_the_amount_0_midtrainings_measured_figure(tmp_path):
    from omegaconf import OmegaConf

    from mpa_dist.tune.scaling import midtrain_steps, structures_per_step

    cfg = OmegaConf.create({"budget": "epochs", "dft_epochs": 1.0, "structures_per_step": None,
                            "max_midtrain_steps": None})
    first = tmp_path / "midtrain-dft_0"
    with pytest.raises(ValueError, match="result.json, which does not exist.*put 0 first in amounts"):
        structures_per_step(cfg, first)
    first.mkdir()
    (first / "result.json").write_text(json.dumps({"speed": {"graphs_per_s": 10.0}}))
    with pytest.raises(ValueError, match="has no speed.graphs_per_step"):
        structures_per_step(cfg, first)
    (first / "result.json").write_text(json.dumps({"speed": {"graphs_per_step": 200.0}}))
    assert structures_per_step(cfg, first) == 200.0
    assert structures_per_step(OmegaConf.merge(cfg, {"structures_per_step": 45}), first) == 45.0
    assert midtrain_steps(cfg, 150, 100000, 0.5, per_step=200.0) == (1000, False)


def _study(*overrides):
    from mpa_dist.tune.scaling import compose

    return compose("scaling", list(overrides))


def _posttrain(study, tmp_path):
    from mpa_dist.tune.scaling import compose, posttrain_overrides

    arms = {"direct": str(tmp_path / "pre"), "dft_0": str(tmp_path / "mid0"), "dft_1000": str(tmp_path / "mid1")}
    overrides = posttrain_overrides(study, arms, tmp_path / "sweep", tmp_path / "posttrain")
    return compose("posttrain", overrides), arms


@pytest.mark.parametrize("study", ["demo", "gpu"])
def test_the_study_post_trains_as_the_main_report_does(study, tmp_path):
    """The study's sweep is the sweep preset's, read from its config: the same tasks and space of
    configurations (the readout chosen on validation), the preset's seeds among the study's."""
    from omegaconf import OmegaConf

    from mpa_dist.tune.scaling import compose

    cfg = _study(f"study={study}")
    post, arms = _posttrain(cfg, tmp_path)
    preset = compose("posttrain", [f"experiment={cfg.preset}", f"sweep={cfg.sweep_config}"]).sweep
    space = OmegaConf.to_container(post.sweep.space)
    assert space == OmegaConf.to_container(preset.space)
    assert list(post.sweep.tasks) == list(preset.tasks) and post.sweep.num_samples == preset.num_samples
    assert set(preset.seeds) <= set(post.sweep.seeds)
    assert OmegaConf.to_container(post.sweep.arms) == arms  # the study's arms, not the preset's
    assert str(post.sweep.out) == str(tmp_path / "sweep")
    if study == "demo":  # what the README's main run chooses between: the catalogue's readout and hybrid
        assert space["finetune.readout"] == {"grid": [None, "hybrid"]} and space["finetune.strategy"] == {"grid": ["lp"]}
        assert list(post.sweep.seeds) == [0, 1, 2]


def test_the_study_seeds_default_to_the_sweeps_and_sweep_overrides_come_last(tmp_path):
    cfg = _study("preset=smoke", "seeds=[1,2]", "sweep_overrides=['sweep.seeds=[4]','sweep.num_samples=2']")
    post, _ = _posttrain(cfg, tmp_path)
    assert list(post.sweep.seeds) == [4] and post.sweep.num_samples == 2
    post, _ = _posttrain(_study("preset=smoke", "seeds=null"), tmp_path)
    assert list(post.sweep.seeds) == [0]  # configs/sweep/smoke.yaml's own


@pytest.mark.slow  # a subprocess: the command's own --cfg job
def test_the_study_composes_the_midtraining_config_as_its_command_does():
    """Hydra's compose API, in place of the command's printed `--cfg job`: the same config."""
    import subprocess
    import sys

    from omegaconf import OmegaConf

    from mpa_dist.tune.scaling import common_overrides, compose

    common = common_overrides(_study("study=demo", "overrides=['data.shards_root=/somewhere']"))
    assert common == ["experiment=demo", "name=scaling", "data.shards_root=/somewhere"]
    printed = subprocess.run([sys.executable, "-m", "mpa_dist", "midtrain", *common, "--cfg", "job"], check=True,
                             capture_output=True, text=True).stdout
    assert OmegaConf.to_container(compose("midtrain", common)) == OmegaConf.to_container(OmegaConf.create(printed))


def test_score_entries_keeps_every_model_arms_errors_per_entry(tmp_path):
    import numpy as np

    from mpa_dist.tune.scaling import score_entries

    pd.DataFrame({"task": ["a", "a", "a", "b"], "split": "random", "seed": [0, 0, 0, 1],
                  "arm": ["direct", "dft_0", "rf", "direct"], "mae": [1.0, 2.0, 3.0, 4.0],
                  "model": ["best/a-direct-random-s0/model", "best/a-dft_0-random-s0/model", None,
                            "best/b-direct-random-s1/model"]}).to_csv(tmp_path / "results.csv", index=False)
    calls = []

    def score(path, base, task, scheme):
        calls.append((path, task, scheme))
        if task == "b":  # several values per entry: nothing to pair
            return {"keys": np.array(["x"]), "y": np.zeros(2), "p": np.ones(2), "classification": False}
        return {"keys": np.array(["0001", "k2"], dtype=object), "y": np.array([1.0, 2.0]), "p": np.array([1.5, 1.0]),
                "classification": False}

    got = score_entries(tmp_path, {"base": 1}, score=score)
    assert [c[0] for c in calls] == [str(tmp_path / "best" / f"{n}/model") for n in
                                     ("a-direct-random-s0", "a-dft_0-random-s0", "b-direct-random-s1")]
    assert list(got.columns) == ["task", "split", "arm", "seed", "key", "y", "p"]
    assert got["arm"].tolist() == ["direct", "direct", "dft_0", "dft_0"] and got["key"].tolist()[:2] == ["0001", "k2"]


@pytest.mark.slow  # ~3 s, but it writes the smoke shards of three first-principles sources on first use
def test_the_study_at_smoke_size_budgets_launches_and_reports_each_amount(tmp_path, monkeypatch):
    """CI's scaling check (the end-to-end study is heavy): run_scaling on the smoke preset and its real shards,
    with the phases' commands recorded instead of run. The amount-0 mid-training runs first with the preset's
    steps and its measured structures per step sets the others' budget; each amount's mid-training gets its
    first-principles limit; the sweep gets one arm per amount beside direct fine-tuning; the report is written
    from the sweep's results (here synthetic: the trained models are the heavy test's)."""
    import math
    from pathlib import Path

    import numpy as np

    from mpa_dist.train import plan
    from mpa_dist.tune import scaling

    out, pre = tmp_path / "scaling", tmp_path / "pretrain" / "model"
    cfg = _study("preset=smoke", "name=scaling_ci", f"out={out}", "amounts=[0,300]", "structures_per_step=null",
                 f"pretrained={pre}", f"overrides=['data.shards_root={ROOT / 'shards' / 'test'}']", "seeds=[1]")
    monkeypatch.setattr(scaling.checkpoint, "exists", lambda path: str(path) == str(pre))  # only the pre-trained
    tasks, arms = ("boiling_point", "expt_gap"), ("direct", "dft_0", "dft_300")
    mae = {"direct": 1.0, "dft_0": 0.9, "dft_300": 0.5, "dummy": 3.0, "rf": 1.2}  # x the task's scale
    launched = []

    def run(script, *overrides):
        launched.append((script, list(overrides)))
        kv = dict(o.split("=", 1) for o in overrides if "=" in o)
        if script == "midtrain.py" and kv["run_dir"].endswith("dft_0"):
            (tmp_path / "midtrain-dft_0").mkdir()
            (tmp_path / "midtrain-dft_0" / "result.json").write_text(json.dumps({"speed": {"graphs_per_step": 40.0}}))
        if script == "posttrain.py":  # the sweep's results.csv: every arm of the study and the baselines
            sweep = Path(kv["sweep.out"])
            sweep.mkdir(parents=True)
            pd.DataFrame([{"task": t, "split": "random", "seed": 1, "arm": a, "mae": m * s, "accuracy": np.nan,
                           "n_test": 30, "unit": "u", "exposed": 0 if a in arms else np.nan,
                           "model": f"best/{t}-{a}-random-s1/model" if a in arms else ""}
                          for t, s in zip(tasks, (10.0, 0.1)) for a, m in mae.items()]).to_csv(sweep / "results.csv",
                                                                                               index=False)

    def entries(sweep_out, base, workers=None):  # the selected models' test errors, entry by entry
        rng = np.random.default_rng(0)
        rows = []
        for t in tasks:
            y, err = rng.normal(size=30), np.abs(rng.normal(size=30)) + 0.1
            rows += [{"task": t, "split": "random", "arm": a, "seed": 1, "key": f"{t}/{i}", "y": y[i],
                      "p": y[i] + mae[a] * err[i]} for a in arms for i in range(30)]
        return pd.DataFrame(rows)

    monkeypatch.setattr(scaling, "_launch", run)
    monkeypatch.setattr(scaling, "score_entries", entries)
    scaling.run_scaling(cfg)
    assert [s for s, _ in launched] == ["midtrain.py", "midtrain.py", "posttrain.py"]  # pre-trained already
    (_, mid0), (_, mid300), (_, post) = launched
    common = ["experiment=smoke", "name=scaling_ci", f"data.shards_root={ROOT / 'shards' / 'test'}", f"init_from={pre}"]
    assert mid0 == common + [f"run_dir={tmp_path / 'midtrain-dft_0'}", "data.dft_sources={}",
                             "data.dft_share=[0.0,0.0]", "steps=12"]
    # 300 structures of each source asked for: mid-training draws from their training splits, seen once at the
    # mean first-principles share of 40 structures a step (the amount-0 run's), never below the preset's 12 steps
    data = scaling.compose("midtrain", common[:3]).data
    n = {s: plan.manifest(plan.shard_dir(str(ROOT / "shards" / "test"), s, "random", 300, 1))["splits"]["train"]
         ["num_written"] for s in ("qm9", "oqmd_formation_enthalpy", "mp_gap")}
    share = sum(data.dft_share) / 2
    steps = max(12, math.ceil(sum(n.values()) / (40.0 * share)))
    assert steps > 12 and mid300 == common + [f"run_dir={tmp_path / 'midtrain-dft_300'}", "size.qm9=300",
                                              "size.composition_dft=300", f"steps={steps}"]
    budgets = json.loads((out / "budgets.json").read_text())
    assert budgets["dft_0"]["dft_structures"] == 0 and budgets["dft_0"]["midtrain_steps"] == 12
    b = budgets["dft_300"]
    assert b["dft_structures"] == sum(n.values()) and b["molecule_structures"] == n["qm9"]
    assert b["midtrain_steps"] == steps and b["structures_per_step"] == 40.0 and not b["capped"]
    arms_override = (f"+sweep.arms={{direct:'{pre}',dft_0:'{tmp_path / 'midtrain-dft_0' / 'model'}',"
                     f"dft_300:'{tmp_path / 'midtrain-dft_300' / 'model'}'}}")
    assert arms_override in post and "sweep=smoke" in post and "sweep.seeds=[1]" in post
    assert f"sweep.out={out / 'sweep'}" in post
    table = pd.read_csv(out / "scaling.csv").set_index("arm")
    assert list(table.index) == ["dft_0", "dft_300"] and (table["tasks"] == 2).all() and (table["seeds"] == 1).all()
    assert table.loc["dft_300", "mean_relative_mae"] == pytest.approx(0.5)
    assert table.loc["dft_0", "mean_relative_mae"] == pytest.approx(0.9)
    assert (table["vs_direct_interval_over"] == "entries").all()  # paired on the entries
    md = (out / "scaling.md").read_text()
    assert "budget mode **epochs**" in md and "Mid-training budgets" in md and "Trend from 0 to 300" in md
    assert "molecule tasks" in md and "composition tasks" in md and "**0** evaluation compounds" in md
    assert (out / "scaling.png").stat().st_size > 5000
