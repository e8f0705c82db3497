"""Post-training strategies: frozen backbone, layer-wise decay, LoRA (merged into the export)."""

import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from launching import launch, result, smoke
from mpa_dist.model import build_model
from mpa_dist.train import finetune, schedule

TINY = OmegaConf.to_container(OmegaConf.load("configs/model/tiny.yaml"))
OPT = OmegaConf.create({"lr": 1e-3, "warmup_steps": 0, "schedule": "constant", "min_lr_ratio": 0.0})


def _ft(strategy, **kw):
    return OmegaConf.create({"strategy": strategy, "unfreeze_at": 0.5, "llrd": 0.5, "lora_rank": 4,
                             "lora_alpha": 8.0, **kw})


def test_frozen_backbone_gets_its_lr_at_unfreeze():
    m = build_model(TINY, [{"name": "y", "readout": "mean"}])
    opt = torch.optim.AdamW(finetune.param_groups(m, _ft("frozen"), 1e-3, 0.0, steps=100))
    schedule.apply(opt, 10, 100, OPT)
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert lrs == {"heads": 1e-3, "backbone": 0.0}
    schedule.apply(opt, 50, 100, OPT)
    assert {g["name"]: g["lr"] for g in opt.param_groups}["backbone"] == 1e-3


def test_llrd_decays_from_the_top_layer_down():
    m = build_model(TINY, [{"name": "y", "readout": "mean"}])
    groups = finetune.param_groups(m, _ft("llrd"), 1e-3, 0.0, steps=10)
    lr = {g["name"]: g["base_lr"] for g in groups}
    n = len(m.backbone.layers)
    assert lr[f"layer{n - 1}"] == 1e-3 and lr["layer0"] == pytest.approx(1e-3 * 0.5 ** (n - 1))
    assert lr["embedding"] == pytest.approx(1e-3 * 0.5 ** n)
    assert sum(len(g["params"]) for g in groups) == len(list(m.parameters()))


@pytest.fixture(scope="module")
def post_trained(pretrained):
    """post_trained(strategy) -> the output of that strategy's post-training of the smoke chain, run on
    first use (so LP-FT's test, which compares with LP, runs in any order and alone)."""
    outputs = {}

    def run(strategy: str) -> str:
        if strategy not in outputs:
            init = f"init_from={pretrained / 'pretrain' / 'model'}"
            overrides = smoke(pretrained, f"post_{strategy}", init, "finetune.task=expt_gap", f"finetune={strategy}",
                              "finetune.epochs=2")
            outputs[strategy] = launch("posttrain.py", *overrides).stdout
        return outputs[strategy]

    return run


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["lora", "frozen", "llrd", "lp", "lp_ft"])
def test_strategies_post_train_and_export_a_plain_model(pretrained, post_trained, strategy):
    from safetensors.torch import load_file

    tmp = pretrained
    stdout = post_trained(strategy)
    r = result(tmp / f"post_{strategy}")
    assert r["strategy"] == strategy and r["test"]["count/expt_gap"] > 0
    meta = json.loads((tmp / f"post_{strategy}" / "model.json").read_text())
    best = load_file(str(tmp / f"post_{strategy}" / "best.safetensors"))
    state = load_file(str(tmp / f"post_{strategy}" / "model.safetensors"))
    assert not any("lora_" in k for k in state)
    build_model(meta["model"], meta["heads"]).load_state_dict(state)  # strict: a plain model
    if strategy.startswith("lp"):
        pre = load_file(str(tmp / "pretrain" / "model.safetensors"))
        assert "lp: head fitted on cached features" in stdout
        if strategy == "lp":  # the backbone is the pre-trained one, untouched; only the head trained
            assert r["step"] == 0 and all(torch.equal(best[k], pre[k]) for k in best if k.startswith("backbone."))
        else:  # LP-FT: fine-tuned from the fitted head for 2 epochs, the better of the two kept
            post_trained("lp")
            lp = result(tmp / "post_lp")
            assert r["step"] > 0 and r["best_val_score"] <= lp["best_val_score"] + 1e-9


