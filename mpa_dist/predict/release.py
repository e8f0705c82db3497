"""A release: the models a sweep selected for every task, merged into one export with the mid-trained
backbone once and one head per property, and what a user needs to trust it (release.json).

With cached-feature post-training (finetune.strategy lp) every MPA-arm model of a scheme is the frozen
mid-trained backbone plus its task's head, so the backbone is stored once. Anything else (a
fine-tuned backbone, another mid-trained model, another architecture) is refused, naming what differs.

    mpa-release sweep_dir=runs/every_task/sweep out=mpa_dist/pretrained

writes into `out`:
- model.safetensors, model.json: an ordinary export (mpa-predict ckpt=, Predictor.load,
  init_from= all take it). Its heads are `<task>@<task>` (each run with its task's source embedding),
  its phase is `midtrain`: the backbone is the mid-trained one, unchanged, so post-training from it is
  the MPA arm. The lineage is the chain's, with a last entry for the heads' training data.
- release.json: per head the unit, validation and test error, the rf's and the dummy's test error on the
  same split, the training and test sizes and the elements of the task's training data; the training
  sources with their licences, the exposure audit, the sweep, the package version and commit, and the
  weights' sha256. The model card (docs/model_card.md, `mpa-predict card=true`) is generated from it.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shutil
from pathlib import Path

import pandas as pd
import torch

from mpa_dist.data.offline import sha256_file
from mpa_dist.model import build_model
from mpa_dist.model.outputs import label_of
from mpa_dist.train import checkpoint

RELEASE_FILE = "release.json"
RELEASE_FORMAT = 1
MAX_MB = 20.0  # the shipped model's budget: weights and JSON together, in MB (10**6 bytes)
MODEL_ARMS = ("mpa",)  # the arm whose models share the mid-trained backbone
REPRODUCE = ("make every-task", "mpa-release sweep_dir=runs/every_task/sweep out=mpa_dist/pretrained")


class ReleaseError(ValueError):
    """The sweep's models cannot be merged into one release (or the release is too large)."""


# ---- reading the sweep -----------------------------------------------------------------------------
def _num(x) -> float | None:
    """A JSON number, or None for a missing value (NaN)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _int(x) -> int | None:
    x = _num(x)
    return None if x is None else int(x)


def selected(sweep: Path, arm: str = "mpa", scheme: str = "random", seed: int = 0,
             tasks: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the model rows of results.csv to merge, every row of that split and seed: the baselines' too)."""
    path = Path(sweep) / "results.csv"
    if not path.is_file():
        raise ReleaseError(f"{path} not found: give sweep_dir= the folder of a finished sweep (runs/<name>/sweep)")
    res = pd.read_csv(path)
    cell = res[(res["split"] == scheme) & (res["seed"] == seed)]
    rows = cell[cell["arm"] == arm]
    if tasks is not None:
        missing = sorted(set(tasks) - set(rows["task"]))
        if missing:
            raise ReleaseError(f"{path}: no {arm} model on the {scheme} split, seed {seed}, for {', '.join(missing)}")
        rows = rows[rows["task"].isin(tasks)]
    if rows.empty:
        have = sorted({(a, s, int(k)) for a, s, k in zip(res["arm"], res["split"], res["seed"])})
        raise ReleaseError(f"{path}: no {arm} model on the {scheme} split with seed {seed} (the sweep has "
                           f"{', '.join(f'{a}/{s}/s{k}' for a, s, k in have)})")
    if rows["task"].duplicated().any():
        twice = sorted(rows["task"][rows["task"].duplicated()])
        raise ReleaseError(f"{path}: several {arm} rows for one task, split and seed: {twice}")
    return rows.sort_values("task").reset_index(drop=True), cell


def _baseline(cell: pd.DataFrame, task: str, arm: str) -> dict:
    row = cell[(cell["task"] == task) & (cell["arm"] == arm)]
    if row.empty:
        return {}
    r = row.iloc[0]
    return {"mae": _num(r["mae"]), "accuracy": _num(r.get("accuracy")), "n_test": _int(r.get("n_test")),
            "n_train": _int(r.get("n_train"))}


