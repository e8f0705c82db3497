"""Write a catalogue dataset to WebDataset tar shards, per split, in parallel and resumably.

Each shard holds a fixed slice of the split's input entries. A worker converts its slice
(SMILES to 3-D, parsing, validation), writes `<split>-NNNNN.tar` atomically and a sidecar
`<split>-NNNNN.json` with its counts, rejects, checksum and label statistics. A rerun
skips slices whose sidecar exists, so an interrupted conversion resumes. The manifest is
assembled from the sidecars at the end.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from pathlib import Path

import msgpack
import webdataset as wds
from tqdm import tqdm

from mpa_dist.data import exposure, location
from mpa_dist.data import stats as stats_mod
from mpa_dist.data.catalog import registry
from mpa_dist.data.catalog.splits import sample
from mpa_dist.data.offline import cache_dir, files_hash, sha256_file
from mpa_dist.data.readers.smiles import ConformerCache
from mpa_dist.data.record import Record, RecordError
from mpa_dist.data.validate import validate

SPLITS = ("train", "val", "test")
SAMPLE_EXT = "records.msgpack"  # one sample = one entry = its K records (conformers), kept together


@dataclass
class ShardJob:
    dataset: str
    split: str
    index: int
    rows: list[dict]
    out: str
    conformers: int
    seed: int


class _SharedPool:
    """Spawned worker processes for every dataset of one shards step, started when first needed:
    each worker's imports cost ~4.8 s of CPU here (measured), which a pool per dataset paid again for
    each of the demo's 12 datasets."""

    def __init__(self, workers: int):
        self.workers, self.pool = workers, None

    def get(self):
        if self.pool is None:
            self.pool = mp.get_context("spawn").Pool(self.workers)
        return self.pool


_shared: _SharedPool | None = None


@contextlib.contextmanager
def shared_workers(workers: int):
    """Within this block, make_shards(workers=N) converts on one pool of N workers kept across calls."""
    global _shared
    outer, _shared = _shared, _SharedPool(workers)
    try:
        yield
    finally:
        if _shared.pool is not None:
            _shared.pool.close()
            _shared.pool.join()
        _shared = outer


def _pool(workers: int):
    """The shared pool when one of this size is open, else a pool for this call alone."""
    if _shared is not None and _shared.workers == workers:
        return contextlib.nullcontext(_shared.get())
    return mp.get_context("spawn").Pool(workers)


@functools.cache
def code_version() -> str:
    """Hash of the data layer's code: shards written by other code are rewritten, not reused."""
    return files_hash(sorted(Path(__file__).parent.rglob("*.py")))


def encode_sample(records) -> bytes:
    return msgpack.packb([r.to_bytes() for r in records], use_bin_type=True)


def decode_sample(data: bytes) -> list[Record]:
    return [Record.from_bytes(b) for b in msgpack.unpackb(data, raw=False)]


def tar_key(key: str) -> str:
    """WebDataset splits member names at the first dot: keep dots out of the key."""
    return key.replace(".", "_")


def convert_shard(job: ShardJob) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ds = registry.get(job.dataset)
    opt = registry.RecordOptions(job.conformers, job.seed, ConformerCache(cache_dir() / "conformers.sqlite"))
    name = f"{job.split}-{job.index:05d}"
    tar, tmp = Path(job.out) / f"{name}.tar", Path(job.out) / f"{name}.tar.tmp"
    st = stats_mod.LabelStats()
    written, records, rejects, samples = 0, 0, [], []
    with wds.TarWriter(str(tmp), mtime=0) as sink:  # fixed mtime: identical input, identical bytes
        for row in job.rows:
            try:
                recs = [validate(r) for r in ds.to_records(row, opt)]
            except RecordError as e:
                rejects.append({"key": row["key"], "reason": e.reason})
                continue
            except Exception as e:  # a bug or a library failure on one entry must not lose the others
                rejects.append({"key": row["key"], "reason": f"{type(e).__name__}: {e}"})
                continue
            sink.write({"__key__": tar_key(row["key"]), SAMPLE_EXT: encode_sample(recs)})
            samples.append([row["key"], row["compound"], row["compound_kind"], row["compound_formula"]])
            for r in recs:
                st.add(r)
            written += 1
            records += len(recs)
    tmp.replace(tar)
    side = {"name": tar.name, "split": job.split, "version": code_version(), "num_input": len(job.rows),
            "num_written": written,
            "num_rejected": len(rejects), "num_records": records, "sha256": sha256_file(tar),
            "rejects": rejects, "stats": st.to_json(),
            "samples": samples}  # [key, compound, compound kind, formula] of every written sample: the audit's input
    side_path = tar.with_suffix(".json")
    side_path.with_suffix(".json.tmp").write_text(json.dumps(side))
    side_path.with_suffix(".json.tmp").replace(side_path)
    return side


