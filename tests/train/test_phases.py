"""Each phase end to end as `python` (experiment=smoke), chained through their exports."""

import json

import pytest
from safetensors.torch import load_file

from launching import launch, result, smoke


@pytest.mark.slow
def test_three_phases_chain_and_report(pretrained):
    tmp = pretrained
    pre = result(tmp / "pretrain")
    assert pre["step"] == 12 and any(k.startswith("mae/u0@qm9") for k in pre["val"])
    assert (tmp / "pretrain" / "config.yaml").exists() and (tmp / "pretrain" / "tensorboard").is_dir()
    launch("midtrain.py", *smoke(tmp, "midtrain", f"init_from={tmp / 'pretrain' / 'model'}"))
    mid = result(tmp / "midtrain")
    assert "mae/boiling_point@boiling_point" in mid["val"] and "mae/expt_gap@expt_gap" in mid["val"]
    meta = json.loads((tmp / "midtrain" / "model.json").read_text())
    # the pre-trained backbone and heads carried over, new sources appended to the vocabulary
    assert meta["source_vocab"]["qm9"] == json.loads((tmp / "pretrain" / "model.json").read_text())["source_vocab"]["qm9"]
    assert {"boiling_point", "expt_gap", "oqmd_formation_enthalpy"} <= set(meta["source_vocab"])
    out = tmp / "results.jsonl"
    launch("posttrain.py", *smoke(tmp, "posttrain", f"init_from={tmp / 'midtrain' / 'model'}",
                                  "finetune.task=boiling_point", f"finetune.results={out}"))
    row = json.loads(out.read_text().splitlines()[0])
    assert row["task"] == "boiling_point" and row["unit"] == "K"
    assert row["test"]["count/boiling_point"] > 0 and row["test"]["mae/boiling_point"] > 0
    state = load_file(str(tmp / "posttrain" / "model.safetensors"))  # no pickle involved
    assert any(k.startswith("heads.boiling_point.") for k in state)


def test_misspelt_key_is_an_error(tmp_path):
    p = launch("pretrain.py", *smoke(tmp_path, "pretrain", "optim.lrr=1"), check=False)
    assert p.returncode != 0 and "lrr" in p.stderr


@pytest.mark.slow
def test_midtrained_on_one_split_scheme_refuses_another(pretrained, tmp_path):
    tmp = pretrained
    if not (tmp / "midtrain" / "model.json").exists():
        launch("midtrain.py", *smoke(tmp, "midtrain", f"init_from={tmp / 'pretrain' / 'model'}"))
    p = launch("posttrain.py", *smoke(tmp_path, "posttrain", f"init_from={tmp / 'midtrain' / 'model'}",
                                      "finetune.task=expt_gap", "data.scheme=ood"), check=False)
    assert p.returncode != 0 and "would leak" in p.stderr
