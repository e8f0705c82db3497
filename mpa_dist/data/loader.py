"""Streaming batches from WebDataset shards: mix sources, split by node and worker,
shuffle, decode, build neighbour lists, and batch by an atom and edge budget.

Two modes:
- `epoch`: each shard of each source is read once, split over ranks then workers, so one
  pass sees every sample exactly once (evaluation, and epoch-based training);
- `stream`: every source is resampled without end and mixed by weight (training by steps;
  every reader sees every shard, so no rank or worker ever runs dry).
Mixing weights are explicit, or follow temperature sampling p_i ~ n_i^(1/T).
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import webdataset as wds

from mpa_dist.data import location
from mpa_dist.data.batch import add_edges, collate
from mpa_dist.data.record import FORCE_LABEL, STRESS_LABEL
from mpa_dist.data.shards import SAMPLE_EXT, decode_sample

log = logging.getLogger(__name__)


@dataclass
class SourceConfig:
    path: str  # shard folder with manifest.json: a path, or a URL (mpa_dist.data.location)
    weight: float | None = None  # explicit mixing weight; None: temperature sampling


@dataclass
class LoaderConfig:
    sources: list[SourceConfig]
    split: str = "train"
    mode: str = "epoch"  # epoch | stream
    cutoff: float = 5.0  # Angstrom
    max_atoms: int = 1024  # atom budget of one batch
    max_edges: int = 32768  # edge budget of one batch
    max_graphs: int = 256
    temperature: float = 1.0  # for sources without explicit weight
    shuffle_buffer: int = 1000  # samples; 0 disables sample shuffling
    conformers: str = "all"  # all: every conformer, kept in one batch | random: one per visit
    num_workers: int = 2
    seed: int = 0
    on_error: str = "skip"  # skip: report and skip a corrupt shard or sample | fail
    max_z: int | None = None  # records with heavier elements than the model embeds are skipped and counted
    split_nodes: bool = True  # False: every rank reads every shard (e.g. to fit normalisation identically)
    source_vocab: dict[str, int] = field(default_factory=dict)


class ErrorPolicy:
    """WebDataset handler: counts and reports corrupt shards or samples, or fails the run."""

    def __init__(self, policy: str):
        if policy not in ("skip", "fail"):
            raise ValueError(f"on_error must be 'skip' or 'fail', not {policy!r}")
        self.policy = policy
        self.count = 0
        self.out_of_range = 0  # valid records the model cannot embed (not corruption)

    def __call__(self, exn: Exception) -> bool:
        if self.policy == "fail":
            raise exn
        self.count += 1
        log.warning("skipped corrupt data (%d so far in this reader): %r", self.count, exn)
        return True


def manifest(path: str | Path) -> dict:
    p = location.join(path, "manifest.json")
    if not location.is_remote(p) and not Path(p).exists():
        raise FileNotFoundError(f"{p} not found: write shards first (launch/make_shards.py)")
    return location.read_json(p)


def shard_urls(path: str | Path, split: str) -> list[str]:
    m = manifest(path)
    return [location.join(path, s["name"]) for s in m["shards"] if s["split"] == split]


def mixing_weights(cfg: LoaderConfig) -> list[float]:
    """Normalised weights. All explicit: as given, normalised. None explicit: by temperature over
    sample counts. Some explicit: those are shares of the mixture (summing to at most 1) and the
    others share the rest by temperature."""
    sizes = [sum(s["num_samples"] for s in manifest(src.path)["shards"] if s["split"] == cfg.split)
             for src in cfg.sources]
    fixed = [src.weight for src in cfg.sources if src.weight is not None]
    by_size = [n ** (1.0 / cfg.temperature) for src, n in zip(cfg.sources, sizes) if src.weight is None]
    if not by_size:
        return [w / sum(fixed) for w in fixed]
    rest = 1.0 - sum(fixed)
    if rest <= 0:
        named = {src.path: src.weight for src in cfg.sources if src.weight is not None}
        raise ValueError(f"explicit mixing weights {named} leave no share for the other sources (they sum to "
                         f"{sum(fixed):g}; with some weights left unset, the set ones are shares below 1)")
    it = iter(by_size)
    return [src.weight if src.weight is not None else rest * next(it) / sum(by_size) for src in cfg.sources]


def _source(urls: list[str], cfg: LoaderConfig, handler: ErrorPolicy) -> wds.DataPipeline:
    if cfg.mode == "stream":
        # seeded by (seed, rank, worker): reproducible, and distinct on every reader
        shards = [wds.ResampledShards(urls, seed=cfg.seed, deterministic=True)]
    elif cfg.mode == "epoch":
        # split the fixed shard list by rank, then by worker, THEN shuffle within the part:
        # the parts stay disjoint and cover every shard once
        shards = [wds.SimpleShardList(urls)] + ([wds.split_by_node] if cfg.split_nodes else []) + [wds.split_by_worker]
        if cfg.split == "train":
            shards.append(wds.detshuffle(len(urls), seed=cfg.seed))
    else:
        raise ValueError(f"loader mode must be 'epoch' or 'stream', not {cfg.mode!r}")
    expected = _expected_counts(urls)
    return wds.DataPipeline(*shards, wds.tarfile_to_samples(handler=handler),
                            lambda src: _check_counts(src, expected, handler))


def _expected_counts(urls: list[str]) -> dict[str, int]:
    out = {}
    for folder in {location.parent(u) for u in urls}:
        for s in manifest(folder)["shards"]:
            out[location.join(folder, s["name"])] = s["num_samples"]
    return out


def _check_counts(src, expected: dict[str, int], handler: ErrorPolicy):
    """A tar cut at a member boundary reads as a shorter, valid tar: compare with the manifest."""
    url, n = None, 0
    for sample in src:
        if sample.get("__url__") != url:
            _short(url, n, expected, handler)
            url, n = sample.get("__url__"), 0
        n += 1
        yield sample
    _short(url, n, expected, handler)


def _short(url, n, expected, handler):
    if url is not None and n < expected.get(url, 0):
        handler(ValueError(f"shard {url}: read {n} of {expected[url]} samples (truncated or corrupt)"))


class SeededMix(torch.utils.data.IterableDataset):
    """Samples drawn from several sources with the given probabilities, by a generator seeded per
    reader (seed, rank, worker). WebDataset's RandomMix draws from the process-global `random`, so
    a resumed run (or anything else drawing from it) would change the mixture: here the mixture is
    a function of the seed alone, and skipping the batches already consumed restores it exactly."""

    def __init__(self, datasets, probs, longest: bool, seed: int):
        self.datasets, self.probs, self.longest, self.seed = datasets, list(probs), longest, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = random.Random(f"{self.seed}|{_rank()}|{info.id if info else 0}")
        sources, probs = [iter(d) for d in self.datasets], list(self.probs)
        while sources:
            i = rng.choices(range(len(sources)), weights=probs)[0]
            try:
                yield next(sources[i])
            except StopIteration:
                if not self.longest:
                    return
                del sources[i], probs[i]
                if sources and not any(probs):  # one pass reads every sample, weight 0 or not
                    probs = [1.0] * len(sources)


def _expand(src, cfg: LoaderConfig, handler: ErrorPolicy):
    """Decode a sample into its records (all conformers, or one at random) with edges."""
    info = torch.utils.data.get_worker_info()
    rng = random.Random(f"conformers|{cfg.seed}|{_rank()}|{info.id if info else 0}")
    for sample in src:
        try:
            recs = decode_sample(sample[SAMPLE_EXT])
        except Exception as e:  # a corrupt sample: report (or fail) and go on
            handler(ValueError(f"sample {sample.get('__key__')!r} in {sample.get('__url__')}: {e}"))
            continue
        if cfg.max_z is not None and max(int(r.numbers.max()) for r in recs) > cfg.max_z:
            handler.out_of_range += 1
            log.warning("skipped %s: an element heavier than the model's max_z=%d", recs[0].key, cfg.max_z)
            continue
        if cfg.conformers == "random":
            recs = [rng.choice(recs)]
        yield [add_edges(r, cfg.cutoff) for r in recs]


def _batches(src, cfg: LoaderConfig, handler: ErrorPolicy):
    """Batches within the atom, edge and graph budgets. Records with force or stress labels are
    batched apart from the rest: one periodic cell in a batch of molecules would make the whole
    batch pay the second backward (at the demo's 2% share of cells, a third of the batches did)."""
    bufs: dict[bool, list] = {}  # has derivative labels -> [items, atoms, edges]
    reported, reported_z = 0, 0
    for items in src:
        buf = bufs.setdefault(any(FORCE_LABEL in r.labels or STRESS_LABEL in r.labels for r, _, _ in items),
                              [[], 0, 0])
        a = sum(r.num_atoms for r, _, _ in items)
        e = sum(ei.shape[1] for _, ei, _ in items)
        if buf[0] and (buf[1] + a > cfg.max_atoms or buf[2] + e > cfg.max_edges
                       or len(buf[0]) + len(items) > cfg.max_graphs):
            yield _finish(buf[0], cfg, handler.count - reported, handler.out_of_range - reported_z)
            reported, reported_z = handler.count, handler.out_of_range
            buf[:] = [[], 0, 0]
        buf[0].extend(items)
        buf[1] += a
        buf[2] += e
    for key in sorted(bufs):
        if bufs[key][0]:
            yield _finish(bufs[key][0], cfg, handler.count - reported, handler.out_of_range - reported_z)
            reported, reported_z = handler.count, handler.out_of_range


def _finish(buf, cfg: LoaderConfig, errors: int, out_of_range: int):
    b = collate(buf, cfg.source_vocab)
    b.info = {"skipped": errors, "out_of_range": out_of_range}
    return b


def build_dataset(cfg: LoaderConfig) -> wds.DataPipeline:
    handler = ErrorPolicy(cfg.on_error)
    urls = [shard_urls(s.path, cfg.split) for s in cfg.sources]
    empty = [s.path for s, u in zip(cfg.sources, urls) if not u]
    if len(empty) == len(urls) or (empty and cfg.split == "train"):
        raise ValueError(f"no {cfg.split!r} shards in {empty}")
    keep = [i for i, u in enumerate(urls) if u]  # a small source may have no validation shard: skip it there
    srcs = [_source(urls[i], cfg, handler) for i in keep]
    all_weights = mixing_weights(cfg)
    weights = [all_weights[i] for i in keep]
    stages = [SeededMix(srcs, weights, longest=cfg.mode == "epoch", seed=cfg.seed) if len(srcs) > 1 else srcs[0]]
    if cfg.shuffle_buffer and cfg.split == "train":
        # seeded: webdataset's default seeds the buffer from the pid and the clock, which made
        # two runs of the same config train on different orders
        stages.append(wds.shuffle(cfg.shuffle_buffer, initial=min(cfg.shuffle_buffer, 100),
                                  seed=cfg.seed * 1_000_003 + _rank()))
    stages.append(lambda src: _expand(src, cfg, handler))
    stages.append(lambda src: _batches(src, cfg, handler))
    return wds.DataPipeline(*stages)


def build_loader(cfg: LoaderConfig) -> torch.utils.data.DataLoader:
    """A DataLoader of Batches; batching happens inside the workers (batch_size=None)."""
    ds = build_dataset(cfg)
    g = torch.Generator().manual_seed(cfg.seed)
    return wds.WebLoader(ds, batch_size=None, num_workers=cfg.num_workers, generator=g,
                         persistent_workers=False, worker_init_fn=_seed_numpy,
                         multiprocessing_context="fork" if cfg.num_workers else None)


def _rank() -> int:
    return torch.distributed.get_rank() if torch.distributed.is_initialized() else int(os.environ.get("RANK", 0))


def _seed_numpy(worker_id: int) -> None:
    np.random.seed(torch.initial_seed() % 2**32)
