"""An experiment's whole chain, resumable: the catalogue, pre-training, mid-training on each split scheme
the sweep scores, then the post-training sweep and its report.

    python launch/chain.py experiment=every_task name=every_task            (make every-task)
    python launch/chain.py experiment=every_task name=every_task_s1 seed=1  (a second whole chain)

Killed at any point and started again with the same command, it continues where it stopped: a phase with
a result (its run folder's result.json) is not run again, an interrupted phase resumes from its last
checkpoint (the phases' own exact resume), and the sweep resumes Tune's state with its finished trials,
scores and baselines (sweep.resume=true). Each phase runs as its own process (the `mpa-*` commands): each
sets up torch.distributed and DeepSpeed once, as it does when run alone (`python -m mpa_dist <command>`).

The overrides are passed to every phase; `sweep=` names the sweep preset (default: the experiment's name).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hydra import compose, initialize_config_dir

from mpa_dist.cli import CONFIGS


@dataclass(frozen=True)
class Step:
    label: str  # what the progress line calls it
    command: str  # the console command (mpa-<command>)
    overrides: tuple[str, ...]
    done: Path | None  # the file whose presence means the step has its result; None: always run (idempotent)


def _compose(config: str, overrides: list[str]):
    import mpa_dist.train.resolvers  # noqa: F401  (the configs' resolvers and group schemas)

    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        return compose(config, overrides=overrides)


def plan(overrides: list[str]) -> list[Step]:
    """The chain's steps for these overrides, in order."""
    experiment = next((o.split("=", 1)[1] for o in overrides if o.startswith("experiment=")), None)
    if not experiment:
        raise ValueError("chain: name the experiment (experiment=every_task, experiment=demo, ...)")
    if not any(o.startswith("sweep=") for o in overrides):
        overrides = [*overrides, f"sweep={experiment}"]
    phase_overrides = [o for o in overrides if not o.startswith(("sweep=", "sweep."))]
    post = _compose("posttrain", overrides)
    schemes = list(post.sweep.schemes)
    steps = [Step("catalogue", "catalog", ("kind=experimental",), None),
             Step("pre-training", "pretrain", tuple(phase_overrides),
                  Path(_compose("pretrain", phase_overrides).run_dir) / "result.json")]
    for s in schemes:
        o = (*phase_overrides, f"data.scheme={s}")
        steps.append(Step(f"mid-training ({s} split)", "midtrain", o, Path(_compose("midtrain", list(o)).run_dir)
                          / "result.json"))
    steps.append(Step(f"post-training sweep ({', '.join(schemes)})", "posttrain", (*overrides, "sweep.resume=true"),
                      Path(post.sweep.out) / "report.md"))
    return steps


def run(overrides: list[str]) -> None:
    steps = plan(overrides)
    t0 = time.time()
    timing = Timing(steps[-1].done.parent.parent / "chain.json")
    for i, step in enumerate(steps, 1):
        head = f"chain [{i}/{len(steps)}] {step.label}"
        if step.done is not None and step.done.exists():
            print(f"{head}: done before ({step.done}), not run again", flush=True)
            continue
        print(f"{head}: started at {_clock(time.time() - t0)} into this start of the chain", flush=True)
        t = time.time()
        code = subprocess.call([sys.executable, "-m", "mpa_dist", step.command, *step.overrides])
        timing.add(step.label, time.time() - t, finished=code == 0)
        if code != 0:
            raise SystemExit(f"{head}: exited with {code}; started again with the same command, the chain "
                             f"continues from this step")
        print(f"{head}: finished in {_clock(time.time() - t)}", flush=True)
    print(f"chain: every step done; {_clock(time.time() - t0)} in this start; the report: {steps[-1].done}",
          flush=True)


class Timing:
    """Wall seconds of each step, summed over every start of the chain (an interrupted start counts too), in
    runs/<name>/chain.json: what the chain cost from the catalogue to the report."""

    def __init__(self, path: Path):
        self.path = path
        self.steps = json.loads(path.read_text())["steps"] if path.exists() else {}

    def add(self, label: str, seconds: float, finished: bool) -> None:
        s = self.steps.setdefault(label, {"seconds": 0.0, "starts": 0, "finished": False})
        s["seconds"] += seconds
        s["starts"] += 1
        s["finished"] = finished
        self.path.parent.mkdir(parents=True, exist_ok=True)
        total = sum(v["seconds"] for v in self.steps.values())
        self.path.with_suffix(".tmp").write_text(json.dumps({"total_seconds": total, "steps": self.steps}, indent=1))
        self.path.with_suffix(".tmp").replace(self.path)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def main() -> None:
    args = sys.argv[1:]
    if args in (["--help"], ["-h"]):
        print(__doc__)
        return
    run(args)
