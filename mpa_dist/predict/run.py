"""What `launch/predict.py` does: load the model(s) (without ckpt=, the one shipped inside the
package), read the inputs, predict, write the table, and print a short summary; or, with list=true
or card=true, describe the model. A bad checkpoint or unreadable input is a one-line error."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from mpa_dist.model.outputs import label_of
from mpa_dist.predict import release
from mpa_dist.predict.files import InputError, Inputs, from_list, read_inputs
from mpa_dist.predict.predictor import Predictor
from mpa_dist.train.checkpoint import CheckpointError, read_meta

_ARG = {"smiles": "smiles", "formula": "formulas", "structure": "structures"}
_KINDS = {"smiles": "molecules", "formula": "compositions", "structure": "structures"}


def _ckpt(cfg):
    """ckpt=, or the model shipped inside the package when it is not given."""
    if cfg.ckpt is None:
        from mpa_dist import pretrained

        if not pretrained.available():
            raise SystemExit(f"error: {pretrained.missing_message()}")
        return pretrained.model_path()
    return OmegaConf.to_container(cfg.ckpt) if OmegaConf.is_list(cfg.ckpt) else str(cfg.ckpt)


def describe(cfg, ckpt) -> str:
    """list=true: the properties with units, test MAE and training sizes; card=true: the model card."""
    if isinstance(ckpt, list):
        raise SystemExit("error: list= and card= describe one model, not an ensemble")
    try:
        rel = release.read_release(ckpt)
        if cfg.get("card"):
            if rel is None:
                raise SystemExit(f"error: {ckpt} is a plain export, not a release: it has no model card (mpa-release "
                                 f"builds one from a sweep)")
            return release.model_card(rel)
        if rel is not None:
            return release.properties_text(rel)
        meta = read_meta(ckpt)
    except CheckpointError as e:
        raise SystemExit(f"error: {e}") from None
    rows = [{"head": h["name"], "input": meta.tasks.get(label_of(h["name"]), {}).get("input"),
             "unit": meta.tasks.get(label_of(h["name"]), {}).get("unit", "") or "1"} for h in meta.heads]
    return (f"{len(rows)} heads of {ckpt} ({meta.phase}; a plain export: its test errors are in its run folder)\n"
            + pd.DataFrame(rows).to_string(index=False))


def run_predict(cfg) -> pd.DataFrame | None:
    if cfg.get("list") or cfg.get("card"):
        print(describe(cfg, _ckpt(cfg)))
        return None
    device = str(cfg.device)
    given = [k for k in ("input", "smiles", "formulas") if cfg.get(k) is not None]
    if len(given) != 1:
        raise SystemExit(f"mpa-predict: give exactly one of input=<file>, smiles=[...], formulas=[...] "
                         f"({'none' if not given else ', '.join(given)} given), or list=true or card=true")
    ckpt = _ckpt(cfg)
    try:
        if given[0] == "input":
            inputs = read_inputs(str(cfg.input), cfg.smiles_column, cfg.formula_column)
        else:
            items = cfg[given[0]]
            inputs = from_list("smiles" if given[0] == "smiles" else "formula",
                               list(items) if OmegaConf.is_list(items) else [items])
        predictor = Predictor.load(ckpt, device, cfg.max_atoms)
    except (CheckpointError, InputError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from None
    pred = predictor.predict(**{_ARG[inputs.kind]: inputs.items}, conformers=cfg.conformers, seed=cfg.seed,
                             conditions=inputs.conditions, batch_atoms=cfg.batch_atoms, progress=cfg.progress)
    table = join(inputs, pred)
    out = Path(cfg.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.6g")
    print(summary(table, str(cfg.input) if given[0] == "input" else f"the command line ({given[0]}=)", out))
    if predictor.release:
        n = sum(h.column in pred.columns for h in predictor.heads)
        print(f"{n} properties of {len(predictor.heads)} take this input ({_KINDS[inputs.kind]}); `mpa-predict "
              f"list=true` lists them with their test MAE, `card=true` prints the model card")
    warned = int((table["warning"].fillna("").astype(str) != "").sum())
    if warned:
        print(f"{warned} rows with a warning (an element outside the training data): see the warning column")
    return table


def join(inputs: Inputs, pred: pd.DataFrame) -> pd.DataFrame:
    """The input's own columns first (an id, the SMILES as given), then the predictions."""
    if inputs.kind != "structure":
        pred = pred.drop(columns=[inputs.kind])
    cols = inputs.columns.reset_index(drop=True)
    cols = cols.rename(columns={c: f"{c} (input)" for c in cols.columns if c in pred.columns})
    return pd.concat([cols, pred], axis=1)


def summary(table: pd.DataFrame, source: str, out: Path) -> str:
    failed = table["error"].fillna("").astype(str)
    failed = failed[failed != ""]
    done = len(table) - len(failed)
    lines = [f"read {len(table)} rows from {source}: predicted {done}, failed {len(failed)} -> {out}"]
    for reason, n in Counter(_pattern(r) for r in failed).most_common():
        lines.append(f"  {n:6d} x {reason}")
    return "\n".join(lines)


def _pattern(reason: str) -> str:
    """A failure reason with its specifics blanked, so that like failures are counted together."""
    reason = re.sub(r"'[^']*'", "'...'", reason)
    return re.sub(r"\b\d+(\.\d+)?\b", "N", reason)[:160]
