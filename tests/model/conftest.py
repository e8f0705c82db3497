"""Shared fixtures: real QM9 molecules, periodic cells, compositions, and models with every head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from mpa_dist.data.batch import collate_records
from mpa_dist.data.readers.formula import composition_record
from mpa_dist.data.sources import qm9
from mpa_dist.model import build_model
from mpa_dist.model.transforms import crystal

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "model"

ALL_HEADS = [
    {"name": "energy", "readout": "energy", "forces": True, "stress": True},
    {"name": "cv", "readout": "sum"},
    {"name": "gap", "readout": "mean"},
    {"name": "gap@expt_gap", "readout": "mean"},
    {"name": "boiling_point", "readout": "attention"},
    {"name": "flash_point", "readout": "hybrid"},
    {"name": "dipole", "readout": "vector"},
    {"name": "polarizability_tensor", "readout": "tensor"},
    {"name": "metal", "readout": "classification", "num_classes": 2},
]


def model_config(size: str) -> dict:
    return yaml.safe_load((CONFIGS / f"{size}.yaml").read_text())


def _make_model(size: str = "tiny", heads=None, seed: int = 0, dtype=torch.float64, **overrides):
    torch.manual_seed(seed)
    model = build_model({**model_config(size), **overrides}, heads or ALL_HEADS)
    return model.to(dtype).eval()


@pytest.fixture(scope="session")
def make_model():
    """make_model(size="tiny", heads=ALL_HEADS, seed=0, dtype=float64, **config overrides) -> eval-mode model."""
    return _make_model


@pytest.fixture(scope="session")
def all_heads():
    return [dict(h) for h in ALL_HEADS]


@pytest.fixture(scope="session")
def config_of():
    return model_config


@pytest.fixture(scope="session")
def qm9_records():
    rows = qm9.entries(40)
    recs = [r for i in (0, 2, 5, 17, 23, 39) for r in qm9.to_records(rows.iloc[i].to_dict())]
    return recs


def _rocksalt():
    a = 5.64 / 2
    return crystal("nacl", [11, 17], [[0, 0, 0], [0.5, 0.5, 0.5]], [[0, a, a], [a, 0, a], [a, a, 0]])


def _triclinic():
    rng = np.random.default_rng(1)
    cell = np.diag([3.1, 3.6, 4.2]) + rng.uniform(-0.6, 0.6, (3, 3))
    r = crystal("tri", [8, 22, 8], rng.uniform(0, 1, (3, 3)), cell, source="mp")
    r.conditions = {"temperature_K": 300.0, "pressure_Pa": 1e5}
    return r


@pytest.fixture(scope="session")
def crystal_records():
    return [_rocksalt(), _triclinic()]


@pytest.fixture(scope="session")
def composition_records():
    return [composition_record("c/fe2o3", "Fe2O3", "expt_gap", "experimental", conditions={"temperature_K": 300.0}),
            composition_record("c/licoo2", "LiCoO2", "expt_gap", "experimental")]


@pytest.fixture(scope="session")
def molecule_batch(qm9_records):
    return collate_records(qm9_records, 5.0, dtype=torch.float64)


@pytest.fixture(scope="session")
def mixed_batch(qm9_records, crystal_records, composition_records):
    """Molecules, periodic cells and compositions from three sources in one batch."""
    vocab = {"qm9": 1, "mp": 2, "expt_gap": 3, "test": 4}
    recs = qm9_records[:3] + crystal_records + composition_records
    return collate_records(recs, 5.0, source_vocab=vocab, dtype=torch.float64)
