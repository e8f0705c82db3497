"""Where a checkpoint comes from, and which run folder a run may resume.

Every export records its lineage: for each phase of its chain (pre-, mid-, post-training) the run
folder, the split scheme, and the data sources it trained on with their shard folders. The
exposure audit (mpa_dist/report/audit.py) reads it. A run resumes a folder's checkpoint only when
the folder's saved config is its own (keys that may change on a resume excepted) and it starts
from the same weights.
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

from mpa_dist.data import location
from mpa_dist.train.checkpoint import CKPT_DIR

# may differ between a run and its resume: how long, how often, how verbose, on which machine
RESUMABLE = ("progress", "log_every", "ckpt_every", "eval_every", "eval_batches", "steps", "max_bad_steps",
             "cluster", "size", "sweep", "run_dir", "name", "data.num_workers", "data.shard_workers",
             "data.shards_root", "finetune.results", "finetune.test")
PARENT_FILE = "parent.json"


def _abs(path: str) -> str:
    return path if location.is_remote(path) else str(Path(path).resolve())


def parent_of(cfg, init_meta) -> dict | None:
    """init_meta: the ExportMeta of cfg.init_from (None without one)."""
    if not cfg.init_from:
        return None
    return {"path": _abs(cfg.init_from), "sha256": init_meta.sha256, "phase": init_meta.phase,
            "lineage": init_meta.lineage or [{"phase": init_meta.phase, "unknown": True,
                                              "note": "exported before lineage was recorded"}],
            "eval_schemes": init_meta.eval_schemes, "privileged": bool(init_meta.privileged)}


def check_parent(cfg, init_meta) -> None:
    """The checkpoint a run starts from must not have trained on this scheme's evaluation entries."""
    if not init_meta:
        return
    scheme = cfg.data.scheme
    if init_meta.phase == "midtrain" and init_meta.split_scheme != scheme:
        raise ValueError(f"{cfg.init_from} was mid-trained on {init_meta.split_scheme!r} training splits: "
                         f"evaluating on the {scheme!r} split would leak held-out entries")
    if init_meta.privileged and not cfg.data.privileged:
        raise ValueError(f"{cfg.init_from} trained on first-principles values of evaluation compounds "
                         f"(data.privileged=true): say so with data.privileged=true, or start from another model")
    served = init_meta.eval_schemes
    if served is not None and scheme not in served and not cfg.data.privileged:
        raise ValueError(f"{cfg.init_from} left out the evaluation compounds of schemes {served} only, not of "
                         f"{scheme!r}: train it again with data.eval_schemes=[{', '.join([*served, scheme])}]")


def _flat(d, prefix="") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def config_differences(saved: dict, current: dict) -> list[str]:
    """`key: saved -> current` for every key that differs and may not change on a resume."""
    a, b = _flat(saved), _flat(current)
    keep = lambda k: not any(k == r or k.startswith(r + ".") for r in RESUMABLE)
    return [f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}" for k in sorted(set(a) | set(b))
            if keep(k) and a.get(k, "<absent>") != b.get(k, "<absent>")]


def check_resumable(run_dir: Path, cfg, parent: dict | None) -> None:
    """Refuses, in one line, to resume a checkpoint that another configuration wrote."""
    if not (run_dir / CKPT_DIR / "latest").exists():
        return
    saved_path = run_dir / "config.yaml"
    diffs = ["config.yaml: missing"] if not saved_path.exists() else config_differences(
        OmegaConf.to_container(OmegaConf.load(saved_path), resolve=True), OmegaConf.to_container(cfg, resolve=True))
    pf = run_dir / PARENT_FILE
    was = json.loads(pf.read_text()).get("sha256") if pf.exists() else None
    now = parent["sha256"] if parent else None
    if was != now:
        diffs.append(f"init_from weights (sha256): {str(was)[:12]} -> {str(now)[:12]}")
    if diffs:
        raise ValueError(f"{run_dir} holds a checkpoint of another run ({'; '.join(diffs[:6])}"
                         f"{'; ...' if len(diffs) > 6 else ''}): it is not resumed. Start fresh with another "
                         f"name= or run_dir=, or delete {run_dir}")


def write_parent(run_dir: Path, parent: dict | None) -> None:
    (run_dir / PARENT_FILE).write_text(json.dumps({k: v for k, v in (parent or {}).items() if k != "lineage"}))


def export_fields(cfg, parent: dict | None, srcs) -> dict:
    """The export's provenance: its chain's lineage with this phase appended."""
    me = {"phase": cfg.phase, "run_dir": _abs(cfg.run_dir), "scheme": cfg.data.scheme,
          "sources": [{"dataset": s.dataset, "path": _abs(s.path), "kind": s.manifest["kind"],
                       "input": s.manifest["input"], "labels": sorted({t["label"] for t in s.manifest["tasks"]})}
                      for s in srcs],
          "elements": sorted(set().union(*(train_elements(s.manifest) for s in srcs)))}
    lineage = (parent["lineage"] if parent else []) + [me]
    return {"eval_schemes": list(cfg.data.eval_schemes),
            "elements": sorted(set().union(*(p.get("elements", []) for p in lineage))),
            "privileged": bool(cfg.data.privileged or (parent and parent["privileged"])),
            "init": None if parent is None else {"path": parent["path"], "sha256": parent["sha256"]},
            "lineage": lineage}


def train_elements(manifest: dict) -> set[int]:
    """Atomic numbers in a source's training split: those its label statistics fit element references
    for (every element of a record with a scalar label)."""
    stats = manifest.get("splits", {}).get("train", {}).get("stats", {})
    return {int(z) for st in stats.values() for z in st.get("element_refs", {})}
