"""Each phase end to end as `python` (experiment=smoke), chained through their exports."""

import json
import shutil
import uuid
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from safetensors.torch import load_file

from launching import ROOT, launch, result, smoke
from mpa_dist.report.audit import audit, audit_export
from mpa_dist.train import plan
from mpa_dist.train.checkpoint import load_exported


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
    # MPA, then direct fine-tuning under the same name, as a user would type them: two run folders
    # named by task, arm, scheme and seed, two correctly labelled rows, nothing resumed
    out, name = tmp / "results.jsonl", f"pytest-{uuid.uuid4().hex[:8]}"
    common = ["experiment=smoke", f"name={name}", f"data.shards_root={ROOT / 'shards' / 'test'}",
              "finetune.task=boiling_point", f"finetune.results={out}"]
    try:
        mpa = launch("posttrain.py", *common, f"init_from={tmp / 'midtrain' / 'model'}")
        direct = launch("posttrain.py", *common, f"init_from={tmp / 'pretrain' / 'model'}")
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        assert [r["arm"] for r in rows] == ["mpa", "direct"]
        assert [Path(r["run_dir"]).name for r in rows] == ["boiling_point-mpa-random-s0",
                                                           "boiling_point-direct-random-s0"]
        assert rows[0]["test"] != rows[1]["test"] and "resumed" not in direct.stdout + direct.stderr
        for row in rows:
            assert row["task"] == "boiling_point" and row["unit"] == "K"
            assert row["test"]["count/boiling_point"] > 0 and row["test"]["mae/boiling_point"] > 0
        post = Path(rows[0]["run_dir"])
        # the elements each phase trained on: QM9's in pre-training, the task's own in post-training
        chain = json.loads((post / "model.json").read_text())
        phases = {p["phase"]: set(p["elements"]) for p in chain["lineage"]}
        assert {1, 6, 7, 8, 9} <= phases["pretrain"] and phases["posttrain"] <= phases["midtrain"] | phases["pretrain"]
        assert set(chain["elements"]) == set.union(*phases.values()) and {1, 6} <= phases["posttrain"]
        state = load_file(str(post / "model.safetensors"))  # no pickle involved
        assert any(k.startswith("heads.boiling_point.") for k in state)
        # the exposure audit of the chain (pre-, mid-, post-training shards): 0 evaluation compounds
        a = audit_export(post / "model")
        assert a["exposed"] == 0 and a["evaluation_compounds"] > 20 and not a["unknown_phases"]
        assert {r["phase"] for r in a["by_source"]} == {"pretrain", "midtrain", "posttrain"}
        assert {"qm9", "boiling_point", "expt_gap"} <= {r["dataset"] for r in a["by_source"]}
        # a planted leak: a phase that trained on boiling_point's ood training split, which holds
        # compounds the random split tests
        _, meta = load_exported(post / "model")
        data = OmegaConf.create({"shards_root": str(ROOT / "shards" / "test"), "scheme": "ood", "conformers": 1,
                                 "shard_workers": 1, "min_shards": 4, "privileged": False,
                                 "eval_schemes": ["random", "ood"]})
        leak = plan.ensure_shards(data, "boiling_point", 300)
        meta.lineage.insert(1, {"phase": "midtrain", "sources": [
            {"dataset": "boiling_point", "path": leak, "kind": "experimental", "labels": ["boiling_point"]}]})
        planted = audit(meta)
        leaked = [r for r in planted["by_source"] if r["exposed"]]
        assert planted["exposed"] > 0 and [(r["phase"], r["dataset"]) for r in leaked] == [("midtrain", "boiling_point")]
        assert leaked[0]["exposed"] == planted["exposed"] and leaked[0]["examples"]
    finally:
        shutil.rmtree(ROOT / "runs" / name, ignore_errors=True)


@pytest.mark.slow  # the session's smoke pre-training, then a launcher run
def test_a_changed_model_is_not_resumed_from_its_folder(pretrained):
    p = launch("pretrain.py", *smoke(pretrained, "pretrain", "model.channels=8"), check=False)
    assert p.returncode != 0
    assert "holds a checkpoint of another run" in p.stderr and "model.channels: 16 -> 8" in p.stderr


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


def test_the_phase_result_reuses_the_validation_of_its_last_step_only():
    """Pre- and mid-training end on the loop's validation pass when it was at the last step (the same
    model and batches); after a resume that trained nothing, or a pass at an earlier step, they run one."""
    from mpa_dist.train.phases import Phase

    class Trainer:
        step, calls = 600, 0

        def evaluate(self, split):
            self.calls += 1
            return {"mae/x": float(self.calls)}

    t = Trainer()
    t.last_val = (600, {"mae/x": 0.5})
    assert Phase(None).end(t) == {"val": {"mae/x": 0.5}} and t.calls == 0
    t.last_val = (400, {"mae/x": 0.5})
    assert Phase(None).end(t) == {"val": {"mae/x": 1.0}} and t.calls == 1
    del t.last_val
    assert Phase(None).end(t) == {"val": {"mae/x": 2.0}} and t.calls == 2
