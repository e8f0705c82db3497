"""What a run reports: TensorBoard scalars and a progress bar, on the rank that logs."""

from __future__ import annotations

import json
import resource
import time
from collections import defaultdict

import torch
from tqdm import tqdm

from mpa_dist.train import distributed as dist


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class RunLogger:
    def __init__(self, run_dir, total: int, start: int, progress: bool, outputs: list[str]):
        self.main = dist.is_main()
        self.outputs = sorted(outputs)  # the same list on every rank: the reduction has one shape
        self.tb = None
        if self.main:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tensorboard"))
            self.jsonl = open(run_dir / "losses.jsonl", "a")  # the same scalars as text: one line per flush
        self.bar = tqdm(total=total, initial=start, disable=not (progress and self.main), unit="step",
                        dynamic_ncols=True)
        self.reset()

    def reset(self):
        self.t0 = time.perf_counter()
        self.graphs = self.atoms = self.steps = 0
        self.loss = defaultdict(float)
        self.rows = defaultdict(int)
        self.mixture = defaultdict(int)
        self.corrupt = 0
        self.out_of_range = 0

    def batch(self, b, parts: dict, vocab_inv: dict[int, str]):
        self.corrupt += b.info.get("skipped", 0)
        self.out_of_range += b.info.get("out_of_range", 0)
        self.graphs += b.num_graphs
        self.atoms += b.num_atoms
        self.steps += 1
        for name, (s, n) in parts.items():
            self.loss[name] += s
            self.rows[name] += n
        for sid, n in zip(*torch.unique(b.source, return_counts=True)):
            self.mixture[vocab_inv.get(int(sid), "unknown")] += int(n)

    def flush(self, step: int, lr: float, grad_norm: float | None, device, skipped: int, loss: float):
        """All ranks call this: throughput and mixture are summed over ranks."""
        dt = time.perf_counter() - self.t0
        names = self.outputs
        sums = dist.all_sum(torch.tensor([self.graphs, self.atoms] + [self.loss[n] for n in names]
                                         + [self.rows[n] for n in names], dtype=torch.float64, device=device))
        graphs, atoms, k = float(sums[0]), float(sums[1]), len(names)
        # mean training loss per output over every rank's rows since the last flush
        per = {n: float(sums[2 + i]) / float(sums[2 + k + i]) for i, n in enumerate(names) if float(sums[2 + k + i])}
        if self.main:
            for n, v in per.items():
                self.tb.add_scalar(f"loss/{n}", v, step)
            self.tb.add_scalar("train/loss", loss, step)
            self.tb.add_scalar("train/lr", lr, step)
            if grad_norm is not None:
                self.tb.add_scalar("train/grad_norm", grad_norm, step)
            self.tb.add_scalar("speed/graphs_per_s", graphs / dt, step)
            self.tb.add_scalar("speed/atoms_per_s", atoms / dt, step)
            self.tb.add_scalar("memory/peak_mb_rank0", peak_memory_mb(device), step)
            self.tb.add_scalar("train/bad_steps_skipped", skipped, step)
            if self.corrupt:
                self.tb.add_scalar("data/corrupt_samples_skipped", self.corrupt, step)
            if self.out_of_range:
                self.tb.add_scalar("data/beyond_max_z_skipped", self.out_of_range, step)
            total = sum(self.mixture.values()) or 1
            for src, n in self.mixture.items():
                self.tb.add_scalar(f"mixture/{src}", n / total, step)
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", gps=f"{graphs / dt:.0f}")
            self.jsonl.write(json.dumps({"step": step, "loss": loss, "lr": lr, "losses": per}) + "\n")
            self.jsonl.flush()
        steps = self.steps
        self.reset()
        # graphs_per_step: structures one optimizer step draws over all ranks (the scaling study's
        # structures_per_step, for its epochs budget)
        return {"graphs_per_s": graphs / dt, "atoms_per_s": atoms / dt, "peak_mb_rank0": peak_memory_mb(device),
                "world_size": dist.world(), "graphs_per_step": graphs / steps if steps else 0.0}

    def scalars(self, prefix: str, values: dict, step: int):
        if self.main:
            for k, v in values.items():
                self.tb.add_scalar(f"{prefix}/{k}", v, step)
            self.tb.flush()

    def close(self):
        self.bar.close()
        if self.tb:
            self.tb.close()
            self.jsonl.close()
