"""Paired bootstrap intervals: is one model's test error below another's on the same entries,
or is the difference within what a test set of this size can tell apart?

Two arms' absolute errors are matched on the test entries they share (by entry key; with several
seeds, each entry's error is first averaged over the seeds). The entries are resampled with
replacement, both arms together, and the 2.5 and 97.5 percentiles of 100 (MAE_a / MAE_b - 1) over
the resamples bound the change. An interval that holds 0 is neither a win nor a loss on this test
set; it says nothing about the split's other draws or the backbone's training seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_BOOT = 2000
LEVEL = 95


def entry_errors(scored: list[dict], task: str, scheme: str, arm: str) -> pd.Series | None:
    """|prediction - label| per test entry (index: entry key) of one arm, averaged over its seeds;
    None for a classification task, or where entries cannot be matched (no keys, a key twice, more
    than one value per entry)."""
    runs = [s for s in scored if (s["task"], s["scheme"], s["arm"]) == (task, scheme, arm)]
    if not runs or any(s.get("classification") or s.get("keys") is None for s in runs):
        return None
    per_seed = []
    for s in runs:
        y, p, keys = np.asarray(s["y"], float), np.asarray(s["p"], float), list(s["keys"])
        if not len(y) == len(p) == len(keys):  # several components per entry: no one error to pair
            return None
        e = pd.Series(np.abs(p - y), index=keys)
        if e.index.has_duplicates:
            return None
        per_seed.append(e)
    return pd.concat(per_seed, axis=1, join="inner").mean(axis=1)


def paired_change(a: pd.Series, b: pd.Series, n_boot: int = N_BOOT, seed: int = 0) -> dict | None:
    """{change_%, lo, hi, n}: the change of MAE from b to a in %, and its paired bootstrap interval,
    on the entries both hold; None where they share fewer than 2 entries or b's MAE is 0."""
    common = a.index.intersection(b.index)
    if len(common) < 2:
        return None
    ea, eb = a[common].to_numpy(), b[common].to_numpy()
    if eb.mean() == 0:
        return None
    idx = np.random.default_rng(seed).integers(0, len(common), (n_boot, len(common)))
    ratio = 100 * (ea[idx].mean(1) / np.maximum(eb[idx].mean(1), np.finfo(float).tiny) - 1)
    lo, hi = np.percentile(ratio, [(100 - LEVEL) / 2, 100 - (100 - LEVEL) / 2])
    return {"change_%": 100 * (ea.mean() / eb.mean() - 1), "lo": float(lo), "hi": float(hi), "n": len(common)}


def all_pairs(scored: list[dict], arms: list[str]) -> dict[tuple[str, str, str, str], dict]:
    """(task, scheme, arm a, arm b) -> paired_change(a, b), for every ordered pair of the given arms
    that both have matched errors on a task."""
    out = {}
    for task, scheme in sorted({(s["task"], s["scheme"]) for s in scored}):
        errs = {arm: entry_errors(scored, task, scheme, arm) for arm in arms}
        for a in arms:
            for b in arms:
                if a != b and errs[a] is not None and errs[b] is not None:
                    c = paired_change(errs[a], errs[b])
                    if c is not None:
                        out[(task, scheme, a, b)] = c
    return out


def interval_text(c: dict | None) -> str:
    return "-" if c is None else f"[{c['lo']:+.1f}, {c['hi']:+.1f}]"


def side(c: dict | None) -> int:
    """-1: a clearly below b (interval under 0); +1: clearly above; 0: within the interval, or unknown."""
    if c is None:
        return 0
    return -1 if c["hi"] < 0 else (1 if c["lo"] > 0 else 0)