def plan(dataset: str, out: Path, limit: int | None, scheme: str, maxcount: int, min_shards: int,
         conformers: int, seed: int, privileged: bool = False,
         eval_schemes: tuple[str, ...] = exposure.DEFAULT_SCHEMES) -> tuple[list[ShardJob], list[dict]]:
    """The shard jobs, and the first-principles entries excluded as evaluation compounds (before the
    `limit` sample is drawn, so a limit is met when the data allows)."""
    ds = registry.get(dataset)
    entries = exposure.with_identity(ds, ds.entries())
    excluded = []
    if ds.kind == "computed" and not privileged:
        entries, excluded = exposure.split_exposed(ds, entries, exposure.catalogue_evaluation_set(tuple(eval_schemes)))
    entries = sample(entries, limit, by="compound")
    col = f"split_{scheme}"
    if col not in entries:
        raise KeyError(f"dataset {dataset!r} has no split scheme {scheme!r}")
    jobs = []
    held = entries[~entries[col].isin(SPLITS)]  # e.g. `held` under a matbench fold scheme
    if len(held):
        jobs.append(ShardJob(dataset, "held", 0, held.to_dict("records"), str(out), conformers, seed))
    for split in SPLITS:
        rows = entries[entries[col] == split].to_dict("records")
        if not rows:
            continue
        n = max(math.ceil(len(rows) / maxcount), min(min_shards, len(rows)))
        for i in range(n):
            chunk = rows[i * len(rows) // n:(i + 1) * len(rows) // n]
            jobs.append(ShardJob(dataset, split, i, chunk, str(out), conformers, seed))
    return jobs, excluded


def make_shards(dataset: str, out: str | Path, limit: int | None = None, scheme: str = "random",
                maxcount: int = 2000, min_shards: int = 4, workers: int = 2, conformers: int = 1,
                seed: int = 0, progress: bool = True, privileged: bool = False,
                eval_schemes: tuple[str, ...] = exposure.DEFAULT_SCHEMES) -> dict:
    """Writes shards + manifest.json + rejects.jsonl + splits.json; returns the manifest."""
    if location.is_remote(out):
        raise ValueError(f"make_shards out={out}: shards are written to a folder, then uploaded as they are "
                         f"(e.g. `aws s3 sync <folder> {out}`); training reads them from the URL")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    jobs, excluded = plan(dataset, out, limit, scheme, maxcount, min_shards, conformers, seed, privileged,
                          tuple(eval_schemes))
    held = [r["key"] for j in jobs if j.split == "held" for r in j.rows]
    jobs = [j for j in jobs if j.split != "held"]
    done, todo = [], []
    for j in jobs:
        side = out / f"{j.split}-{j.index:05d}.json"
        if side.exists() and (out / f"{j.split}-{j.index:05d}.tar").exists():
            s = json.loads(side.read_text())
            if s["num_input"] == len(j.rows) and s.get("version") == code_version():
                done.append(s)
                continue
        todo.append(j)
    bar = tqdm(total=sum(len(j.rows) for j in jobs), initial=sum(s["num_input"] for s in done),
               desc=f"shards {dataset}", unit="entry", disable=not progress)
    if workers > 1 and len(todo) > 1:
        with _pool(workers) as pool:
            for side in pool.imap_unordered(convert_shard, todo):
                done.append(side)
                bar.update(side["num_input"])
    else:
        for j in todo:
            done.append(convert_shard(j))
            bar.update(len(j.rows))
    bar.close()
    manifest = _manifest(dataset, out, jobs, done, scheme, conformers, seed, time.perf_counter() - t0, held,
                         excluded, privileged, list(eval_schemes))
    return manifest


def _manifest(dataset, out: Path, jobs, sides, scheme, conformers, seed, seconds, held: list[str],
              excluded: list[dict], privileged: bool, eval_schemes: list[str]) -> dict:
    """held: entries this scheme keeps out of every split (neither trained on nor scored); excluded:
    first-principles entries of evaluation compounds. Each is written to rejects.jsonl with the
    reason, so every entry is accounted for."""
    sides = sorted(sides, key=lambda s: s["name"])
    ds = registry.get(dataset)
    with open(out / "rejects.jsonl", "w") as f:
        for s in sides:
            for r in s["rejects"]:
                f.write(json.dumps({"shard": s["name"], **r}) + "\n")
        for key in held:
            f.write(json.dumps({"shard": None, "key": key, "reason": f"held out under scheme {scheme}: a matbench "
                                "task tests this compound in this fold"}) + "\n")
        for r in excluded:
            f.write(json.dumps({"shard": None, **r}) + "\n")
    splits = {}
    for split in SPLITS:
        ss = [s for s in sides if s["split"] == split]
        if ss:
            splits[split] = {"num_input": sum(s["num_input"] for s in ss),
                             "num_written": sum(s["num_written"] for s in ss),
                             "num_records": sum(s["num_records"] for s in ss),
                             "stats": stats_mod.merge([s["stats"] for s in ss])}
    (out / "splits.json").write_text(json.dumps(
        {split: [r["key"] for j in jobs if j.split == split for r in j.rows] for split in SPLITS}))
    manifest = {
        "dataset": dataset, "input": ds.input, "kind": ds.kind, "theory": ds.theory,
        "sources": [s.__dict__ for s in ds.sources], "tasks": [t.summary() for t in ds.tasks],
        "split_scheme": scheme, "conformers": conformers, "seed": seed, "version": code_version(),
        "num_input": sum(s["num_input"] for s in sides), "num_written": sum(s["num_written"] for s in sides),
        "num_rejected": sum(s["num_rejected"] for s in sides), "num_records": sum(s["num_records"] for s in sides),
        "num_held_out": len(held), "num_excluded": len(excluded), "privileged": privileged,
        "eval_schemes": eval_schemes if ds.kind == "computed" else None,
        "shards": [{"name": s["name"], "split": s["split"], "num_samples": s["num_written"],
                    "num_records": s["num_records"], "sha256": s["sha256"]} for s in sides],
        "splits": splits, "seconds": round(seconds, 2),
    }
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(out / "manifest.json")
    return manifest
