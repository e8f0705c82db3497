"""Paired bootstrap intervals of one arm's test MAE against another's, matched by entry key."""

import numpy as np
import pandas as pd
import pytest

from mpa_dist.data.record import conformer_key, entry_key
from mpa_dist.report import intervals
from mpa_dist.report.sweep_report import baseline_verdict, summary, verdict, with_intervals


def _scored(task, arm, keys, y, p, seed=0):
    return {"task": task, "scheme": "random", "arm": arm, "seed": seed, "keys": np.array(keys, dtype=object),
            "y": np.asarray(y, float), "p": np.asarray(p, float), "classification": False}


def test_a_clear_gain_lies_below_zero_and_noise_holds_it():
    rng = np.random.default_rng(0)
    keys = [f"k{i}" for i in range(150)]
    base = np.abs(rng.normal(size=150)) + 0.5
    a = pd.Series(base * 0.7, index=keys)  # 30% lower on every entry
    b = pd.Series(base, index=keys)
    c = intervals.paired_change(a, b)
    assert c["change_%"] == pytest.approx(-30.0) and c["hi"] < 0 and c["n"] == 150 and intervals.side(c) == -1
    # two arms whose errors are independent draws of one distribution: the interval holds 0
    e1, e2 = (pd.Series(np.abs(rng.normal(size=150)), index=keys) for _ in range(2))
    n = intervals.paired_change(e1, e2)
    assert n["lo"] < n["change_%"] < n["hi"] and intervals.side(n) == 0
    assert intervals.paired_change(a, b)["lo"] == c["lo"]  # a fixed resampling seed: the same report twice


def test_entries_are_matched_by_key_not_by_position():
    keys = ["a", "b", "c", "d"]
    y = np.array([1.0, 2.0, 3.0, 4.0])
    model = _scored("t", "mpa", keys, y, y + [0.1, 0.1, 0.1, 0.1])
    order = [3, 1, 0, 2]  # the baseline lists the same entries in another order
    rf = _scored("t", "rf", [keys[i] for i in order], y[order], y[order] + [1.0, 1.0, 1.0, 1.0])
    c = intervals.all_pairs([model, rf], ["mpa", "rf"])[("t", "random", "mpa", "rf")]
    assert c["change_%"] == pytest.approx(-90.0) and c["hi"] == pytest.approx(-90.0)
    # a key twice cannot be matched: no interval rather than a wrong one
    twice = _scored("t", "rf", ["a", "a", "c", "d"], y, y)
    assert intervals.entry_errors([twice], "t", "random", "rf") is None


def test_seeds_are_averaged_per_entry():
    keys = ["a", "b"]
    runs = [_scored("t", "mpa", keys, [0, 0], [1, 3], seed=0), _scored("t", "mpa", keys, [0, 0], [3, 1], seed=1)]
    e = intervals.entry_errors(runs, "t", "random", "mpa")
    assert e.to_dict() == {"a": 2.0, "b": 2.0}


def test_the_report_counts_only_changes_beyond_the_noise():
    rng = np.random.default_rng(1)
    keys = [f"k{i}" for i in range(200)]
    y = rng.normal(size=200) * 10
    err = np.abs(rng.normal(size=200)) + 1
    scored = [_scored("clear", "mpa", keys, y, y + 0.5 * err), _scored("clear", "direct", keys, y, y + err),
              _scored("clear", "rf", keys, y, y + 0.52 * rng.permutation(err)),
              _scored("noisy", "mpa", keys, y, y + rng.permutation(err)), _scored("noisy", "direct", keys, y, y + err),
              _scored("noisy", "rf", keys, y, y + 0.5 * err)]
    rows = [{"task": s["task"], "arm": s["arm"], "split": "random", "seed": 0, "mae": np.abs(s["p"] - s["y"]).mean(),
             "accuracy": np.nan, "n_test": 200, "unit": "K"} for s in scored]
    table = summary(pd.DataFrame(rows))
    pairs = intervals.all_pairs(scored, ["mpa", "direct", "rf"])
    shown = with_intervals(table, pairs).set_index("task")
    # -50% on every entry: every resample of the entries gives -50%, so the interval is that one point
    clear = pairs[("clear", "random", "mpa", "direct")]
    assert clear["change_%"] == pytest.approx(-50.0) and clear["n"] == 200
    assert clear["lo"] == pytest.approx(-50.0) and clear["hi"] == pytest.approx(-50.0)
    assert shown.loc["clear", "change_95%"] == "[-50.0, -50.0]"
    assert shown.loc["clear", "vs_baseline_95%"] != "-"
    text = "\n".join(verdict(table, pairs) + baseline_verdict(table, pairs))
    # mpa vs direct: 'clear' is a gain beyond the noise, 'noisy' (the same errors shuffled) is not
    assert "MPA better on 1, worse on 0, within it on 1" in text
    # the rf beats mpa on 'noisy' by ~2x, beyond the noise; on 'clear' mpa's 4% lead is within it
    assert "the random forest beats it on **1 of 2** tasks (beyond the test set's noise on 1; it beats the " \
           "random forest beyond it on 0)" in text


def test_an_entry_key_is_its_conformers_key_less_the_suffix():
    assert entry_key(conformer_key("bp/CCO", 3)) == "bp/CCO"
    assert entry_key("c/fe2o3") == "c/fe2o3" and entry_key("x/cat") == "x/cat"  # no conformer suffix
