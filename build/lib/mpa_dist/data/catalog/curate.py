"""From raw source rows to one entry per compound: canonical keys, sanity ranges, repeats.

Every raw row ends either in a curated entry (possibly averaged with repeats) or in the
rejects table with its reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mpa_dist.data.catalog.spec import TaskSpec
from mpa_dist.data.readers.formula import reduced_formula
from mpa_dist.data.readers.smiles import canonical_smiles
from mpa_dist.data.record import RecordError

REJECT_COLUMNS = ["ref", "reason"]


def _canonical(spec: TaskSpec, text: str, ref: str) -> str:
    if spec.input == "molecule":
        return canonical_smiles(text, ref)
    return reduced_formula(text, ref)


def curate(spec: TaskSpec, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns (entries, rejects). entries: one row per group (canonical SMILES or reduced formula)."""
    col = "smiles" if spec.input == "molecule" else "formula"
    rejects: list[tuple[str, str]] = []
    keep = []
    lo, hi = spec.sanity
    for row in raw.itertuples(index=False):
        ref = str(row.ref)
        try:
            group = _canonical(spec, getattr(row, col), ref)
        except RecordError as e:
            rejects.append((ref, e.reason))
            continue
        v = float(row.value)
        if not np.isfinite(v):
            rejects.append((ref, "value is NaN or infinite"))
        elif not lo <= v <= hi:
            rejects.append((ref, f"value {v:g} {spec.unit} outside the sanity range [{lo:g}, {hi:g}]"))
        elif spec.transform == "log10" and v <= 0:
            rejects.append((ref, f"value {v:g} must be positive for a log10 transform"))
        else:
            keep.append((group, row))
    entries = []
    by_group: dict[str, list] = {}
    for group, row in keep:
        by_group.setdefault(group, []).append(row)
    for group, rows in by_group.items():
        entry, dropped = _merge(spec, group, rows)
        rejects.extend(dropped)
        if entry is not None:
            entries.append(entry)
    out = pd.DataFrame(entries)
    if len(out):
        out = out.sort_values("group", kind="stable").reset_index(drop=True)
    return out, pd.DataFrame(rejects, columns=REJECT_COLUMNS)


def _merge(spec: TaskSpec, group: str, rows: list) -> tuple[dict | None, list[tuple[str, str]]]:
    """Repeats of one compound: measured values win over estimated ones; values within
    `tolerance` of the median are averaged; a group without a clear majority is rejected."""
    measured = [r for r in rows if not bool(r.estimated)]
    use = measured or rows
    dropped = [(str(r.ref), "estimated value superseded by a measured one") for r in rows if r not in use]
    values = np.array([float(r.value) for r in use])
    if spec.transform == "log10":  # repeats of wide-range properties are compared in log10, as they train
        values = np.log10(values)
    if spec.classification:
        labels, counts = np.unique(values, return_counts=True)
        if (counts == counts.max()).sum() > 1:
            return None, dropped + [(str(r.ref), f"conflicting class labels for {group}: {sorted(values.tolist())}")
                                    for r in use]
        agree = values == labels[counts.argmax()]
    else:
        agree = np.abs(values - np.median(values)) <= spec.tolerance + 1e-12 * np.abs(values).max()
    if agree.sum() * 2 <= len(use):
        return None, dropped + [(str(r.ref), f"conflicting repeats for {group}: {sorted(values.tolist())} "
                                             f"differ by more than {spec.tolerance:g} {spec.unit}") for r in use]
    kept = [r for r, a in zip(use, agree) if a]
    dropped += [(str(r.ref), f"outlier among repeats for {group}: {float(r.value):g} vs median "
                             f"{np.median(values):g} {spec.unit}") for r, a in zip(use, agree) if not a]
    first = kept[0]
    col = "smiles" if spec.input == "molecule" else "formula"
    entry = {
        "group": group,
        col: getattr(first, col),
        "value": float(np.mean([float(r.value) for r in kept]) if spec.transform != "log10"
                       else 10 ** np.mean(np.log10([float(r.value) for r in kept]))),
        "n_values": len(kept),
        "sources": ";".join(sorted({str(r.source) for r in kept})),
        "estimated": not measured,
        "refs": ";".join(str(r.ref) for r in kept),
    }
    for opt in ("temperature_K", "fold"):
        if hasattr(first, opt):
            entry[opt] = getattr(first, opt)
    return entry, dropped
