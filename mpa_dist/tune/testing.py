"""The test split, scored once: the best model of a group (chosen on validation) rebuilt from
its export without DeepSpeed, with every entry's label and prediction kept for parity plots."""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import OmegaConf

from mpa_dist.data.loader import build_loader
from mpa_dist.train import checkpoint, plan
from mpa_dist.train.evaluate import evaluate


def score_export(path: str, base: dict, task: str, scheme: str, split: str = "test") -> dict:
    """{metrics, y, p, keys (the entry of each row)} of an exported post-trained model on one split of its task."""
    torch.set_num_threads(1)
    model, meta = checkpoint.load_model(path)
    data = OmegaConf.create(base["data"])
    data.scheme, data.sources = scheme, {task: {"limit": base["size"]["expt"], "weight": None}}
    srcs = plan.sources(data)
    vocab = meta.source_vocab
    lc = plan.loader_config(data, srcs, split, "epoch", vocab, meta.cutoff, 0, workers=0, max_z=meta.max_z)
    collect: dict = {}
    metrics = evaluate(model, build_loader(lc), torch.device("cpu"), torch.float32, vocab, meta.transforms,
                       collect=collect)
    (name, pairs), = collect.items()
    y = np.concatenate([a for a, _, _ in pairs]).ravel()
    p = np.concatenate([b for _, b, _ in pairs]).ravel()
    keys = np.concatenate([k for _, _, k in pairs])
    spec = meta.tasks.get(meta.heads[0]["name"], {})
    unit = spec.get("unit", "")
    if spec.get("transform", "none") != "none":
        unit = f"{spec['transform']}({unit})"
    return {"metrics": metrics, "y": y, "p": p, "keys": keys, "output": name, "unit": unit,
            "classification": meta.heads[0]["readout"] == "classification"}
