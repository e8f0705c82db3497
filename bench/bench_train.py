"""Training throughput and peak memory per ZeRO stage, for 1 and 2 ranks, in fp32 and bf16
(autocast), on the same data.

    python bench/bench_train.py [--model small] [--steps 40] [--qm9 3000] [--precision fp32,bf16]

Each configuration is a real `launch/pretrain.py` run (plain python for 1 rank, the
deepspeed launcher for 2) on the same QM9 shards; graphs/s and atoms/s are summed over
ranks and measured over the last logging window (after warm-up).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run(ranks: int, stage: int, precision: str, args, tmp: Path) -> dict:
    run_dir = tmp / f"r{ranks}z{stage}{precision}"
    over = [f"model={args.model}", "size=smoke", f"size.qm9={args.qm9}", "~data.sources.mlearn",
            "~data.sources.mp_li_o", f"steps={args.steps}", f"log_every={args.steps // 2}", f"eval_every={10**6}",
            f"ckpt_every={10**6}", f"deepspeed=zero{stage}", f"run_dir={run_dir}", f"data.shards_root={tmp / 'shards'}",
            "progress=false", f"size.max_atoms={args.max_atoms}", "size.max_edges=100000", f"precision={precision}"]
    launcher = [sys.executable] if ranks == 1 else [sys.executable, "-m", "deepspeed.launcher.runner",
                                                   "--num_gpus", str(ranks), "--master_port", "29561"]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, args.threads // ranks))}
    p = subprocess.run(launcher + [str(ROOT / "launch" / "pretrain.py"), *over], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": p.stderr[-500:]}
    return json.loads((run_dir / "result.json").read_text())["speed"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="small")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--qm9", type=int, default=3000)
    ap.add_argument("--max-atoms", type=int, default=600)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--stages", default="0,1,2,3")
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--precision", default="fp32", help="comma-separated: fp32, bf16")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; model {args.model}; QM9 batches of <= {args.max_atoms} atoms")
    print(f"{'ranks':>5} {'zero':>4} {'precision':>9} {'graphs/s':>9} {'atoms/s':>9} {'peak MB (rank 0)':>17}")
    with tempfile.TemporaryDirectory() as tmp:
        for ranks in map(int, args.ranks.split(",")):
            for stage in map(int, args.stages.split(",")):
                for precision in args.precision.split(","):
                    r = run(ranks, stage, precision, args, Path(tmp))
                    head = f"{ranks:>5} {stage:>4} {precision:>9}"
                    if "error" in r:
                        print(f"{head} failed: {r['error']}")
                    else:
                        print(f"{head} {r['graphs_per_s']:>9.1f} {r['atoms_per_s']:>9.0f} "
                              f"{r['peak_mb_rank0']:>17.0f}", flush=True)


if __name__ == "__main__":
    main()
