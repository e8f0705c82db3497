"""What a phase trains on: its data sources (shards written on demand), the heads their
labels need, and the vocabulary of sources the model embeds."""

from __future__ import annotations

import fcntl
import json
from dataclasses import dataclass
from pathlib import Path

from mpa_dist.data import location
from mpa_dist.data.catalog import registry
from mpa_dist.data.catalog.spec import SCALAR_READOUTS
from mpa_dist.data.exposure import DEFAULT_SCHEMES
from mpa_dist.data.loader import LoaderConfig, SourceConfig, manifest
from mpa_dist.data.record import FORCE_LABEL, STRESS_LABEL
from mpa_dist.data.shards import code_version, make_shards, shared_workers
from mpa_dist.train import distributed as dist


@dataclass
class Source:
    dataset: str
    path: str  # a folder, or a URL (mpa_dist.data.location)
    weight: float | None
    manifest: dict


def shard_dir(root: str, dataset: str, scheme: str, limit: int | None, conformers: int,
              privileged: bool = False, eval_schemes=DEFAULT_SCHEMES) -> str:
    """First-principles shards exclude the evaluation compounds of `eval_schemes` (or, privileged,
    none): the folder name says which when it is not the default."""
    name = Path(dataset).stem if Path(dataset).is_file() else dataset
    tag = "-privileged" if privileged else "" if tuple(eval_schemes) == DEFAULT_SCHEMES else \
        "-eval-" + "+".join(eval_schemes)
    return location.join(root, f"{name}-{scheme}{tag}", f"n{limit}" if limit else "all", f"k{conformers}")


