"""Head fitting on cached features (linear probing, and the first half of LP-FT).

The frozen backbone's node features are computed once per (checkpoint, shard folder, split,
cutoff) and cached on disk under $MPA_CACHE/features, keyed by the checkpoint's sha256 and the
shards' sha256s, so every configuration and seed of a sweep that shares a checkpoint reuses
them. The task's own readout head (the module the model uses: sum, mean, attention, hybrid,
vector, ...) then trains on them for as many epochs as it needs, with early stopping on the
whole validation split, and the model it leaves is an ordinary model.

Kumar et al., ICLR 2022, "Fine-Tuning can Distort Pretrained Features and Underperform
Out-of-Distribution": fitting the head first preserves the features; LP-FT fine-tunes from there.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from mpa_dist.data.batch import Batch
from mpa_dist.data.loader import manifest
from mpa_dist.data.offline import cache_dir
from mpa_dist.model.ensemble import EnsembleHead
from mpa_dist.train.evaluate import evaluate
from mpa_dist.train.losses import output_losses
from mpa_dist.train.norms import apply_transforms

FORMAT = 1


class HeadsOnFeatures(nn.Module):
    """The model's heads on a batch's cached node features: what evaluate() and the losses need."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, batch):
        out = {}
        for head in self.model.heads.values():
            out.update(head(batch.features, batch, batch.pos))
        return out

    def output_kinds(self):
        return self.model.output_kinds()

    def output_specs(self):
        return self.model.output_specs()

    def to_physical(self, out, batch):
        return self.model.to_physical(out, batch)

    def normalise_labels(self, batch):
        return self.model.normalise_labels(batch)


def cache_key(ckpt_sha256: str, shard_paths: list[str], split: str, cutoff: float,
              readout_layers: str = "last") -> str:
    shards = [(p, [s["sha256"] for s in manifest(p)["shards"] if s["split"] == split]) for p in shard_paths]
    key = {"format": FORMAT, "ckpt": ckpt_sha256, "shards": shards, "split": split, "cutoff": cutoff}
    if readout_layers != "last":  # the last layer's features keep the keys they were cached under
        key["readout_layers"] = readout_layers
    text = json.dumps(key)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@torch.no_grad()
def _compute(backbone, loader) -> list[Batch]:
    backbone.eval()
    out = []
    for b in loader:
        b = b.to("cpu", torch.float32)
        x = backbone(b, b.pos, b.cell).float()
        out.append(replace(b, features=x, edge_index=b.edge_index[:, :0], edge_shift=b.edge_shift[:0], info={}))
    return out


def _save(batches: list[Batch], path: Path) -> None:
    tensors, meta = {}, []
    for i, b in enumerate(batches):
        m = {"keys": b.keys, "groups": b.groups, "labels": sorted(b.labels), "conditions": sorted(b.conditions)}
        for f in fields(b):
            v = getattr(b, f.name)
            if isinstance(v, torch.Tensor):
                tensors[f"{i}.{f.name}"] = v.contiguous()
            elif f.name in ("labels", "label_mask", "conditions"):
                for k, t in v.items():
                    tensors[f"{i}.{f.name}.{k}"] = t.contiguous()
        meta.append(m)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"batches": json.dumps(meta), "format": str(FORMAT)})
    tmp.replace(path)


def _load(path: Path) -> list[Batch]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["batches"])
    t = load_file(str(path))
    out = []
    for i, m in enumerate(meta):
        d = {f.name: t.get(f"{i}.{f.name}") for f in fields(Batch) if f"{i}.{f.name}" in t}
        d["labels"] = {k: t[f"{i}.labels.{k}"] for k in m["labels"]}
        d["label_mask"] = {k: t[f"{i}.label_mask.{k}"] for k in m["labels"]}
        d["conditions"] = {k: t[f"{i}.conditions.{k}"] for k in m["conditions"]}
        out.append(Batch(**d, keys=m["keys"], groups=m["groups"]))
    return out


def cached_features(backbone, loader_of, ckpt_sha256: str, shard_paths: list[str], split: str,
                    cutoff: float, write: bool = True, readout_layers: str = "last") -> list[Batch]:
    """Batches with `features` for one split: read from the cache, or computed once and written."""
    key = cache_key(ckpt_sha256, shard_paths, split, cutoff, readout_layers)
    path = cache_dir() / "features" / f"{key}.safetensors"
    if path.exists():
        try:
            return _load(path)
        except Exception:  # a damaged cache entry is recomputed, never trusted
            path.unlink(missing_ok=True)
    batches = _compute(backbone, loader_of(split))
    if write:
        _save(batches, path)
    return batches


