"""Label statistics for normalisation, additive over shards.

Per label we keep counts, sums and sums of squares, and for scalar labels the sufficient
statistics of a least-squares fit of the value on the element counts (X^T X, X^T y). The
fit gives per-element linear references for extensive targets exactly, however the data
was split into shards.
"""

from __future__ import annotations

import numpy as np

from mpa_dist.data.record import Record

MAX_Z = 119


class LabelStats:
    def __init__(self):
        self.s: dict[str, dict] = {}

    def add(self, r: Record) -> None:
        counts = np.zeros(MAX_Z)
        np.add.at(counts, r.numbers, r.atom_weights)
        for name, lab in r.labels.items():
            v = lab.value.reshape(-1)
            d = self.s.setdefault(name, {"unit": lab.unit, "per_atom": lab.per_atom, "count": 0, "sum": 0.0,
                                         "sumsq": 0.0, "min": np.inf, "max": -np.inf, "atoms": 0.0,
                                         "xtx": np.zeros((MAX_Z, MAX_Z)), "xty": np.zeros(MAX_Z)})
            d["count"] += v.size
            d["sum"] += float(v.sum())
            d["sumsq"] += float((v * v).sum())
            d["min"] = min(d["min"], float(v.min()))
            d["max"] = max(d["max"], float(v.max()))
            d["atoms"] += float(counts.sum())
            if lab.value.ndim == 0:
                d["xtx"] += np.outer(counts, counts)
                d["xty"] += counts * float(lab.value)

    def to_json(self) -> dict:
        out = {}
        for name, d in self.s.items():
            els = np.nonzero(np.diag(d["xtx"]))[0]
            out[name] = {k: d[k] for k in ("unit", "per_atom", "count", "sum", "sumsq", "min", "max", "atoms")}
            out[name]["elements"] = els.tolist()
            out[name]["xtx"] = d["xtx"][np.ix_(els, els)].tolist()
            out[name]["xty"] = d["xty"][els].tolist()
        return out


def merge(parts: list[dict]) -> dict:
    """Sum per-shard statistics (from to_json) and derive mean, std and element references."""
    acc: dict[str, dict] = {}
    for part in parts:
        for name, d in part.items():
            a = acc.setdefault(name, {"unit": d["unit"], "per_atom": d["per_atom"], "count": 0, "sum": 0.0,
                                      "sumsq": 0.0, "min": np.inf, "max": -np.inf, "atoms": 0.0,
                                      "xtx": np.zeros((MAX_Z, MAX_Z)), "xty": np.zeros(MAX_Z)})
            for k in ("count", "sum", "sumsq", "atoms"):
                a[k] += d[k]
            a["min"], a["max"] = min(a["min"], d["min"]), max(a["max"], d["max"])
            els = np.array(d["elements"], dtype=int)
            if els.size:
                a["xtx"][np.ix_(els, els)] += np.array(d["xtx"])
                a["xty"][els] += np.array(d["xty"])
    return {name: _finish(a) for name, a in acc.items()}


def _finish(a: dict) -> dict:
    n = max(a["count"], 1)
    mean = a["sum"] / n
    out = {"unit": a["unit"], "per_atom": a["per_atom"], "count": a["count"], "mean": mean,
           "std": float(np.sqrt(max(a["sumsq"] / n - mean**2, 0.0))), "min": a["min"], "max": a["max"],
           "rms": float(np.sqrt(a["sumsq"] / n))}
    els = np.nonzero(np.diag(a["xtx"]))[0]
    if els.size:
        xtx, xty = a["xtx"][np.ix_(els, els)], a["xty"][els]
        ref = np.linalg.solve(xtx + 1e-8 * np.trace(xtx) / len(els) * np.eye(len(els)), xty)
        out["element_refs"] = {int(z): float(r) for z, r in zip(els, ref)}
        resid = (a["sumsq"] - 2 * ref @ xty + ref @ xtx @ ref) / n  # mean squared residual after refs
        out["residual_std"] = float(np.sqrt(max(resid, 0.0)))
    return out
