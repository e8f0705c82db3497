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
