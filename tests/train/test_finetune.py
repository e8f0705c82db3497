"""Post-training strategies: frozen backbone, layer-wise decay, LoRA (merged into the export)."""

import json

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


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["lora", "frozen", "llrd"])
def test_strategies_post_train_and_export_a_plain_model(pretrained, strategy):
    tmp = pretrained
    launch("posttrain.py", *smoke(tmp, f"post_{strategy}", f"init_from={tmp / 'pretrain' / 'model'}",
                                  "finetune.task=expt_gap", f"finetune={strategy}", "finetune.task=expt_gap"))
    r = result(tmp / f"post_{strategy}")
    assert r["strategy"] == strategy and r["test"]["count/expt_gap"] > 0
    meta = json.loads((tmp / f"post_{strategy}" / "model.json").read_text())
    from safetensors.torch import load_file

    state = load_file(str(tmp / f"post_{strategy}" / "model.safetensors"))
    assert not any("lora_" in k for k in state)
    build_model(meta["model"], meta["heads"]).load_state_dict(state)  # strict: a plain model


def test_lora_merge_gives_the_same_predictions(qm9_records):
    from mpa_dist.data.batch import collate_records
    from mpa_dist.train.trainer import _merge_lora

    torch.manual_seed(0)
    m = finetune.add_lora(build_model(TINY, [{"name": "y", "readout": "mean"}]), rank=4, alpha=8.0)
    for n, p in m.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.1)  # a trained adapter, not the zero init
    b = collate_records(qm9_records[:8], cutoff=TINY["cutoff"])
    plain = build_model(TINY, [{"name": "y", "readout": "mean"}])
    plain.load_state_dict(_merge_lora(m))
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
