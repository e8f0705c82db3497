"""The configurations a sweep tries: `num_samples` draws from the search space, seeded, and
the SAME draws for every task, arm, scheme and seed, so that the arms get equal search
budgets and are compared configuration for configuration."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from ray import tune

DOMAINS = {"choice": lambda v: tune.choice(list(v)), "loguniform": lambda v: tune.loguniform(*v),
           "uniform": lambda v: tune.uniform(*v), "randint": lambda v: tune.randint(*v),
           "lograndint": lambda v: tune.lograndint(*v)}


def domain(key: str, spec) -> tune.search.sample.Domain:
    if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in DOMAINS:
        raise ValueError(f"sweep.space.{key}: write one of {sorted(DOMAINS)} with its arguments, e.g. "
                         f"{{loguniform: [1e-4, 1e-2]}} or {{choice: [full, llrd]}}; got {spec!r}")
    (kind, args), = spec.items()
    return DOMAINS[kind](list(args))


def draw(space: dict, num_samples: int, seed: int = 0) -> list[dict]:
    """num_samples configurations {dotted key: value}, each crossed with every value of the `grid`
    keys ({grid: [lp, lp_ft, full]}: every strategy gets the same draws); with an empty space, one."""
    rng = np.random.RandomState(seed)
    grid = {k: list(next(iter(v.values()))) for k, v in space.items() if isinstance(v, Mapping) and "grid" in v}
    doms = {k: domain(k, v) for k, v in space.items() if k not in grid}
    out = []
    for _ in range(max(num_samples, 1) if doms else 1):
        out.append({k: _plain(d.sample(random_state=rng)) for k, d in doms.items()})
    for key, values in grid.items():
        out = [{**c, key: v} for c in out for v in values]
    return out


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def param_space(sw: dict) -> dict:
    """Tune's grid: task x arm x (scheme, seed) x configuration (sw: the plain sweep config). The same seeds in
    every scheme cross as two grids; seeds per scheme (sweep.seeds_by_scheme) are one grid of `cell`s."""
    from mpa_dist.tune.config import cells

    space = {"task": tune.grid_search(list(sw["tasks"])), "arm": tune.grid_search(list(sw["arms"])),
             "hp": tune.grid_search(draw(sw["space"], sw["num_samples"], sw["space_seed"]))}
    if sw.get("seeds_by_scheme"):
        return space | {"cell": tune.grid_search([{"scheme": s, "seed": k} for s, k in cells(sw)])}
    return space | {"scheme": tune.grid_search(list(sw["schemes"])), "seed": tune.grid_search(list(sw["seeds"]))}


def flat(config: dict) -> dict:
    """A trial's config with its `cell` (if any) as `scheme` and `seed`."""
    cell = config.get("cell")
    return {k: v for k, v in config.items() if k != "cell"} | (dict(cell) if cell else {})


GROUP = ("task", "arm", "scheme", "seed")  # trials that compete for one result


def group_of(config: dict) -> tuple:
    config = flat(config)
    return tuple(config[k] for k in GROUP)
