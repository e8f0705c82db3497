"""The `sweep` config node (configs/sweep/*.yaml), checked like every other group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import OmegaConf

from mpa_dist.train.schema import SCHEMES


@dataclass
class SweepSchema:
    tasks: Any = field(default_factory=list)  # catalogue task names
    # arm -> exported model it starts from ({scheme} is replaced by the split scheme); null: from scratch
    arms: dict = field(default_factory=dict)
    schemes: list = field(default_factory=lambda: ["random"])  # random | ood | fold0..fold4
    seeds: list = field(default_factory=lambda: [0])
    seeds_by_scheme: Optional[dict] = None  # {scheme: [seeds]}, instead of `seeds` for every scheme
    num_samples: int = 1  # configurations drawn from `space`; every (task, arm, scheme, seed) runs all of them
    space: dict = field(default_factory=dict)  # dotted config key -> {choice: [...]} | {loguniform: [a, b]} | ...
    space_seed: int = 0
    grace_period: int = 1  # ASHA: validation passes before a trial can be stopped
    reduction_factor: float = 2.0
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0  # fractional GPUs share one device between trials
    max_failures: int = 1  # retries of a failed trial (it resumes from its last checkpoint)
    address: Optional[str] = None  # an existing Ray cluster (ray://host:10001 or auto); null: local Ray
    num_cpus: Optional[int] = None  # local Ray: CPUs to use (null: all)
    dashboard: bool = False  # the Ray dashboard on dashboard_host:8265 (local Ray)
    dashboard_host: str = "127.0.0.1"  # localhost only unless told otherwise
    out: str = "runs/default/sweep"  # results.csv, report.md, plots and Tune's files
    resume: bool = False  # continue an interrupted sweep in `out`
    # baseline arms fitted on the same entries as the model arms, scored once on test: dummy, rf,
    # chemprop (Chemprop v2 on the molecular graph, molecular tasks only; an optional install)
    baselines: list = field(default_factory=lambda: ["dummy", "rf"])
    chemprop_epochs: int = 50  # Chemprop's own default; the best validation epoch is kept (patience 10)
    chemprop_cells: Optional[dict] = None  # {scheme: [seeds]} Chemprop is fitted in; null: every scheme and seed


def cells(sw) -> list[tuple[str, int]]:
    """(scheme, seed) of every group of a task and arm: `seeds` in every scheme, or `seeds_by_scheme`."""
    by = sw["seeds_by_scheme"] or {s: sw["seeds"] for s in sw["schemes"]}
    return [(s, int(k)) for s in sw["schemes"] for k in by[s]]


def check(node) -> Any:
    """The sweep node merged into its schema: an unknown key is an error."""
    sw = OmegaConf.merge(OmegaConf.structured(SweepSchema), node)
    if not sw.tasks or not sw.arms:
        raise ValueError("sweep: needs at least one task (sweep.tasks) and one arm (sweep.arms)")
    from mpa_dist.baselines import BASELINES

    for b in sw.baselines:
        if b not in BASELINES:
            raise ValueError(f"sweep.baselines: {b!r} is not one of {', '.join(BASELINES)}")
        if b in sw.arms:
            raise ValueError(f"sweep: {b!r} is both an arm and a baseline")
    if "chemprop" in sw.baselines:
        from mpa_dist.baselines.chemprop_mpnn import require

        require()  # before any trial runs, not after the sweep
    for s in sw.schemes:
        if s not in SCHEMES:
            raise ValueError(f"sweep.schemes: {s!r} is not one of {', '.join(SCHEMES)}")
    if sw.seeds_by_scheme is not None and set(sw.seeds_by_scheme) != set(sw.schemes):
        raise ValueError(f"sweep.seeds_by_scheme: its schemes {sorted(sw.seeds_by_scheme)} must be sweep.schemes "
                         f"{list(sw.schemes)}")
    if sw.chemprop_cells is not None and set(sw.chemprop_cells) - set(sw.schemes):
        raise ValueError(f"sweep.chemprop_cells: {sorted(set(sw.chemprop_cells) - set(sw.schemes))} are not among "
                         f"sweep.schemes {list(sw.schemes)}")
    return sw
