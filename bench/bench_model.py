"""Model throughput: graphs/s, atoms/s and peak memory, ours beside MACE, on the same batches.

    python bench/bench_model.py                      # tiny and small, QM9 and periodic, with MACE
    python bench/bench_model.py --sizes tiny --no-mace --qm9 256

Batches are built once (real QM9 molecules; periodic cells made from perturbed prototypes)
with our neighbour lists and written to an .npz; every (model, data set) pair then runs in a
fresh process, ours in this venv and MACE (mace-torch 0.3.16, which pins e3nn 0.4.4) in
its own venv (.cache/mace-venv), reading the same arrays, with the same thread count and
dtype. MACE gets the hidden width whose parameter count is closest to ours. Times are the
best of --repeats passes. Peak memory is the process's peak RSS (VmHWM) after each phase
(phases run fwd, fwd+bwd, forces, so each figure is the peak up to and including it).

Modes: fwd = energy, no grad; fwd+bwd = energy loss backward to the weights; forces = a
training step's work with forces from autograd (double backward).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MACE_PYTHON = ROOT / ".cache" / "mace-venv" / "bin" / "python"
MODES = ("fwd", "fwd+bwd", "forces")


# ---------------------------------------------------------------- data (main venv only)
def periodic_records(n: int, seed: int = 0):
    """Perturbed, strained supercells of rocksalt, fcc, diamond and perovskite prototypes, 8-20 atoms."""
    from mpa_dist.model.transforms import crystal, supercell
    rng = np.random.default_rng(seed)
    protos = [
        ([11, 17], [[0, 0, 0], [.5, .5, .5]], 2.82 * (np.ones((3, 3)) - np.eye(3)), (2, 2, 2)),
        ([29], [[0, 0, 0]], 1.8 * (np.ones((3, 3)) - np.eye(3)), (2, 2, 3)),
        ([14, 14], [[0, 0, 0], [.25, .25, .25]], 2.72 * (np.ones((3, 3)) - np.eye(3)), (2, 2, 2)),
        ([38, 22, 8, 8, 8], [[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]], 3.9 * np.eye(3), (2, 2, 1)),
    ]
    out = []
    for k in range(n):
        z, frac, cell, reps = protos[k % len(protos)]
        rec = supercell(crystal(f"p{k}", z, frac, cell), reps)
        strain = np.eye(3) + rng.normal(0, 0.02, (3, 3))
        rec.cell = rec.cell @ strain
        rec.positions = rec.positions @ strain + rng.normal(0, 0.05, rec.positions.shape)
        out.append(rec)
    return out


def build_batches(args) -> tuple[dict, dict]:
    from mpa_dist.data.batch import collate_records
    from mpa_dist.data.sources import qm9
    rows = qm9.entries(args.qm9)
    mols = [r for _, row in rows.iterrows() for r in qm9.to_records(row.to_dict())]
    sets = {"qm9": [mols[i:i + args.batch] for i in range(0, len(mols), args.batch)],
            "periodic": [periodic_records(args.crystals)[i:i + args.crystal_batch]
                         for i in range(0, args.crystals, args.crystal_batch)]}
    arrays, info = {}, {}
    for name, chunks in sets.items():
        batches = [collate_records(c, args.cutoff) for c in chunks]
        for k, b in enumerate(batches):
            for field in ("numbers", "pos", "edge_index", "edge_shift", "cell", "graph", "num_nodes"):
                arrays[f"{name}/{k}/{field}"] = getattr(b, field).numpy()
        info[name] = {"batches": len(batches), "graphs": sum(b.num_graphs for b in batches),
                      "atoms": sum(int(b.num_nodes.sum()) for b in batches),
                      "edges": sum(b.edge_index.shape[1] for b in batches)}
    return arrays, info


# ---------------------------------------------------------------- timing (both venvs)
def peak_rss_mb() -> float:
    """VmHWM of this process (ru_maxrss would carry the parent's peak across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_modes(step, batches, modes, warmup: int, repeats: int) -> dict:
    out = {"rss_before_mb": round(peak_rss_mb())}
    for mode in modes:
        for b in batches[:warmup]:
            step(b, mode)
        passes = []
        for _ in range(repeats):  # the best pass: other work on a shared machine only ever slows one down
            t0 = time.perf_counter()
            for b in batches:
                step(b, mode)
            passes.append(time.perf_counter() - t0)
        dt = min(passes)
        out[mode] = {"s": dt, "peak_rss_mb": round(peak_rss_mb())}
    return out


def load_arrays(path: str, name: str, dtype):
    import torch
    data = np.load(path)
    n = len({k.split("/")[1] for k in data.files if k.startswith(name + "/")})
    return [{f: torch.as_tensor(data[f"{name}/{k}/{f}"]) for f in
             ("numbers", "pos", "edge_index", "edge_shift", "cell", "graph", "num_nodes")} for k in range(n)]


def worker_ours(args) -> dict:
    import torch
    import yaml
    from mpa_dist.data.batch import Batch
    from mpa_dist.model import build_model
    dtype = getattr(torch, args.dtype)
    cfg = yaml.safe_load((ROOT / "configs" / "model" / f"{args.size}.yaml").read_text())
    torch.manual_seed(0)
    plain = build_model(cfg, [{"name": "energy", "readout": "sum"}]).to(dtype)
    with_forces = build_model(cfg, [{"name": "energy", "readout": "energy", "forces": True}]).to(dtype).train()
    with_forces.load_state_dict(plain.state_dict())
    batches = []
    for a in load_arrays(args.npz, args.data, dtype):
        g = len(a["num_nodes"])
        batches.append(Batch(numbers=a["numbers"], pos=a["pos"].to(dtype), atom_weight=torch.ones(len(a["numbers"]), dtype=dtype),
                             graph=a["graph"], edge_index=a["edge_index"], edge_shift=a["edge_shift"].to(dtype),
                             cell=a["cell"].to(dtype), num_nodes=a["num_nodes"], input_kind=torch.zeros(g, dtype=torch.long),
                             source=torch.zeros(g, dtype=torch.long), conditions={}, labels={}, label_mask={}))

    def step(b, mode):
        if mode == "fwd":
            with torch.no_grad():
                plain(b)
        elif mode == "fwd+bwd":
            plain(b)["energy"].pow(2).mean().backward()
        else:
            out = with_forces(b)
            (out["energy"].pow(2).mean() + out["forces"].pow(2).mean()).backward()

    res = time_modes(step, batches, args.modes.split(","), args.warmup, args.repeats)
    res["params"] = sum(p.numel() for p in plain.parameters())
    return res


def worker_mace(args) -> dict:
    import torch
    from e3nn import o3
    from mace.modules import RealAgnosticInteractionBlock, RealAgnosticResidualInteractionBlock, ScaleShiftMACE
    dtype = getattr(torch, args.dtype)
    torch.set_default_dtype(dtype)
    raw = load_arrays(args.npz, args.data, dtype)
    z_table = sorted({int(z) for a in raw for z in a["numbers"]})
    avg_nb = sum(a["edge_index"].shape[1] for a in raw) / sum(len(a["numbers"]) for a in raw)

    def make(channels: int):
        torch.manual_seed(0)
        return ScaleShiftMACE(
            r_max=args.cutoff, num_bessel=8, num_polynomial_cutoff=5, max_ell=3,
            interaction_cls=RealAgnosticResidualInteractionBlock, interaction_cls_first=RealAgnosticInteractionBlock,
            num_interactions=2, num_elements=len(z_table), hidden_irreps=o3.Irreps(f"{channels}x0e+{channels}x1o"),
            MLP_irreps=o3.Irreps("16x0e"), atomic_energies=np.zeros(len(z_table)), avg_num_neighbors=avg_nb,
            atomic_numbers=z_table, correlation=3, gate=torch.nn.functional.silu,
            atomic_inter_scale=1.0, atomic_inter_shift=0.0).to(dtype)

    count = lambda m: sum(p.numel() for p in m.parameters())
    best = min((8, 16, 24, 32, 48, 64, 96, 128, 192, 256), key=lambda c: abs(np.log(count(make(c)) / args.params)))
    model = make(best)
    index = {z: k for k, z in enumerate(z_table)}
    batches = []
    for a in raw:
        g = len(a["num_nodes"])
        onehot = torch.nn.functional.one_hot(torch.tensor([index[int(z)] for z in a["numbers"]]), len(z_table)).to(dtype)
        shifts = torch.einsum("ek,ekl->el", a["edge_shift"].to(dtype), a["cell"].to(dtype)[a["graph"][a["edge_index"][0]]])
        batches.append({"positions": a["pos"].to(dtype), "node_attrs": onehot, "edge_index": a["edge_index"],
                        "shifts": shifts, "unit_shifts": a["edge_shift"].to(dtype), "cell": a["cell"].to(dtype).reshape(-1, 3),
                        "batch": a["graph"], "ptr": torch.cat([torch.zeros(1, dtype=torch.long), a["num_nodes"].cumsum(0)]),
                        "weight": torch.ones(g), "head": torch.zeros(g, dtype=torch.long)})

    def step(b, mode):
        b = dict(b, positions=b["positions"].detach().clone())
        if mode == "fwd":
            with torch.no_grad():
                model(b, training=False, compute_force=False)
        elif mode == "fwd+bwd":
            model(b, training=True, compute_force=False)["energy"].pow(2).mean().backward()
        else:
            out = model(b, training=True, compute_force=True)
            (out["energy"].pow(2).mean() + out["forces"].pow(2).mean()).backward()

    res = time_modes(step, batches, args.modes.split(","), args.warmup, args.repeats)
    res["params"] = count(model)
    res["config"] = f"{best}x0e+{best}x1o, max_ell 3, correlation 3, 2 interactions"
    return res


# ---------------------------------------------------------------- driver
def run_worker(python: str, kind: str, args, npz: str, data: str, **extra) -> dict:
    cmd = [python, __file__, "--worker", kind, "--npz", npz, "--data", data, "--dtype", args.dtype,
           "--cutoff", str(args.cutoff), "--modes", args.modes, "--warmup", str(args.warmup),
           "--repeats", str(args.repeats)] + [x for k, v in extra.items() for x in (f"--{k}", str(v))]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
    if kind == "mace":  # e3nn 0.4.4 pickles its own constants, which torch >= 2.6 refuses by default
        env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="tiny,small")
    p.add_argument("--qm9", type=int, default=256, help="first N QM9 molecules")
    p.add_argument("--batch", type=int, default=32, help="molecules per batch")
    p.add_argument("--crystals", type=int, default=32)
    p.add_argument("--crystal-batch", type=int, default=8)
    p.add_argument("--cutoff", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3, help="timed passes over the batches; the best is reported")
    p.add_argument("--no-mace", action="store_true")
    p.add_argument("--mace-python", default=str(MACE_PYTHON))
    p.add_argument("--json", help="also write the results here")
    # worker-only
    p.add_argument("--worker", choices=["ours", "mace"])
    p.add_argument("--npz"), p.add_argument("--data"), p.add_argument("--size"), p.add_argument("--params", type=int)
    args = p.parse_args(argv)

    if args.worker:
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        res = worker_ours(args) if args.worker == "ours" else worker_mace(args)
        print("RESULT " + json.dumps(res))
        return

    arrays, info = build_batches(args)
    mace_ok = not args.no_mace and Path(args.mace_python).exists()
    if not args.no_mace and not mace_ok:
        print(f"# MACE venv not found at {args.mace_python}: see docs/benchmarks.md to create it; running ours only")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        npz = str(Path(tmp) / "batches.npz")
        np.savez(npz, **arrays)
        for data in info:
            for size in args.sizes.split(","):
                ours = run_worker(sys.executable, "ours", args, npz, data, size=size)
                rows.append(("ours", size, data, ours))
                if mace_ok:
                    rows.append(("mace", size, data, run_worker(args.mace_python, "mace", args, npz, data,
                                                                params=ours["params"])))
    print(f"# {os.cpu_count()} CPU cores, {args.threads} threads, {args.dtype}, cutoff {args.cutoff} A")
    for data, d in info.items():
        print(f"# {data}: {d['batches']} batches, {d['graphs']} graphs, {d['atoms']} atoms, "
              f"{d['edges'] / d['atoms']:.1f} edges/atom")
    print(f"{'model':6} {'size':6} {'params':>9} {'data':9} {'mode':8} {'graphs/s':>9} {'atoms/s':>9} {'peak MB':>8}")
    for model, size, data, r in rows:
        for mode in args.modes.split(","):
            s = r[mode]["s"]
            print(f"{model:6} {size:6} {r['params']:>9,} {data:9} {mode:8} {info[data]['graphs'] / s:>9.1f} "
                  f"{info[data]['atoms'] / s:>9.0f} {r[mode]['peak_rss_mb']:>8}")
    for model, size, data, r in rows:
        if model == "mace":
            print(f"# mace for {size} on {data}: {r['config']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"info": info, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
