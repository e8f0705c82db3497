"""Fit a baseline on a task's training entries, select it on validation, score it once on test.

The entries are read from the task's own shards (the keys every shard sidecar lists as written),
so a baseline sees exactly the training, validation and test entries the model arms see.
Errors are in the units the task trains in (log10 of the value for log-transformed tasks), as
the model arms' are.
"""

from __future__ import annotations

import math
import time

import numpy as np
from omegaconf import OmegaConf

from mpa_dist.baselines.features import featurize
from mpa_dist.data.catalog import registry
from mpa_dist.report.audit import shard_samples
from mpa_dist.train import plan

BASELINES = ("dummy", "rf", "chemprop")
MOLECULES_ONLY = ("chemprop",)  # a molecular-graph model: no row for composition tasks
RF_CONFIGS = ({"max_features": 0.33}, {"max_features": 1.0})  # chosen on validation
RF_TREES = 200


def _target(values: np.ndarray, transform: str) -> np.ndarray:
    if transform == "log10":
        return np.log10(values)
    if transform == "log10_neg":
        return np.log10(-values)
    return values


def task_splits(data_cfg, task: str, limit: int | None) -> dict[str, tuple[list[str], np.ndarray, list[str]]]:
    """split -> (texts: SMILES or formulas, targets in training units, entry keys) of the entries the
    shards hold, in the order their sidecars list them."""
    folder = plan.ensure_shards(data_cfg, task, limit)
    ds = registry.get(task)
    spec = ds.tasks[0]
    rows = ds.entries().set_index("key")
    col = "smiles" if ds.input == "molecule" else "formula"
    out = {}
    for split in ("train", "val", "test"):
        keys = [k for k, *_ in shard_samples(folder, (split,))]
        sel = rows.loc[keys]
        out[split] = (list(sel[col].astype(str)), _target(sel["value"].to_numpy(np.float64), spec.transform), keys)
    return out


def _model(arm: str, classification: bool, seed: int, cfg: dict, threads: int):
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    if arm == "dummy":
        return DummyClassifier(strategy="most_frequent") if classification else DummyRegressor(strategy="mean")
    forest = RandomForestClassifier if classification else RandomForestRegressor
    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                         forest(n_estimators=RF_TREES, random_state=seed, n_jobs=threads, **cfg))


def _metrics(y: np.ndarray, p: np.ndarray, classification: bool) -> dict:
    if classification:
        return {"accuracy": float(np.mean(p.round() == y.round())), "mae": math.nan, "rmse": math.nan}
    e = p - y
    return {"mae": float(np.abs(e).mean()), "rmse": float(np.sqrt((e ** 2).mean())), "accuracy": math.nan}


def applies(arm: str, task: str) -> bool:
    return arm not in MOLECULES_ONLY or registry.get(task).input == "molecule"


def _fit_sklearn(arm: str, splits: dict, kind: str, classification: bool, seed: int, threads: int):
    """(test predictions, validation score, chosen settings): the settings chosen on validation."""
    feats = {s: featurize(kind, texts) if arm == "rf" else np.zeros((len(texts), 1))
             for s, (texts, *_) in splits.items()}
    best, best_score, best_cfg = None, math.inf, {}
    for cfg in (RF_CONFIGS if arm == "rf" else ({},)):
        m = _model(arm, classification, seed, cfg, threads).fit(feats["train"], splits["train"][1])
        val = _metrics(splits["val"][1], m.predict(feats["val"]), classification)
        score = -val["accuracy"] if classification else val["mae"]
        if score < best_score:
            best, best_score, best_cfg = m, score, cfg
    return best.predict(feats["test"]), best_score, best_cfg


def run_baseline(arm: str, base: dict, task: str, scheme: str, seed: int, threads: int = 1) -> dict:
    """A results row (same columns as the model arms') plus the test labels, predictions and entry keys."""
    if arm not in BASELINES:
        raise ValueError(f"unknown baseline {arm!r}; known: {BASELINES}")
    if not applies(arm, task):
        raise ValueError(f"baseline {arm!r} takes molecules; {task} is a {registry.get(task).input} task")
    t0 = time.time()
    data = OmegaConf.create(base["data"])
    data.scheme = scheme
    ds = registry.get(task)
    spec = ds.tasks[0]
    classification = spec.classification
    splits = task_splits(data, task, base["size"]["expt"])
    if arm == "chemprop":
        from mpa_dist.baselines import chemprop_mpnn

        p, best_score, best_cfg = chemprop_mpnn.fit_predict(splits, classification, seed, threads,
                                                            epochs=base["sweep"]["chemprop_epochs"])
    else:
        p, best_score, best_cfg = _fit_sklearn(arm, splits, ds.input, classification, seed, threads)
    y = splits["test"][1]
    unit = spec.unit if spec.transform == "none" else f"{spec.transform}({spec.unit})"
    row = {"task": task, "arm": arm, "split": scheme, "seed": seed, **_metrics(y, p, classification),
           "n_test": len(y), "n_train": len(splits["train"][1]), "unit": unit, "val_score": best_score, "steps": 0, "model": "",
           "seconds": time.time() - t0, **{f"hp:{k}": v for k, v in best_cfg.items()}}
    keys = np.array(splits["test"][2], dtype=object)
    return {"row": row, "y": y, "p": p, "keys": keys, "classification": classification, "unit": unit}
