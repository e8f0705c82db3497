"""Which run folders a run may resume, and which parents it may start from: config checks only."""

import pytest
from omegaconf import OmegaConf

from mpa_dist.train.lineage import check_parent, config_differences


def test_only_keys_that_may_change_on_a_resume_are_ignored():
    saved = {"model": {"channels": 16}, "steps": 100, "progress": True, "optim": {"lr": 1e-3}, "cluster": {"threads": 2}}
    now = {"model": {"channels": 8}, "steps": 200, "progress": False, "optim": {"lr": 1e-3}, "cluster": {"threads": 1}}
    assert config_differences(saved, now) == ["model.channels: 16 -> 8"]
    assert config_differences(saved, saved) == []
    assert config_differences(saved, {**saved, "seed": 1}) == ["seed: '<absent>' -> 1"]


def _cfg(scheme="random", privileged=False):
    return OmegaConf.create({"init_from": "parent/model", "data": {"scheme": scheme, "privileged": privileged}})


def _meta(**kw):
    from mpa_dist.train.checkpoint import ExportMeta

    return ExportMeta(model={"cutoff": 5.0}, heads=[], source_vocab={}, **kw)


def test_a_parent_that_kept_this_schemes_evaluation_compounds_is_refused():
    check_parent(_cfg("ood"), _meta(phase="pretrain", eval_schemes=["random", "ood"]))
    with pytest.raises(ValueError, match="fold0"):
        check_parent(_cfg("fold0"), _meta(phase="pretrain", eval_schemes=["random", "ood"]))
    with pytest.raises(ValueError, match="would leak"):
        check_parent(_cfg("ood"), _meta(phase="midtrain", split_scheme="random", eval_schemes=["random", "ood"]))
    with pytest.raises(ValueError, match="privileged"):
        check_parent(_cfg(), _meta(phase="pretrain", eval_schemes=["random"], privileged=True))
    check_parent(_cfg(privileged=True), _meta(phase="pretrain", eval_schemes=["random"], privileged=True))


def test_a_user_files_run_folder_is_named_by_its_stem():
    from mpa_dist.train.resolvers import task_name

    assert task_name("boiling_point") == "boiling_point"
    assert task_name("/data/mine/boiling_points.csv") == "boiling_points"
    assert task_name("cells.extxyz") == "cells"


def _run_folder(tmp_path, cfg, parent_sha):
    """A run folder as a trainer leaves it: its config, parent.json and a checkpoint."""
    from mpa_dist.train.checkpoint import CKPT_DIR
    from mpa_dist.train.lineage import write_parent

    (tmp_path / CKPT_DIR).mkdir(parents=True)
    (tmp_path / CKPT_DIR / "latest").write_text("step000000010")
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    write_parent(tmp_path, None if parent_sha is None else {"path": "/p/model", "sha256": parent_sha, "lineage": []})
    return tmp_path


def test_a_resume_from_other_starting_weights_is_refused_in_one_line(tmp_path):
    """The same config, but init_from's weights changed since the checkpoint was written (parent.json's sha256):
    resuming would mix two starting points, so the run is refused with the reason."""
    from mpa_dist.train.lineage import check_resumable

    cfg = OmegaConf.create({"init_from": "/p/model", "model": {"channels": 16}, "steps": 100})
    was, now = "a" * 64, "b" * 64
    run = _run_folder(tmp_path, cfg, was)
    check_resumable(run, cfg, {"sha256": was})  # the same weights: resumed
    with pytest.raises(ValueError) as e:
        check_resumable(run, cfg, {"sha256": now})
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{run} holds a checkpoint of another run (")
    assert f"init_from weights (sha256): {'a' * 12} -> {'b' * 12}" in msg and "delete" in msg
    with pytest.raises(ValueError) as e:  # with a changed config too: still one line, every reason in it
        check_resumable(run, OmegaConf.merge(cfg, {"model": {"channels": 8}}), {"sha256": now})
    assert "\n" not in str(e.value)
    assert f"(model.channels: 16 -> 8; init_from weights (sha256): {'a' * 12} -> {'b' * 12})" in str(e.value)
    with pytest.raises(ValueError, match=r"init_from weights \(sha256\): a{12} -> None"):
        check_resumable(run, cfg, None)  # from scratch where the checkpoint started from weights
    scratch = _run_folder(tmp_path / "scratch", cfg, None)
    check_resumable(scratch, cfg, None)
    with pytest.raises(ValueError, match=r"init_from weights \(sha256\): None -> b{12}"):
        check_resumable(scratch, cfg, {"sha256": now})
    check_resumable(tmp_path / "fresh", cfg, {"sha256": now})  # no checkpoint: nothing to refuse