def test_cached_features_are_reused_and_feed_the_same_head(qm9_records, tmp_path, monkeypatch):
    """The frozen backbone runs once per (checkpoint, shards); the cache gives back the very batches."""
    from mpa_dist.data.batch import collate_records
    from mpa_dist.train import probe

    monkeypatch.setenv("MPA_CACHE", str(tmp_path))
    monkeypatch.setattr(probe, "cache_key", lambda *a: "k")
    m = build_model(TINY, [{"name": "gap", "readout": "attention"}]).eval()
    batches = [collate_records(qm9_records[i:i + 8], cutoff=TINY["cutoff"]) for i in (0, 8)]
    calls = []
    loader_of = lambda split: calls.append(split) or batches
    first = probe.cached_features(m.backbone, loader_of, "sha", [], "train", 5.0)
    again = probe.cached_features(m.backbone, loader_of, "sha", [], "train", 5.0)
    assert calls == ["train"] and (tmp_path / "features" / "k.safetensors").exists()
    heads = probe.HeadsOnFeatures(m)
    with torch.no_grad():
        for b, a, c in zip(batches, first, again):
            torch.testing.assert_close(heads(a)["gap"], m(b)["gap"], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(heads(c)["gap"], heads(a)["gap"])
            assert c.keys == b.keys and torch.equal(c.labels["gap"], b.labels["gap"])
        # joined into one batch for head fitting, the same predictions graph for graph
        (joined,) = probe.merge(first, max_graphs=64)
        torch.testing.assert_close(heads(joined)["gap"], torch.cat([heads(a)["gap"] for a in first]))
        assert joined.keys == first[0].keys + first[1].keys and len(probe.merge(first, max_graphs=8)) == 2


def test_every_layers_features_are_cached_apart_and_feed_a_wider_head(qm9_records, tmp_path, monkeypatch):
    """finetune.readout_layers=all: the heads read every layer's features, so its cache entry is not the
    last layer's (a run never reads the other's features), and a head on them predicts as the model does."""
    from mpa_dist.data.batch import collate_records
    from mpa_dist.train import probe

    monkeypatch.setenv("MPA_CACHE", str(tmp_path))
    keys = {r: probe.cache_key("sha", [], "train", 5.0, r) for r in ("last", "all")}
    assert keys["last"] == probe.cache_key("sha", [], "train", 5.0) and keys["all"] != keys["last"]
    torch.manual_seed(0)
    m = build_model({**TINY, "readout_layers": "all"}, [{"name": "gap", "readout": "hybrid"}]).eval()
    batches = [collate_records(qm9_records[:8], cutoff=TINY["cutoff"])]
    (f,) = probe.cached_features(m.backbone, lambda split: batches, "sha", [], "train", 5.0, readout_layers="all")
    assert (tmp_path / "features" / f"{keys['all']}.safetensors").exists()
    assert f.features.shape[-1] == len(m.backbone.layers) * m.backbone.hidden.dim
    with torch.no_grad():
        torch.testing.assert_close(probe.HeadsOnFeatures(m)(f)["gap"], m(batches[0])["gap"], rtol=1e-5, atol=1e-5)


def test_post_training_sets_the_heads_layers_and_leaves_the_checkpoints_otherwise():
    from mpa_dist.train.phases import phase_of

    post = lambda layers: OmegaConf.create({"phase": "posttrain", "finetune": {"readout_layers": layers}})
    assert phase_of(post("all")).model_config(TINY) == {**TINY, "readout_layers": "all"}
    assert phase_of(post(None)).model_config(TINY) == TINY
    pre = OmegaConf.create({"phase": "pretrain", "finetune": {"readout_layers": "all"}})
    assert phase_of(pre).model_config(TINY) == TINY  # a finetune key never reshapes pre-training's model


def test_lora_merge_gives_the_same_predictions(qm9_records):
    from mpa_dist.data.batch import collate_records
    from mpa_dist.train.finetune import merge_lora

    torch.manual_seed(0)
    m = finetune.add_lora(build_model(TINY, [{"name": "y", "readout": "mean"}]), rank=4, alpha=8.0)
    for n, p in m.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.1)  # a trained adapter, not the zero init
    b = collate_records(qm9_records[:8], cutoff=TINY["cutoff"])
    plain = build_model(TINY, [{"name": "y", "readout": "mean"}])
    plain.load_state_dict(merge_lora(m))
    m.eval(), plain.eval()
    torch.testing.assert_close(plain(b)["y"], m(b)["y"], rtol=1e-5, atol=1e-5)
    assert sum(p.requires_grad for n, p in m.backbone.named_parameters() if "lora_" not in n) == 0


