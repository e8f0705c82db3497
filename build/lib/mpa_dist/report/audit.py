"""The exposure audit: how many evaluation compounds of a post-training task appear in the data
that trained its checkpoint chain.

It reads what actually trained: the lineage recorded in the export (every phase's sources and
their shard folders) and, for each source, the compounds its training shards hold (the shard
sidecars list every written sample). The evaluation compounds are those of the task's
validation and test shards. A match is the same compound, or the same formula when either side
is known only by its formula (mpa_dist.data.exposure). Under the default protocol the figure is 0.

    python launch/audit.py ckpt=runs/demo/sweep/best/boiling_point-mpa-random-s0/model
"""

from __future__ import annotations

import functools
from pathlib import Path

from mpa_dist.data import location
from mpa_dist.data.catalog.splits import EVALUATION
from mpa_dist.data.exposure import EvaluationSet
from mpa_dist.data.loader import manifest


@functools.lru_cache(maxsize=64)
def shard_samples(path: str, splits: tuple[str, ...]) -> tuple[tuple[str, str, str, str], ...]:
    """(key, compound, kind, formula) of every sample written to the given splits of a shard folder."""
    out = []
    for s in manifest(path)["shards"]:
        if s["split"] in splits:
            side = location.read_json(location.join(path, s["name"].removesuffix(".tar") + ".json"))
            if "samples" not in side:
                raise ValueError(f"{path}/{s['name']}: its sidecar lists no samples (shards written before the "
                                 f"audit existed): write them again")
            out.extend(tuple(x) for x in side["samples"])
    return tuple(out)


def evaluation_set(task_shards: str) -> EvaluationSet:
    compounds, formulas, formula_level = {}, {}, {}
    for _, c, k, f in shard_samples(task_shards, EVALUATION):
        compounds[c] = c
        formulas.setdefault(f, c)
        if k == "formula":
            formula_level.setdefault(f, c)
    return EvaluationSet(compounds, formulas, formula_level)


def _eval_folder(lineage: list[dict]) -> str:
    last = lineage[-1] if lineage else {}
    exp = [s for s in last.get("sources", []) if s["kind"] == "experimental"]
    if last.get("phase") != "posttrain" or len(exp) != 1:
        raise ValueError("the audit needs a post-trained model (its task's validation and test shards), or "
                         "eval=<that task's shard folder>")
    return exp[0]["path"]


def audit(meta: dict, eval_folder: str | None = None) -> dict:
    """{exposed, evaluation_compounds, unknown_phases, by_source: [{phase, dataset, labels, exposed, examples}]}."""
    lineage = meta.lineage
    folder = eval_folder or _eval_folder(lineage)
    ev = evaluation_set(folder)
    hit_all, rows, unknown = set(), [], []
    for phase in lineage:
        if phase.get("unknown"):
            unknown.append(phase.get("phase"))
            continue
        for src in phase["sources"]:
            hits = {ev.hit(c, k, f) for _, c, k, f in shard_samples(src["path"], ("train",))} - {None}
            hits = {h.removeprefix("same formula as the ") for h in hits}
            hit_all |= hits
            rows.append({"phase": phase["phase"], "dataset": src["dataset"], "labels": src["labels"],
                         "exposed": len(hits), "examples": sorted(hits)[:5]})
    return {"exposed": len(hit_all), "evaluation_compounds": len(ev.compounds), "eval_folder": folder,
            "privileged": bool(meta.privileged), "unknown_phases": unknown, "by_source": rows}


def summary_line(a: dict) -> str:
    s = (f"exposure: {a['exposed']} of {a['evaluation_compounds']} evaluation compounds appear in the training data "
         f"of the chain ({len(a['by_source'])} sources over {len({r['phase'] for r in a['by_source']})} phases)")
    if a["unknown_phases"]:
        s += f"; UNKNOWN for phases {a['unknown_phases']} (exported without lineage)"
    return s


def audit_export(path: str | Path, eval_folder: str | None = None) -> dict:
    from mpa_dist.train.checkpoint import read_meta

    return audit(read_meta(path), eval_folder)
