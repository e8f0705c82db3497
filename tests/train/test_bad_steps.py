"""A non-finite loss skips the step (counted), and too many in a row stop the run with a checkpoint."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

import mpa_dist.train.resolvers  # noqa: F401
from launching import ROOT, smoke
from mpa_dist.train import plan, trainer as trainer_mod


def _trainer(tmp, *extra):
    with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("pretrain", overrides=smoke(tmp, "pretrain", *extra))
    plan.prepare_shards(cfg)  # the shards step, as run_phase does before the trainer
    return trainer_mod.Trainer(cfg)


def _poison(monkeypatch, bad_calls):
    real, calls = trainer_mod.output_losses, {"n": 0}

    def poisoned(*a, **k):
        loss, parts = real(*a, **k)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] in bad_calls else loss), parts

    monkeypatch.setattr(trainer_mod, "output_losses", poisoned)


@pytest.mark.slow
def test_nan_steps_are_skipped_and_counted(tmp_path, monkeypatch):
    _poison(monkeypatch, {3, 4})
    t = _trainer(tmp_path, "steps=8", "max_bad_steps=3")
    before = {k: v.clone() for k, v in t.engine.module.state_dict().items()}
    t.train()
    assert t.step == 8 and t.bad_total == 2
    after = t.engine.module.state_dict()
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.slow
def test_too_many_bad_steps_stop_with_a_checkpoint(tmp_path, monkeypatch):
    _poison(monkeypatch, set(range(3, 100)))
    t = _trainer(tmp_path, "steps=8", "max_bad_steps=3")
    with pytest.raises(trainer_mod.BadLossError, match="3 non-finite losses in a row at step 2"):
        t.train()
    assert (Path(t.run_dir) / "checkpoints" / "latest").read_text().strip() == "step000000002"
