"""Exports to predict with: small random models written by the production exporter (fast),
and the smoke pre-training (the session fixture `pretrained` of tests/conftest.py, shared with
tests/train)."""

from __future__ import annotations

import logging
import runpy
import sys
from pathlib import Path

import pytest
import torch
import yaml

from mpa_dist.model import build_model
from mpa_dist.train.checkpoint import export

ROOT = Path(__file__).resolve().parents[2]

MAX_Z = 36  # small, so that heavier elements (Cs) test the max_z refusal

MULTI_HEADS = [  # a mid-training-like export: one head per (label, source)
    {"name": "bp@boiling_point", "readout": "attention"},
    {"name": "vp@vapor", "readout": "sum"},
    {"name": "expt_gap@expt_gap", "readout": "mean"},
    {"name": "energy@mlearn", "readout": "energy", "forces": True, "stress": True},
]
TASKS = {
    "bp": {"label": "bp", "unit": "K", "input": "molecule", "transform": "none"},
    "vp": {"label": "vp", "unit": "Pa", "input": "molecule", "transform": "log10"},
    "expt_gap": {"label": "expt_gap", "unit": "eV", "input": "composition", "transform": "none"},
    "energy": {"label": "energy", "unit": "eV", "input": "crystal", "transform": "none"},
}
VOCAB = {"qm9": 1, "boiling_point": 2, "vapor": 3, "expt_gap": 4, "mlearn": 5}


def tiny_config() -> dict:
    cfg = yaml.safe_load((ROOT / "configs" / "model" / "tiny.yaml").read_text())
    return {**cfg, "max_z": MAX_Z}


def write_export(path: Path, heads: list[dict], meta: dict, seed: int = 0) -> Path:
    """A randomly initialised model, its norms set to plausible scales, exported as training does."""
    torch.manual_seed(seed)
    model = build_model(tiny_config(), heads)
    torch.nn.init.normal_(model.backbone.embedding.source.weight)  # zeros at init; trained sources differ
    for h in model.heads.values():
        h.norm.scale.fill_(2.0)
        h.norm.shift.fill_(3.0)
    state = {k: v.detach().float() for k, v in model.state_dict().items()}
    export(state, {"model": tiny_config(), "heads": heads, "source_vocab": VOCAB, "step": 0, **meta}, path)
    return path


@pytest.fixture(scope="session")
def multi_export(tmp_path_factory):
    meta = {"phase": "midtrain", "tasks": TASKS, "transforms": {"vp": "log10"},
            "data": ["boiling_point", "vapor", "expt_gap", "mlearn"]}
    return write_export(tmp_path_factory.mktemp("multi") / "model", MULTI_HEADS, meta)


@pytest.fixture(scope="session")
def ensemble_exports(tmp_path_factory):
    """Two post-trained-like exports of the same head with different weights."""
    tmp = tmp_path_factory.mktemp("ensemble")
    meta = {"phase": "posttrain", "tasks": {"bp": TASKS["bp"]}, "transforms": {}, "data": ["boiling_point"]}
    return [write_export(tmp / f"m{seed}", [{"name": "bp", "readout": "attention"}], meta, seed) for seed in (1, 2)]


@pytest.fixture(scope="session")
def pretrained_export(pretrained):
    """The smoke pre-training's export (QM9 + mlearn + MP Li-O heads)."""
    return pretrained / "pretrain" / "model"


@pytest.fixture
def predict_cli(monkeypatch):
    """predict_cli(*overrides): runs launch/predict.py in this process, as `python
    launch/predict.py *overrides` would (a SystemExit carries what Python prints on exit)."""
    root = logging.getLogger()

    def run(*overrides: str) -> None:
        monkeypatch.setattr(sys, "argv", ["predict.py", *overrides])
        handlers, level = root.handlers[:], root.level
        try:
            runpy.run_path(str(ROOT / "launch" / "predict.py"), run_name="__main__")
        finally:  # Hydra configures logging for its job: leave the session's as it was
            root.handlers[:] = handlers
            root.setLevel(level)
    return run


@pytest.fixture(scope="session")
def lp_sweep(midtrained, tmp_path_factory):
    """A finished smoke sweep of cached-feature post-training (finetune=lp, as sweep=demo and every_task):
    boiling_point and expt_gap, MPA (the smoke mid-training) and direct, with the dummy and the rf, on local
    Ray. The release is built from its MPA models."""
    from launching import launch, smoke

    tmp = tmp_path_factory.mktemp("lp_sweep")
    out = tmp / "sweep"
    launch("posttrain.py", *smoke(tmp, "posttrain", "sweep=smoke", "finetune=lp", f"sweep.out={out}",
                                  f"sweep.arms.mpa={midtrained / 'midtrain' / 'model'}",
                                  f"sweep.arms.direct={midtrained / 'pretrain' / 'model'}", "sweep.num_cpus=2"),
           timeout=600)
    return out