def ensure_shards(data_cfg, dataset: str, limit: int | None, write: bool = True) -> str:
    """Shards of one dataset under data.shards_root: written by rank 0 if missing from a folder
    (write=false: an error instead), read as they are from a URL (an object store is uploaded to,
    never written by a run)."""
    computed = registry.get(dataset).kind == "computed"
    privileged = bool(data_cfg.get("privileged", False))
    eval_schemes = tuple(data_cfg.get("eval_schemes", DEFAULT_SCHEMES))
    path = shard_dir(data_cfg.shards_root, dataset, data_cfg.scheme, limit, data_cfg.conformers,
                     computed and privileged, eval_schemes if computed else DEFAULT_SCHEMES)
    if location.is_remote(path):
        version, current = manifest(path).get("version"), code_version()  # code_version hashes the data code
        if version != current:
            raise ValueError(f"{path}: shards written by data code {version}, this checkout's is {current}: "
                             f"write them again with launch/make_shards.py and upload the folder")
        return path
    if not write:
        m = Path(path) / "manifest.json"
        if not m.exists() or json.loads(m.read_text()).get("version") != code_version():
            raise FileNotFoundError(f"{path}: no current shards of {dataset}; the shards step makes them before "
                                    f"training (plan.prepare_shards, which every launcher and the sweep run)")
        return path
    if dist.is_main():
        Path(path).mkdir(parents=True, exist_ok=True)
        # one writer at a time: the trials of a sweep and its scoring tasks may ask for the same folder
        with open(Path(path) / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            m = Path(path) / "manifest.json"
            if not m.exists() or json.loads(m.read_text()).get("version") != code_version():
                make_shards(dataset, path, limit=limit, scheme=data_cfg.scheme, workers=data_cfg.shard_workers,
                            conformers=data_cfg.conformers, min_shards=data_cfg.min_shards, progress=True,
                            privileged=privileged, eval_schemes=eval_schemes)  # reuses the shards still valid
    dist.barrier()
    return path


def sources(data_cfg, write: bool = True) -> list[Source]:
    out = []
    for dataset, s in data_cfg.sources.items():
        path = ensure_shards(data_cfg, dataset, s.limit, write)
        out.append(Source(dataset, path, s.weight, manifest(path)))
    return out


def with_sources(data_cfg, sources):
    """The data config with other sources (the first-principles ones of mid-training)."""
    from omegaconf import OmegaConf

    d = OmegaConf.create(OmegaConf.to_container(data_cfg))
    d.sources = sources
    return d


def check_engine(cfg, srcs: list[Source]) -> None:
    """ZeRO-3 with sources that train on forces or stress (their manifests say which): refused before
    any model is built."""
    if cfg.deepspeed.zero_stage != 3:
        return
    derivative = sorted({s.dataset for s in srcs for h in heads_for([s]) if h.get("forces") or h.get("stress")})
    if derivative and cfg.phase != "posttrain":
        raise ValueError(f"deepspeed.zero_stage=3 with {', '.join(derivative)} (forces or stress): ZeRO-3 releases "
                         "each weight after its module has run, and training on forces or stress backpropagates "
                         "through autograd's gradient a second time, outside any module, where the released weights "
                         "are empty (DeepSpeed does not support a second backward through a graph under ZeRO-3: "
                         "deepspeedai/DeepSpeed PR #8135, open). That second backward keeps every weight alive for "
                         "the whole step anyway, so ZeRO-3 would save nothing over ZeRO-2 here: use deepspeed=zero2 "
                         "for sources with forces or stress")


def prepare_shards(cfg) -> None:
    """The shards step, before any training: the checkpoint it starts from checked against the split
    scheme, every source's shards written (rank 0) or found, the engine checked against them."""
    from mpa_dist.train import checkpoint, lineage
    from mpa_dist.train.schema import validate

    cfg = validate(cfg)
    lineage.check_parent(cfg, checkpoint.read_meta(cfg.init_from) if cfg.init_from else None)
    dist.init(cfg.cluster.backend)
    with shared_workers(cfg.data.shard_workers):  # one pool of workers for all the datasets
        srcs = sources(cfg.data)
        if cfg.data.dft_sources:
            srcs += sources(with_sources(cfg.data, cfg.data.dft_sources))
    check_engine(cfg, srcs)


def heads_for(srcs: list[Source], per_source: bool = True) -> list[dict]:
    """One head per (label, source) for every task of every source, readout from the catalogue.

    Energy heads take forces and stress where the source has those labels."""
    heads = []
    for s in srcs:
        labels = s.manifest["splits"]["train"]["stats"]
        for t in s.manifest["tasks"]:
            if t["label"] not in labels:
                continue
            h = {"name": f"{t['label']}@{s.dataset}" if per_source else t["label"], "readout": t["readout"],
                 **head_range(t)}
            if t["readout"] == "energy":
                h["forces"] = FORCE_LABEL in labels
                h["stress"] = STRESS_LABEL in labels and s.manifest["input"] == "crystal"
            if t["readout"] == "classification":
                h["num_classes"] = 2
            heads.append(h)
    return heads


def head_range(task: dict) -> dict:
    """{"range": [lo, hi]}: the task's physical range (its catalogue sanity range, None for an open side),
    to which a scalar head's predictions are clamped; {} for a transformed, a classification or an
    unbounded task."""
    lo, hi = (task.get("sanity") or [None, None])
    if task.get("transform", "none") != "none" or task.get("classification") or task["readout"] not in SCALAR_READOUTS \
            or (lo is None and hi is None):
        return {}
    return {"range": [lo, hi]}


def extend_vocab(vocab: dict[str, int], srcs: list[Source], capacity: int) -> dict[str, int]:
    """Source ids are stable across phases: known sources keep theirs, new ones are appended."""
    vocab = dict(vocab)
    for s in srcs:
        for name in {s.dataset, Path(s.dataset).stem}:
            if name not in vocab:
                vocab[name] = len(vocab) + 1  # 0 is "unknown"
    if max(vocab.values(), default=0) >= capacity:
        raise ValueError(f"{len(vocab)} sources exceed the model's num_sources={capacity}: raise model.num_sources")
    return vocab


def loader_config(data_cfg, srcs: list[Source], split: str, mode: str, vocab: dict[str, int], cutoff: float,
                  seed: int, workers: int | None = None, max_z: int | None = None) -> LoaderConfig:
    return LoaderConfig(
        sources=[SourceConfig(s.path, s.weight) for s in srcs], split=split, mode=mode, cutoff=cutoff,
        max_atoms=data_cfg.max_atoms, max_edges=data_cfg.max_edges, max_graphs=data_cfg.max_graphs,
        temperature=data_cfg.temperature, shuffle_buffer=data_cfg.shuffle_buffer if split == "train" else 0,
        conformers=data_cfg.conformer_sampling if split == "train" else "all",
        num_workers=data_cfg.num_workers if workers is None else workers, seed=seed,
        on_error=data_cfg.on_error, source_vocab=vocab, max_z=max_z)


def task_specs(srcs: list[Source]) -> dict[str, dict]:
    return {t["label"]: t for s in srcs for t in s.manifest["tasks"]}