def _exposure(sweep: Path, arm: str, scheme: str, seed: int) -> dict[str, dict]:
    path = Path(sweep) / "exposure.json"
    if not path.is_file():
        return {}
    return {e["task"]: e for e in json.loads(path.read_text())
            if e.get("arm") == arm and e.get("scheme") == scheme and int(e.get("seed", -1)) == seed}


# ---- merging -------------------------------------------------------------------------------------
def _is_head(key: str) -> bool:
    return key.startswith("heads.")


def _first_difference(a: dict, b: dict, prefix: str = "") -> str | None:
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            return f"{prefix}{k}"
        if isinstance(a[k], dict) and isinstance(b[k], dict):
            d = _first_difference(a[k], b[k], f"{prefix}{k}.")
            if d:
                return d
        elif a[k] != b[k]:
            return f"{prefix}{k} ({a[k]!r} vs {b[k]!r})"
    return None


def check_backbones(models: dict[str, tuple[dict, checkpoint.ExportMeta]]) -> None:
    """Every model has the first one's backbone, exactly: its architecture, source vocabulary, the
    export it started from and every tensor outside the heads. The error names what differs."""
    names = list(models)
    ref_name = names[0]
    ref_state, ref_meta = models[ref_name]
    ref_keys = {k for k in ref_state if not _is_head(k)}
    hint = ("a release holds one backbone: merge models post-trained on the frozen mid-trained backbone "
            "(finetune.strategy lp, the MPA arm of one scheme)")
    for name in names[1:]:
        state, meta = models[name]
        where = f"{name} and {ref_name}"
        diff = _first_difference(meta.model, ref_meta.model)
        if diff:
            raise ReleaseError(f"{where} have different architectures (model.{diff}): {hint}")
        if meta.source_vocab != ref_meta.source_vocab:
            raise ReleaseError(f"{where} have different source vocabularies: {hint}")
        keys = {k for k in state if not _is_head(k)}
        if keys != ref_keys:
            extra = sorted(keys ^ ref_keys)
            raise ReleaseError(f"{where} have different backbone tensors ({extra[0]} is in one only): {hint}")
        for k in sorted(ref_keys):
            a, b = state[k], ref_state[k]
            if a.shape != b.shape or a.dtype != b.dtype or not torch.equal(a, b):
                delta = (a.double() - b.double()).abs().max().item() if a.shape == b.shape else float("nan")
                raise ReleaseError(f"backbone tensor {k!r} differs between {where} (max |difference| {delta:.3g}): "
                                   f"{hint}")
        if (meta.init or {}).get("sha256") != (ref_meta.init or {}).get("sha256"):
            raise ReleaseError(f"{where} started from different exports ({(meta.init or {}).get('path')} vs "
                               f"{(ref_meta.init or {}).get('path')}): {hint}")


def _head_name(task: str, meta: checkpoint.ExportMeta) -> tuple[dict, str]:
    """The post-trained model's one head, and its name in the release: `<label>@<task>` (run with the
    task's source embedding, as it was trained)."""
    if meta.phase != "posttrain" or len(meta.heads) != 1:
        raise ReleaseError(f"{task}: a release merges post-trained models of one head each, not a {meta.phase} "
                           f"export with {len(meta.heads)} heads")
    spec = meta.heads[0]
    return spec, f"{label_of(spec['name'])}@{task}"