def merge(batches: list[Batch], max_graphs: int) -> list[Batch]:
    """Cached batches joined into batches of up to `max_graphs` graphs (conformers of one molecule stay
    together): with no edges left to bound, the head trains on a few large batches per epoch."""
    out, group = [], []
    for b in batches:
        if group and sum(x.num_graphs for x in group) + b.num_graphs > max_graphs:
            out.append(_join(group))
            group = []
        group.append(b)
    return out + ([_join(group)] if group else [])


def _join(bs: list[Batch]) -> Batch:
    if len(bs) == 1:
        return bs[0]
    offsets = torch.cumsum(torch.tensor([0] + [b.num_graphs for b in bs[:-1]]), 0)
    cat = lambda name: torch.cat([getattr(b, name) for b in bs])
    dcat = lambda name: {k: torch.cat([getattr(b, name)[k] for b in bs]) for k in getattr(bs[0], name)}
    return Batch(numbers=cat("numbers"), pos=cat("pos"), atom_weight=cat("atom_weight"),
                 graph=torch.cat([b.graph + o for b, o in zip(bs, offsets)]), edge_index=bs[0].edge_index[:, :0],
                 edge_shift=bs[0].edge_shift[:0], cell=cat("cell"), num_nodes=cat("num_nodes"),
                 input_kind=cat("input_kind"), source=cat("source"), conditions=dcat("conditions"),
                 labels=dcat("labels"), label_mask=dcat("label_mask"), keys=[k for b in bs for k in b.keys],
                 groups=[g for b in bs for g in b.groups], features=cat("features"))


def fit_head(model, train: list[Batch], val: list[Batch], vocab: dict, transforms: dict, ft, loss_cfg,
             weight_decay: float, seed: int, score_of) -> tuple[float, int]:
    """Trains the heads of `model` on cached features; leaves the best state on validation in them.
    An ensemble head's members are fitted one after the other, each on its own (its own shuffling
    seed and early stopping), then scored together. Returns (best validation score, epochs run,
    summed over members)."""
    heads = HeadsOnFeatures(model)
    train, val = merge(train, ft.lp_batch_graphs), merge(val, 4 * ft.lp_batch_graphs)
    ensembles = [h for h in model.heads.values() if isinstance(h, EnsembleHead)]
    members = max((len(h.members) for h in ensembles), default=1)
    evaluate_on = lambda: score_of(evaluate(heads, val, torch.device("cpu"), torch.float32, vocab, transforms))
    epochs = 0
    for k in range(members):
        for h in ensembles:
            h.active = k if k < len(h.members) else None
        trained = [m for h in model.heads.values() if (m := _trained_in_round(h, k)) is not None]
        params = [p for h in trained for p in h.parameters() if p.requires_grad]
        score, run = _fit(model, heads, params, train, vocab, transforms, ft, loss_cfg, weight_decay,
                          np.random.default_rng([seed, k]) if ensembles else np.random.default_rng(seed), evaluate_on)
        epochs += run
    for h in ensembles:
        h.active = None
    return (evaluate_on() if ensembles else score), epochs


def _trained_in_round(head, k: int):
    """The module of `head` that round k fits: member k of an ensemble (None past its last member), a
    plain head in round 0 only."""
    if isinstance(head, EnsembleHead):
        return head.members[k] if k < len(head.members) else None
    return head if k == 0 else None


def _fit(model, heads, params, train, vocab, transforms, ft, loss_cfg, weight_decay, rng, evaluate_on):
    """AdamW with cosine decay on `params`, early-stopped on validation; the best state kept."""
    opt = torch.optim.AdamW(params, lr=ft.lp_lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(ft.lp_epochs, 1), eta_min=ft.lp_lr * 0.05)
    best, best_state, since, epoch = math.inf, copy.deepcopy(model.heads.state_dict()), 0, 0
    for epoch in range(1, ft.lp_epochs + 1):
        model.heads.train()
        for i in rng.permutation(len(train)):
            b = train[i].to("cpu", torch.float32)
            apply_transforms(b, transforms)
            loss, _ = output_losses(model, heads(b), b, vocab, loss_cfg.type, loss_cfg.delta)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
        score = evaluate_on()
        if score < best:
            best, best_state, since = score, copy.deepcopy(model.heads.state_dict()), 0
        else:
            since += 1
            if since >= ft.lp_patience:
                break
    model.heads.load_state_dict(best_state)
    return best, epoch