@pytest.mark.slow
def test_posttraining_head_carries_over_the_midtrained_head(midtrained, tmp_path):
    """finetune.head=carry starts the task's head from mid-training's head for the same task;
    fresh (and direct fine-tuning, whose checkpoint has no such head) starts a new one."""
    from safetensors.torch import load_file

    mid = load_file(str(midtrained / "midtrain" / "model.safetensors"))
    runs = {}
    for head in ("carry", "fresh"):
        launch("posttrain.py", *smoke(tmp_path, head, f"init_from={midtrained / 'midtrain' / 'model'}",
                                      "finetune.task=expt_gap", "steps=0", f"finetune.head={head}"))
        runs[head] = load_file(str(tmp_path / head / "model.safetensors"))
    src = {k.replace("heads.expt_gap@expt_gap.", "heads.expt_gap."): v for k, v in mid.items()
           if k.startswith("heads.expt_gap@expt_gap.")}
    assert src and all(torch.equal(runs["carry"][k], v) for k, v in src.items())
    assert not all(torch.equal(runs["fresh"][k], v) for k, v in src.items() if k.endswith("weight"))


def test_lp_fits_each_member_of_an_ensemble_on_its_own(qm9_records):
    """lp with finetune.ensemble=K: K heads fitted one by one on the same cached features, each with its
    own order and early stopping: each member ends better on validation than it started, and the score
    the fit returns is the validation MAE of the members' averaged predictions."""
    from mpa_dist.data.batch import collate_records
    from mpa_dist.train import probe
    from mpa_dist.train.evaluate import evaluate
    from mpa_dist.train.trainer import Trainer

    torch.manual_seed(0)
    m = build_model(TINY, [{"name": "gap", "readout": "attention", "ensemble": 3}])
    ens = m.heads["gap"]
    batches = [collate_records(qm9_records[i:i + 16], cutoff=TINY["cutoff"]) for i in range(0, 240, 16)]
    feats = probe._compute(m.backbone, batches)
    train, val = feats[:12], feats[12:]
    y = torch.cat([b.labels["gap"] for b in train])
    ens.norm.fit(y.double())
    start = {k: v.clone() for k, v in ens.state_dict().items()}
    heads = probe.HeadsOnFeatures(m)
    mae = lambda: Trainer.score(evaluate(heads, val, torch.device("cpu"), torch.float32, {}, {}))
    before = []
    for k in range(3):
        ens.active = k
        before.append(mae())
    ens.active = None
    ft = OmegaConf.create({"lp_batch_graphs": 64, "lp_lr": 3e-3, "lp_epochs": 15, "lp_patience": 5})
    loss = OmegaConf.create({"type": "huber", "delta": 1.0})
    score, epochs = probe.fit_head(m, train, val, {}, {}, ft, loss, 0.0, 0, Trainer.score)
    members, preds = [], []
    for k in range(3):
        ens.active = k
        members.append(mae())
        got = {}  # the member's predictions, entry by entry, in the label's units
        evaluate(heads, val, torch.device("cpu"), torch.float32, {}, {}, collect=got)
        preds.append(np.concatenate([p for _, p, _ in got["gap"]]))
        y = np.concatenate([y for y, _, _ in got["gap"]])
        own = {n: p for n, p in ens.state_dict().items() if n.startswith(f"members.{k}.")}
        assert any(not torch.equal(p, start[n]) for n, p in own.items())  # every member was fitted ...
        assert members[k] < 0.9 * before[k], (k, before, members)  # ... and learned on its own
    ens.active = None
    averaged = float(np.abs(np.mean(preds, axis=0) - y).mean())  # the ensemble by hand: the members' mean
    assert len(set(members)) == 3  # their own initialisation and order
    assert score == pytest.approx(mae()) and score == pytest.approx(averaged, rel=1e-5)
    assert 3 <= epochs <= 45