def merge(models: dict[str, tuple[dict, checkpoint.ExportMeta]]) -> tuple[dict, dict]:
    """(weights, model.json) of one export with the shared backbone and every task's head."""
    check_backbones(models)
    tasks = list(models)
    ref_state, ref_meta = models[tasks[0]]
    state = {k: v for k, v in ref_state.items() if not _is_head(k)}
    heads, task_info, transforms, post_sources, post_elements = [], {}, {}, [], set()
    for task in tasks:
        st, meta = models[task]
        spec, name = _head_name(task, meta)
        old = f"heads.{spec['name']}."
        state.update({f"heads.{name}." + k[len(old):]: v for k, v in st.items() if k.startswith(old)})
        heads.append({**spec, "name": name})
        label = label_of(spec["name"])
        if label in task_info:
            raise ReleaseError(f"two tasks predict the label {label!r}: {task} and another")
        task_info[label] = meta.tasks.get(label, {})
        if label in meta.transforms:
            transforms[label] = meta.transforms[label]
        last = meta.lineage[-1] if meta.lineage else {}
        post_sources += last.get("sources", [])
        post_elements |= set(last.get("elements", []))
    chain = ref_meta.lineage[:-1] if ref_meta.lineage and ref_meta.lineage[-1].get("phase") == "posttrain" \
        else list(ref_meta.lineage)
    lineage = [*chain, {"phase": "posttrain", "note": "one head per task, each fitted on its task's training "
                        "split on the frozen backbone", "scheme": ref_meta.split_scheme, "sources": post_sources,
                        "elements": sorted(post_elements)}]
    elements = sorted(set().union(*(set(m.elements or []) for _, m in models.values()))) or None
    meta = {"model": ref_meta.model, "heads": heads, "source_vocab": ref_meta.source_vocab,
            "phase": "midtrain", "step": ref_meta.step, "tasks": task_info, "transforms": transforms,
            "split_scheme": ref_meta.split_scheme, "data": tasks, "eval_schemes": ref_meta.eval_schemes,
            "privileged": any(m.privileged for _, m in models.values()), "elements": elements,
            "init": ref_meta.init, "lineage": lineage}
    model = build_model(meta["model"], heads)  # the merged weights describe a model, exactly
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ReleaseError(f"the merged weights do not load: {len(missing)} missing (e.g. {missing[:1]}), "
                           f"{len(unexpected)} unexpected (e.g. {unexpected[:1]})")
    return state, meta


# ---- what the release records ---------------------------------------------------------------------
def _licences(lineage: list[dict]) -> list[dict]:
    """Every dataset the chain trained on, with the phases it trained in and its sources' licences."""
    from mpa_dist.data.catalog import registry

    out: dict[str, dict] = {}
    for phase in lineage:
        for src in phase.get("sources", []):
            name = src["dataset"]
            entry = out.setdefault(name, {"dataset": name, "kind": src.get("kind"), "input": src.get("input"),
                                          "phases": [], "labels": set(), "sources": None})
            if phase.get("phase") not in entry["phases"]:
                entry["phases"].append(phase.get("phase"))
            entry["labels"] |= set(src.get("labels", []))
    for name, entry in out.items():
        try:
            spec = registry.get(name)
            entry["sources"] = [{"name": s.name, "licence": s.licence, "citation": s.citation,
                                 "estimated": s.estimated} for s in spec.sources]
        except (KeyError, ValueError, OSError):
            entry["sources"] = [{"name": name, "licence": "unknown: not a catalogue dataset", "citation": "",
                                 "estimated": False}]
        entry["labels"] = sorted(entry["labels"])
    return list(out.values())


def _hyperparameters(row: pd.Series) -> dict:
    """The selected configuration (results.csv's hp: columns that are set), as JSON values."""
    out = {}
    for k, v in row.items():
        if not str(k).startswith("hp:") or v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        out[k[3:]] = v.item() if hasattr(v, "item") else v
    return out


