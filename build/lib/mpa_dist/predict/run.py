"""What `launch/predict.py` does: load the model(s), read the inputs, predict, write the
table, and print a short summary. A bad checkpoint or unreadable input is a one-line error."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from mpa_dist.predict.files import InputError, Inputs, from_list, read_inputs
from mpa_dist.predict.predictor import Predictor
from mpa_dist.train.checkpoint import CheckpointError

_ARG = {"smiles": "smiles", "formula": "formulas", "structure": "structures"}


def run_predict(cfg) -> pd.DataFrame:
    ckpt = OmegaConf.to_container(cfg.ckpt) if OmegaConf.is_list(cfg.ckpt) else str(cfg.ckpt)
    device = str(cfg.device)
    given = [k for k in ("input", "smiles", "formulas") if cfg.get(k) is not None]
    if len(given) != 1:
        raise SystemExit(f"mpa-predict: give exactly one of input=<file>, smiles=[...], formulas=[...] "
                         f"({'none' if not given else ', '.join(given)} given)")
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
