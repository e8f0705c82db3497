"""The sweep's report.md written from synthetic results: what it must say before anything else."""

import numpy as np
import pandas as pd
import pytest


def _inputs():
    rng = np.random.default_rng(0)
    rows, scored = [], []
    for task, unit in (("boiling_point", "K"), ("expt_gap", "eV")):
        keys = np.array([f"{task}/{i}" for i in range(40)], dtype=object)
        y = rng.normal(size=40) * 10
        for arm, scale in (("mpa", 0.5), ("direct", 1.0), ("dummy", 3.0), ("rf", 1.5)):
            p = y + scale * np.abs(rng.normal(size=40))
            rows.append({"task": task, "arm": arm, "split": "random", "seed": 0, "mae": float(np.abs(p - y).mean()),
                         "rmse": float(np.sqrt(((p - y) ** 2).mean())), "accuracy": np.nan, "n_test": 40,
                         "n_train": 300, "unit": unit, "val_score": 1.0, "steps": 10, "model": "",
                         **({"exposed": 0, "eval_compounds": 80} if arm in ("mpa", "direct") else {})})
            scored.append({"task": task, "scheme": "random", "arm": arm, "seed": 0, "keys": keys, "y": y, "p": p,
                           "classification": False, "unit": unit})
    trials = pd.DataFrame({"task": ["boiling_point", "expt_gap"] * 2, "arm": ["mpa", "mpa", "direct", "direct"],
                           "best_score": [1.0] * 4, "seconds": [5.0] * 4})
    base = {"name": "synthetic", "model": {"channels": 16, "num_layers": 2}, "steps": 12,
            "finetune": {"epochs": 2, "lp_epochs": 10, "ensemble": 1},
            "sweep": {"tasks": ["boiling_point", "expt_gap"], "arms": {"mpa": "m", "direct": "d"},
                      "schemes": ["random"], "seeds": [0], "space": {"optim.lr": {"loguniform": [1e-4, 1e-2]}},
                      "num_samples": 1, "space_seed": 0}}
    info = {"trials": 4, "failed": 0, "wall_s": 20.0, "slots": 2, "utilisation": 0.5}
    return rows, scored, trials, info, base


@pytest.mark.parametrize("privileged", [True, False])
def test_a_privileged_sweep_says_so_in_the_reports_first_line(tmp_path, privileged):
    """data.privileged=true (first-principles values of evaluation compounds kept in training): the report's
    first line says so, before its title; a default sweep's report starts with its title."""
    from mpa_dist.report.sweep_report import write_report

    rows, scored, trials, info, base = _inputs()
    text = write_report(tmp_path, rows, scored, trials, info | {"privileged": privileged}, base)
    first = (tmp_path / "report.md").read_text().splitlines()[0]
    assert text.splitlines()[0] == first
    if privileged:
        assert first == ("**PRIVILEGED: first-principles values of evaluation compounds were in the training data "
                         "(data.privileged=true); these errors are not a measure of transfer.**")
        assert text.count("PRIVILEGED") == 1 and "# Post-training sweep: synthetic" in text.splitlines()[:3]
    else:
        assert first == "# Post-training sweep: synthetic" and "PRIVILEGED" not in text
