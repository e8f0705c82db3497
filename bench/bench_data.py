"""Data-layer benchmark: shard writing, loading with neighbour lists, and neighbour lists alone.

    python bench/bench_data.py [--qm9 20000] [--workers 2] [--cutoff 5.0] [--model small]

Prints, for QM9 and for the periodic set (mlearn): shard write samples/s, loader samples/s
and atoms/s with neighbour lists (2 workers), neighbour-list structures/s with vesin against
ase's, and, when the model package is present, the training step rate of the default model
on the same batches, so the loader's margin over the trainer is visible.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mpa_dist.data.loader import LoaderConfig, SourceConfig, build_loader  # noqa: E402
from mpa_dist.data.neighbors import neighbor_list  # noqa: E402
from mpa_dist.data.shards import make_shards  # noqa: E402


def bench_write(dataset: str, out: Path, limit: int | None, workers: int) -> dict:
    t = time.perf_counter()
    m = make_shards(dataset, out, limit=limit, workers=workers, maxcount=2000, progress=False)
    dt = time.perf_counter() - t
    return {"samples": m["num_written"], "write_s": dt, "write_per_s": m["num_written"] / dt}


def bench_load(out: Path, cutoff: float, workers: int) -> tuple[dict, list]:
    cfg = LoaderConfig(sources=[SourceConfig(str(out))], split="train", mode="epoch", cutoff=cutoff,
                       num_workers=workers, max_atoms=2048, max_edges=65536)
    n = atoms = edges = 0
    kept = []
    t = time.perf_counter()
    for b in build_loader(cfg):
        n += b.num_graphs
        atoms += b.num_atoms
        edges += b.edge_index.shape[1]
        if len(kept) < 8:
            kept.append(b)
    dt = time.perf_counter() - t
    return {"load_samples_per_s": n / dt, "load_atoms_per_s": atoms / dt, "edges_per_atom": edges / max(atoms, 1)}, kept


def bench_neighbors(out: Path, cutoff: float, max_structures: int = 500) -> dict:
    from ase import Atoms
    from ase.neighborlist import neighbor_list as ase_nl

    cfg = LoaderConfig(sources=[SourceConfig(str(out))], split="train", num_workers=0, max_atoms=10**9,
                       max_edges=10**12, cutoff=0.1)
    recs = []
    for b in build_loader(cfg):
        for g in range(b.num_graphs):
            m = b.graph == g
            recs.append((b.pos[m].double().numpy(), b.cell[g].double().numpy(), b.cell[g].abs().sum() > 0))
            if len(recs) >= max_structures:
                break
        if len(recs) >= max_structures:
            break
    t = time.perf_counter()
    for pos, cell, per in recs:
        neighbor_list(pos, cell if per else None, np.array([per] * 3), cutoff)
    vesin_s = time.perf_counter() - t
    t = time.perf_counter()
    for pos, cell, per in recs:
        ase_nl("ijS", Atoms(positions=pos, cell=cell if per else None, pbc=bool(per)), cutoff)
    ase_s = time.perf_counter() - t
    return {"nl_vesin_per_s": len(recs) / vesin_s, "nl_ase_per_s": len(recs) / ase_s}


def bench_model(batches: list, size: str, source_vocab_size: int = 8) -> dict:
    try:
        from omegaconf import OmegaConf

        from mpa_dist.model import build_model
    except ImportError:
        return {}
    cfg = OmegaConf.to_container(OmegaConf.load(Path(__file__).parents[1] / "configs" / "model" / f"{size}.yaml"))
    model = build_model(cfg, [{"name": "u0", "readout": "sum"}])
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    n, t = 0, None
    for i, b in enumerate(batches * 2):
        if i == 1:
            t, n = time.perf_counter(), 0  # the first step warms up
        out = model(b)
        loss = sum(v.float().pow(2).mean() for k, v in out.items() if torch.is_tensor(v) and v.requires_grad)
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += b.num_graphs
    return {"model": size, "train_graphs_per_s": n / (time.perf_counter() - t)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qm9", type=int, default=20000, help="QM9 molecules to shard")
    p.add_argument("--periodic", default="mlearn", help="periodic dataset name")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cutoff", type=float, default=5.0, help="Angstrom")
    p.add_argument("--model", default="small", help="model size whose training rate is compared")
    args = p.parse_args()
    torch.set_num_threads(args.workers)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, limit in (("qm9", args.qm9), (args.periodic, None)):
            out = Path(tmp) / name
            r = {"dataset": name, **bench_write(name, out, limit, args.workers)}
            load, batches = bench_load(out, args.cutoff, args.workers)
            r.update(load)
            r.update(bench_neighbors(out, args.cutoff))
            r.update(bench_model(batches, args.model))
            r["atoms_per_sample"] = load["load_atoms_per_s"] / load["load_samples_per_s"]
            rows.append(r)
    keys = ["dataset", "samples", "write_per_s", "load_samples_per_s", "load_atoms_per_s", "edges_per_atom",
            "nl_vesin_per_s", "nl_ase_per_s", "train_graphs_per_s"]
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(f"{r[k]:.0f}" if isinstance(r.get(k), float) else str(r.get(k, "-")) for k in keys))
    for r in rows:
        if "train_graphs_per_s" in r:
            print(f"{r['dataset']}: loader delivers {r['load_samples_per_s'] / r['train_graphs_per_s']:.0f}x "
                  f"what the {r['model']} model trains on per second")


if __name__ == "__main__":
    main()