def test_an_ensemble_head_carries_the_midtrained_head_into_every_member():
    from mpa_dist.train.phases import _carry_head

    torch.manual_seed(0)
    mid_spec = {"name": "gap@expt_gap", "readout": "mean"}
    mid = build_model(TINY, [mid_spec])
    mid.heads["gap@expt_gap"].norm.fit(torch.rand(50, dtype=torch.float64) * 4)
    spec = {"name": "gap", "readout": "mean", "ensemble": 2}
    post = build_model(TINY, [spec])
    keys = _carry_head(post, mid.state_dict(), [mid_spec], spec, "expt_gap")
    src = {k.removeprefix("heads.gap@expt_gap."): v for k, v in mid.state_dict().items() if k.startswith("heads.gap@")}
    own = post.state_dict()
    assert len(keys) == 2 * len([k for k in src if not k.startswith("norm.")]) + len([k for k in src if k.startswith("norm.")])
    for k, v in src.items():
        dst = [f"heads.gap.{k}"] if k.startswith("norm.") else [f"heads.gap.members.{i}.{k}" for i in range(2)]
        assert all(torch.equal(own[d], v) for d in dst)
    assert _carry_head(post, mid.state_dict(), [{**mid_spec, "readout": "attention"}], spec, "expt_gap") == []


def test_an_ensemble_of_no_heads_is_refused():
    from mpa_dist.train.schema import validate

    with pytest.raises(ValueError, match="finetune.ensemble must be >= 1"):
        validate(OmegaConf.create({"phase": "posttrain", "finetune": {"ensemble": 0}}))
    assert validate(OmegaConf.create({"phase": "posttrain", "finetune": {"ensemble": 3}})).finetune.ensemble == 3


@pytest.mark.slow
def test_max_seconds_stops_a_post_training_at_its_deadline_with_its_best_kept(tmp_path):
    """finetune.max_seconds: past the deadline the run validates once, keeps the best so far and stops, where
    500 steps with their first validation at step 500 were asked for."""
    from hydra import compose, initialize_config_dir

    import mpa_dist.train.resolvers  # noqa: F401
    from launching import ROOT
    from mpa_dist.train import checkpoint
    from mpa_dist.train.run import run_phase

    overrides = smoke(tmp_path, "posttrain", "init_from=null", "finetune.task=expt_gap", "steps=500",
                      "eval_every=500", "ckpt_every=500", "finetune.max_seconds=0.001", "finetune.test=false")
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("posttrain", overrides=overrides)
    evals = []
    r = run_phase(cfg, on_eval=lambda step, val, score, best: evals.append((step, score, best)))
    assert r["step"] == 1 and [e[0] for e in evals] == [1]  # the first step already ran past 1 ms
    assert evals[0][2] == evals[0][1] < float("inf") and r["best_val_score"] == evals[0][2]
    assert checkpoint.exists(tmp_path / "posttrain" / "best") and checkpoint.exists(tmp_path / "posttrain" / "model")