def _head_record(name: str, task: str, row: pd.Series, cell: pd.DataFrame, meta: checkpoint.ExportMeta,
                 spec: dict, exposure: dict) -> dict:
    label = label_of(spec["name"])
    info = meta.tasks.get(label, {})
    classification = spec.get("readout") == "classification" or bool(info.get("classification"))
    rf, dummy, chemprop = (_baseline(cell, task, arm) for arm in ("rf", "dummy", "chemprop"))
    val = _num(row.get("val_score"))
    last = meta.lineage[-1] if meta.lineage else {}
    return {
        "name": name, "task": task, "property": info.get("property", task), "input": info.get("input"),
        "unit": info.get("unit", ""), "transform": meta.transforms.get(label, info.get("transform", "none")),
        "metric": "accuracy" if classification else "mae",
        "metric_unit": "" if classification else str(row.get("unit", info.get("unit", ""))),
        "readout": spec.get("readout"), "range": spec.get("range"),
        "val": (-val if classification and val is not None else val),
        "test_mae": _num(row.get("mae")), "test_accuracy": _num(row.get("accuracy")),
        "rf_test_mae": rf.get("mae"), "rf_test_accuracy": rf.get("accuracy"),
        "dummy_test_mae": dummy.get("mae"), "dummy_test_accuracy": dummy.get("accuracy"),
        "chemprop_test_mae": chemprop.get("mae"), "chemprop_test_accuracy": chemprop.get("accuracy"),
        "n_train": rf.get("n_train") or dummy.get("n_train"), "n_test": _int(row.get("n_test")),
        "exposed": exposure.get("exposed"), "evaluation_compounds": exposure.get("evaluation_compounds"),
        "elements": last.get("elements"), "hyperparameters": _hyperparameters(row),
        "model": str(row["model"]), "model_sha256": meta.sha256,
    }


def release_record(sweep: Path, rows: pd.DataFrame, cell: pd.DataFrame,
                   models: dict[str, tuple[dict, checkpoint.ExportMeta]], meta: dict, arm: str, scheme: str,
                   seed: int) -> dict:
    exposure = _exposure(sweep, arm, scheme, seed)
    heads = []
    for (_, row), h in zip(rows.iterrows(), meta["heads"], strict=True):
        task = row["task"]
        heads.append(_head_record(h["name"], task, row, cell, models[task][1], models[task][1].heads[0],
                                  exposure.get(task, {})))
    audited = [exposure[t] for t in rows["task"] if t in exposure]
    info_path = Path(sweep) / "sweep.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    n_params = sum(v.numel() for k, v in models[rows["task"].iloc[0]][0].items() if not _is_head(k))
    return {
        "release_format": RELEASE_FORMAT,
        "built": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "sweep": {"path": str(Path(sweep).resolve()), "arm": arm, "scheme": scheme, "seed": seed,
                  "trials": info.get("trials"), "failed": info.get("failed"), "wall_s": info.get("wall_s")},
        "backbone": {"model": meta["model"], "parameters": int(n_params), "init": meta["init"]},
        "heads": heads,
        "training_data": _licences(meta["lineage"]),
        "exposure": {"audited": len(audited), "of": len(heads), "exposed": sum(a.get("exposed", 0) for a in audited),
                     "evaluation_compounds": sum(a.get("evaluation_compounds", 0) for a in audited),
                     "unknown_phases": sorted({p for a in audited for p in a.get("unknown_phases", [])}),
                     "privileged": bool(meta["privileged"])},
        "reproduce": list(REPRODUCE),
    }


