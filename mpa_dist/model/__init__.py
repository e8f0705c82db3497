"""The model: an e3nn equivariant transformer backbone and property readouts.

build_model(cfg, heads) builds an MPAModel from a `configs/model/<size>.yaml` node and a list
of head dicts such as {"name": "u0", "readout": "sum"},
{"name": "energy", "readout": "energy", "forces": True, "stress": True} or
{"name": "expt_gap", "readout": "attention", "range": [0.0, 15.0]} (a scalar output's physical range in its
training units, None for an open side: its predictions in physical units are clamped to it).
"""

from __future__ import annotations

from mpa_dist.model.backbone import Backbone
from mpa_dist.model.ensemble import EnsembleHead
from mpa_dist.model.heads import (AttentionHead, ClassificationHead, EnergyHead, HybridHead, PooledHead)
from mpa_dist.model.model import MPAModel
from mpa_dist.model.precision import float32_islands
from mpa_dist.model.normalization import TargetNorm, element_counts
from mpa_dist.model.tensor_heads import TensorHead, VectorHead

BACKBONE_KEYS = {"channels", "vector_channels", "lmax", "num_layers", "num_heads", "cutoff", "num_radial", "max_z",
                 "num_sources", "radial_hidden", "attn_dim", "ffn_mult", "global_attention", "conditions",
                 "accelerate", "element_features", "element_init_std", "readout_layers"}
HEAD_KEYS = {"name", "readout", "num_classes", "forces", "stress", "element_reference", "ensemble", "range"}
READOUTS = ("sum", "mean", "attention", "hybrid", "vector", "tensor", "energy", "classification")


def _plain(cfg) -> dict:
    try:
        from omegaconf import DictConfig, OmegaConf
        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:
        pass
    return dict(cfg)


def build_head(spec: dict, irreps, max_z: int):
    """One head; with {"ensemble": K} (K > 1), K of them averaged (mpa_dist/model/ensemble.py); with
    {"range": [lo, hi]}, a scalar head's physical predictions clamped to it (MPAModel.to_physical)."""
    spec = _plain(spec)
    unknown = set(spec) - HEAD_KEYS
    if unknown:
        raise ValueError(f"head {spec.get('name')!r}: unknown keys {sorted(unknown)}")
    bounds = spec.pop("range", None)
    head = _build_head(spec, irreps, max_z)
    if bounds is not None:
        if head.kind != "scalar" or len(bounds) != 2:
            raise ValueError(f"head {head.name!r}: a range [lo, hi] bounds a scalar output, not {head.kind} "
                             f"({bounds!r})")
        head.bounds = tuple(None if b is None else float(b) for b in bounds)
    return head


def _build_head(spec: dict, irreps, max_z: int):
    k = spec.pop("ensemble", 1) or 1
    if k > 1:
        return EnsembleHead([_build_head(dict(spec), irreps, max_z) for _ in range(k)])
    name, readout = spec["name"], spec.get("readout", "mean")
    ref = spec.get("element_reference")
    if readout in ("sum", "mean"):
        return PooledHead(name, irreps, max_z, readout, ref)
    if readout == "attention":
        return AttentionHead(name, irreps, max_z, ref)
    if readout == "hybrid":
        return HybridHead(name, irreps, max_z, ref)
    if readout == "energy":
        return EnergyHead(name, irreps, max_z, spec.get("forces", True), spec.get("stress", False), ref)
    if readout == "vector":
        return VectorHead(name, irreps, max_z)
    if readout == "tensor":
        return TensorHead(name, irreps, max_z)
    if readout == "classification":
        return ClassificationHead(name, irreps, max_z, spec.get("num_classes", 2))
    raise ValueError(f"head {name!r}: readout {readout!r} is not one of {READOUTS}")


def build_model(cfg, heads: list[dict]) -> MPAModel:
    cfg = _plain(cfg)
    unknown = set(cfg) - BACKBONE_KEYS
    if unknown:
        raise ValueError(f"model config: unknown keys {sorted(unknown)} (known: {sorted(BACKBONE_KEYS)})")
    backbone = Backbone(**cfg)
    max_z = backbone.embedding.atom.num_embeddings - 1
    model = MPAModel(backbone, [build_head(h, backbone.irreps, max_z) for h in heads])
    float32_islands(model)
    return model


def count_parameters(cfg, heads: list[dict] | None = None) -> int:
    """Parameters of a model whose weights are moved to the meta device as they are created,
    so that `large` is counted in seconds without holding its weights (e3nn computes constants
    at build time, which rules out building under torch.device("meta") as a whole)."""
    from torch import nn

    register = nn.Module.register_parameter

    def to_meta(self, name, param):
        if param is not None:
            param = nn.Parameter(param.to("meta"), param.requires_grad)
        register(self, name, param)

    nn.Module.register_parameter = to_meta
    try:
        model = build_model(cfg, heads or [])
    finally:
        nn.Module.register_parameter = register
    return sum(p.numel() for p in model.parameters())


__all__ = ["MPAModel", "Backbone", "EnsembleHead", "TargetNorm", "build_model", "build_head", "count_parameters", "element_counts"]
