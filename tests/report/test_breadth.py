"""The report in the paper's form: per split, rows sorted by MPA's change, summaries by kind of input."""

import numpy as np
import pandas as pd

from mpa_dist.report import breadth
from mpa_dist.report.sweep_report import summary

# task -> (mpa, direct, rf, dummy): two molecular and two composition tasks of the catalogue
MAE = {"boiling_point": (20.0, 25.0, 24.0, 70.0), "flash_point": (12.0, 11.0, 14.0, 50.0),
       "expt_gap": (0.40, 0.50, 0.38, 1.1), "crc_density": (0.9, 1.0, 1.2, 2.0)}


def _results(split="random"):
    rows = []
    for task, values in MAE.items():
        for arm, v in zip(("mpa", "direct", "rf", "dummy"), values):
            rows.append({"task": task, "arm": arm, "split": split, "seed": 0, "mae": v, "accuracy": np.nan,
                         "n_test": 100, "unit": "u", "n_train": 800 if arm == "rf" else np.nan})
    return pd.DataFrame(rows)


def _pairs(split="random"):
    # intervals: boiling point clearly better, flash point clearly worse, the compositions within the noise
    return {("boiling_point", split, "mpa", "direct"): {"lo": -30.0, "hi": -10.0},
            ("flash_point", split, "mpa", "direct"): {"lo": 2.0, "hi": 15.0},
            ("expt_gap", split, "mpa", "direct"): {"lo": -40.0, "hi": 3.0},
            ("crc_density", split, "mpa", "direct"): {"lo": -25.0, "hi": 5.0}}


def test_one_row_per_property_sorted_by_the_change_with_kind_sizes_and_interval():
    table = summary(pd.concat([_results("random"), _results("ood")]))
    t = breadth.paper_table(table, _pairs(), "random")
    assert list(t["task"]) == ["boiling_point", "expt_gap", "crc_density", "flash_point"]  # -20, -20, -10, +9.1
    assert list(t["kind"]) == ["molecule", "composition", "composition", "molecule"]
    assert (t["n train / test"] == "800 / 100").all()
    assert t.loc[t["task"] == "boiling_point", "95% interval"].item() == "[-30.0, -10.0]"
    assert t["MPA vs direct %"].tolist() == sorted(t["MPA vs direct %"].tolist())
    assert set(breadth.paper_table(table, {}, "ood")["task"]) == set(MAE)  # one table per scheme


def test_summary_figures_for_all_tasks_and_each_kind():
    table = summary(_results())
    text = "\n".join(breadth.summary_lines(table, _pairs(), "random"))
    changes = [100 * (m / d - 1) for m, d, *_ in MAE.values()]
    assert f"mean **{np.mean(changes):+.1f}%**, median {np.median(changes):+.1f}%" in text
    assert "MPA better on **3 of 4** (75%), beyond the test set's noise better on 1 and worse on 1" in text
    assert "largest gains: boiling_point -20.0%, expt_gap -20.0%, crc_density -10.0%" in text
    # the molecules and the compositions apart
    assert "random split, molecules** (2 tasks with an MAE): MPA vs direct mean **-5.5%**" in text
    assert "random split, compositions** (2 tasks with an MAE): MPA vs direct mean **-15.0%**" in text
    # against the best baseline per task (the rf here): behind it on expt_gap only
    assert "at or below the best baseline (rf, per task) on **3 of 4** tasks (75%)" in text
    assert "largest gains: boiling_point -20.0%." in text  # a loss is never listed as a gain (flash point +9.1%)
    assert "mpa below the dummy on 4 of 4 tasks" in text


def test_the_bar_chart_of_every_task_is_written(tmp_path):
    table = summary(pd.concat([_results("random"), _results("ood")]))
    breadth.plot_change_intervals(table, {**_pairs("random"), **_pairs("ood")}, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000