# ---- building and reading --------------------------------------------------------------------------
def build_release(sweep: str | Path, out: str | Path, arm: str = "mpa", scheme: str = "random", seed: int = 0,
                  tasks: list[str] | None = None, max_mb: float = MAX_MB) -> dict:
    """Merge the sweep's selected `arm` models of (scheme, seed), one per task, into `out`; returns release.json."""
    sweep, out = Path(sweep), Path(out)
    rows, cell = selected(sweep, arm, scheme, seed, tasks)
    models = {}
    for _, row in rows.iterrows():
        path = sweep / str(row["model"])
        if not checkpoint.exists(path):
            raise ReleaseError(f"{path}: the model results.csv names for {row['task']} is not there")
        models[row["task"]] = checkpoint.load_exported(path)  # its sha256 checked
    state, meta = merge(models)
    record = release_record(sweep, rows, cell, models, meta, arm, scheme, seed)
    # tasks the sweep scored (a baseline's row) without a model of this arm: a failed trial, say
    record["left_out"] = sorted(set(cell["task"]) - set(rows["task"])) if tasks is None else []
    tmp = out / ".release.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        checkpoint.export(state, meta, tmp / "model")
        written = checkpoint.read_meta(tmp / "model")
        weights = tmp / "model.safetensors"
        record |= {"mpa_dist_version": written.mpa_dist_version, "commit": written.commit,
                   "torch": written.torch, "e3nn": written.e3nn,
                   "weights": {"file": "model.safetensors", "sha256": sha256_file(weights),
                               "bytes": weights.stat().st_size}}
        assert record["weights"]["sha256"] == written.sha256
        (tmp / RELEASE_FILE).write_text(json.dumps(record, indent=1))
        size = sum((tmp / f).stat().st_size for f in ("model.safetensors", "model.json", RELEASE_FILE))
        if size > max_mb * 1e6:
            raise ReleaseError(f"the release is {size / 1e6:.1f} MB, over its {max_mb:g} MB budget (max_mb): "
                               f"{len(meta['heads'])} heads on a backbone of {record['backbone']['parameters']:,} "
                               f"parameters; nothing was written to {out}")
        checkpoint.load_model(tmp / "model")  # loads as users load it
        for f in ("model.safetensors", "model.json", RELEASE_FILE):
            os.chmod(tmp / f, 0o644)  # package data: readable by every user of an installed package
            os.replace(tmp / f, out / f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return record


def read_release(path: str | Path) -> dict | None:
    """release.json next to an export (given as its folder or its model path), or None for a plain export."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    f = folder / RELEASE_FILE
    if not f.is_file():
        return None
    try:
        rel = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise checkpoint.CheckpointError(f"{f} is not valid JSON: {e}") from None
    if not isinstance(rel, dict) or not isinstance(rel.get("release_format"), int) \
            or rel["release_format"] > RELEASE_FORMAT:
        raise checkpoint.CheckpointError(f"{f}: release format {rel.get('release_format')!r} is newer than this "
                                         f"mpa_dist reads ({RELEASE_FORMAT}): upgrade mpa_dist")
    return rel


def verify(path: str | Path) -> dict:
    """The release at `path`: its weights match the sha256 its release.json and model.json record."""
    rel = read_release(path)
    if rel is None:
        raise checkpoint.CheckpointError(f"{path}: no {RELEASE_FILE} (not a release)")
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    weights = folder / rel["weights"]["file"]
    got = sha256_file(weights)
    if got != rel["weights"]["sha256"] or got != checkpoint.read_meta(folder).sha256:
        raise checkpoint.CheckpointError(f"{weights} does not match the sha256 recorded in {folder / RELEASE_FILE}: "
                                         f"the weights were modified or damaged after the release was built")
    return rel


# ---- what users read ------------------------------------------------------------------------------
def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}g}"


def properties(rel: dict) -> pd.DataFrame:
    """One row per property: its input kind, unit, test error beside the rf and the dummy, and sizes."""
    rows = []
    for h in rel["heads"]:
        acc = h["metric"] == "accuracy"
        rows.append({"property": h["task"], "input": h["input"], "unit": h["unit"] or "1",
                     "metric": "accuracy" if acc else f"MAE [{h['metric_unit'] or h['unit']}]",
                     "test": h["test_accuracy"] if acc else h["test_mae"],
                     "rf": h["rf_test_accuracy"] if acc else h["rf_test_mae"],
                     "dummy": h["dummy_test_accuracy"] if acc else h["dummy_test_mae"],
                     "n_train": h["n_train"], "n_test": h["n_test"], "column": h["name"]})
    return pd.DataFrame(rows)


def properties_text(rel: dict) -> str:
    df = properties(rel)
    for c in ("test", "rf", "dummy"):
        df[c] = df[c].map(_fmt)
    for c in ("n_train", "n_test"):
        df[c] = df[c].map(lambda x: "-" if x is None or (isinstance(x, float) and math.isnan(x)) else str(int(x)))
    head = (f"{len(df)} properties ({rel['sweep']['scheme']} split, seed {rel['sweep']['seed']}; test errors on "
            f"entries no phase trained on; rf and dummy on the same split)")
    text = head + "\n" + df.drop(columns=["column"]).to_string(index=False)
    if rel.get("left_out"):
        text += (f"\nnot in the release (the sweep has no {rel['sweep']['arm']} model for them): "
                 f"{', '.join(rel['left_out'])}")
    return text


def _beats(h: dict) -> str:
    if h["metric"] == "accuracy":
        a, b = h["test_accuracy"], h["rf_test_accuracy"]
        return "-" if a is None or b is None else ("yes" if a > b else "no")
    a, b = h["test_mae"], h["rf_test_mae"]
    return "-" if a is None or b is None else ("yes" if a < b else "no")


def _architecture(bb: dict) -> str:
    m = bb["model"]
    return (f"{bb['parameters']:,} parameters: {m.get('num_layers')} layers, {m.get('channels')} channels, lmax "
            f"{m.get('lmax')}, cutoff {m.get('cutoff')} A")


def model_card(rel: dict) -> str:
    """The model card, from release.json alone (docs/model_card.md is this text)."""
    heads, sw, bb, ex = rel["heads"], rel["sweep"], rel["backbone"], rel["exposure"]
    w = rel["weights"]
    molecular = sum(h["input"] == "molecule" for h in heads)
    composition = sum(h["input"] == "composition" for h in heads)
    regress = [h for h in heads if h["metric"] == "mae" and h["test_mae"] is not None
               and h["rf_test_mae"] is not None]
    ahead = sum(h["test_mae"] < h["rf_test_mae"] for h in regress)
    chemprop = any(h.get("chemprop_test_mae") is not None or h.get("chemprop_test_accuracy") is not None
                   for h in heads)
    lines = [
        "# Model card: the shipped multi-property model",
        "",
        "<!-- generated by mpa_dist.predict.release.model_card from mpa_dist/pretrained/release.json: "
        "do not edit by hand; `mpa-release` writes it again -->",
        "",
        f"One equivariant backbone ({_architecture(bb)}), "
        f"pre-trained on first-principles data and mid-trained on experimental and first-principles data, with "
        f"{len(heads)} post-trained heads, one per experimental property ({molecular} molecular, taking SMILES or "
        f"molecular structures; {composition} on compositions, taking formulas). Each head was fitted on its task's "
        f"training split with the backbone frozen (cached-feature post-training, the MPA arm), and selected on "
        f"validation by the sweep.",
        "",
        f"- mpa_dist {rel.get('mpa_dist_version')}, commit `{rel.get('commit')}`, built {rel['built']}; "
        f"torch {rel.get('torch')}, e3nn {rel.get('e3nn')}",
        f"- weights: `{w['file']}`, {w['bytes'] / 1e6:.2f} MB, sha256 `{w['sha256']}`",
        f"- from the sweep in `{Path(sw['path']).name}` (arm {sw['arm']}, {sw['scheme']} split, seed {sw['seed']}; "
        f"{sw.get('trials')} trials)",
        "",
        "## Use",
        "",
        "```bash",
        "mpa-predict smiles=[CCO,c1ccccc1O]     # every molecular property, in its unit, to predictions.csv",
        "mpa-predict formulas=[NaCl,Fe2O3]      # every composition property",
        "mpa-predict list=true                  # the properties, units, test MAE and training sizes",
        "mpa-predict card=true                  # this card",
        "mpa-posttrain finetune.task=my_assay.csv finetune=lp   # your own assay, from this model (MPA arm)",
        "```",
        "",
        "From Python: `Predictor.pretrained().predict(smiles=[...])` (`from mpa_dist.predict import Predictor`).",
        "Each prediction comes with its spread over 3-D conformers (`std` columns, SMILES only) and a `warning` "
        "that names the properties whose training data lacks an element of the input; an element that no phase "
        "trained on is an error for that row.",
        "",
        "## Properties",
        "",
        f"Test error of each head on its task's test split, beside a random forest (rf) and a dummy (the training "
        f"mean or majority class) fitted on the same training entries and scored on the same test entries. "
        f"The heads are ahead of the rf on {ahead} of {len(regress)} regression properties."
        + (" Chemprop v2 where the sweep fitted it (molecular properties), on the same entries." if chemprop else "")
        + (f" Not in the release (the sweep has no {sw['arm']} model for them): {', '.join(rel['left_out'])}."
           if rel.get("left_out") else ""),
        "",
        "| property | input | unit | metric | test | rf | dummy |" + (" Chemprop |" if chemprop else "")
        + " ahead of rf | validation | n_train | n_test |",
        "|---|---|---|---|---|---|---|" + ("---|" if chemprop else "") + "---|---|---|---|",
    ]
    for h in heads:
        acc = h["metric"] == "accuracy"
        metric = "accuracy" if acc else f"MAE [{h['metric_unit'] or h['unit']}]"
        test, rf, dummy = ((h["test_accuracy"], h["rf_test_accuracy"], h["dummy_test_accuracy"]) if acc else
                           (h["test_mae"], h["rf_test_mae"], h["dummy_test_mae"]))
        cp = f" {_fmt(h.get('chemprop_test_accuracy' if acc else 'chemprop_test_mae'))} |" if chemprop else ""
        lines.append(f"| {h['task']} | {h['input']} | {h['unit'] or '1'} | {metric} | {_fmt(test)} | {_fmt(rf)} | "
                     f"{_fmt(dummy)} |{cp} {_beats(h)} | {_fmt(h['val'])} | {h['n_train'] or '-'} | "
                     f"{h['n_test'] or '-'} |")
    lines += [
        "",
        "## Evaluation",
        "",
        f"- Splits by compound: under the {sw['scheme']} scheme a compound's split (train 80%, validation 10%, "
        f"test 10%) is a hash of the compound (a canonical SMILES, or the reduced formula), the same in every task "
        f"and every phase, so no phase trains on a compound that any task validates or tests on "
        f"(`mpa_dist/data/catalog/splits.py`).",
        f"- Exposure: {ex['exposed']} of {ex['evaluation_compounds']} evaluation compounds of the {ex['audited']} "
        f"audited properties (of {ex['of']}) appear in the training data of the chain (the sweep's audit of each "
        f"selected model, `exposure.json`)"
        + (f"; phases without lineage: {', '.join(ex['unknown_phases'])}" if ex["unknown_phases"] else "")
        + (". The chain trained on first-principles values of evaluation compounds (privileged)."
           if ex["privileged"] else "."),
        "- The configuration of each head was chosen on validation; the test split was scored once.",
        "",
        "## Training data",
        "",
        "| dataset | kind | input | phases | sources and licences |",
        "|---|---|---|---|---|",
    ]
    for d in rel["training_data"]:
        srcs = "; ".join(f"{s['name']}: {s['licence']}" + (" (estimated values)" if s.get("estimated") else "")
                         for s in d["sources"])
        lines.append(f"| {d['dataset']} | {d['kind']} | {d['input']} | {', '.join(d['phases'])} | {srcs} |")
    lines += [
        "",
        "Licences are those of the sources as the catalogue records them (`mpa-catalog`); several experimental "
        "compilations are proprietary or non-commercial (CC BY-NC): check them before commercial use of the "
        "predictions.",
        "",
        "## Intended use and limits",
        "",
        "- Intended: screening and ranking of molecules and inorganic compositions by experimental properties, "
        "and a starting point for your own assay (post-training from it, the MPA arm).",
        "- Each property is only as good as its test MAE above, measured on compounds like those of its "
        "training data; molecules or compositions far from them (other elements, sizes or chemistries) are "
        "extrapolations, and the `warning` column flags only the elements.",
        "- The `std` columns are the spread over conformers, not calibrated error bars. Composition properties "
        "see the formula only (no structure, no polymorph).",
        "- Properties with few training entries (`n_train`) and those where the rf is ahead are the least "
        "reliable; prefer the rf's or a measured value there.",
        "- Not for safety-critical decisions (a flash point, say) without a measurement.",
        "",
        "## Reproduce",
        "",
        "```bash",
        *rel["reproduce"],
        "```",
        "",
        "`make every-task` runs the chain of `experiment=every_task` (pre-training, mid-training on every "
        "experimental task, the sweep); `mpa-release` merges the sweep's selected MPA models of the random split, "
        "seed 0, into `mpa_dist/pretrained/` and writes this card.",
        "",
    ]
    return "\n".join(lines)
