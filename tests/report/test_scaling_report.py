"""The scaling study's verdict: the sign at each amount first (amount 0 included), then the trend in
the words of what it is. A loss that shrinks is never a gain that grows."""

import re

import numpy as np
import pandas as pd
import pytest

from mpa_dist.report import intervals
from mpa_dist.report.scaling_report import (comparisons, entry_errors, mean_paired_change, seed_changes, slope,
                                            slope_text, verdict, write_scaling)

AMOUNTS = (0, 1000, 3000, 10000)
GAIN_WORDS = ("the gain grows", "the gain shrinks", "turns into a gain", "a gain at every amount", "**better**")


def table(changes, half=1.5, amounts=AMOUNTS) -> pd.DataFrame:
    """One row per amount: MPA's change against direct (%) and a 95% interval of +- half around it."""
    c = np.asarray(changes, float)
    h = np.broadcast_to(np.asarray(half, float), c.shape)
    return pd.DataFrame({"dft_structures": list(amounts), "change_%": c, "low_%": c - h, "high_%": c + h})


def trend_of(v: str) -> str:
    return v.split("Trend from", 1)[1]


def test_the_gain_grows():
    v = verdict(table([-2.0, -5.0, -8.0, -11.0]))
    assert "at 0: **better** (-2.0%, 95% interval -3.5 to -0.5)" in v  # amount 0 is compared too
    assert "at 10,000: **better** (-11.0%" in v
    assert "Trend from 0 to 10,000: **the gain grows**" in v and "no gain" not in v


def test_a_shrinking_loss_is_the_loss_shrinking_never_a_growing_gain():
    # MPA behind direct at every amount, by less and less: the slope is as negative as a growing gain's
    v = verdict(table([12.0, 8.0, 5.0, 2.5]))
    assert "at 0: **worse** (+12.0%" in v and "at 10,000: **worse** (+2.5%" in v
    assert "**no gain at any amount**; **the loss shrinks**" in v
    assert not any(w in v for w in GAIN_WORDS)


def test_flat_gain():
    v = verdict(table([-5.0, -5.2, -4.8, -5.1]))
    assert "**flat: a gain at every amount, neither growing nor shrinking**" in v
    assert "grows" not in v and "shrinks" not in trend_of(v).replace("neither growing nor shrinking", "")


def test_the_published_table_has_no_gain_at_any_amount():
    """The demo study's all-task row (+3.5, +4.2, +7.3, +1.8% at 0, 1,000, 3,000, 10,000), whose slope over
    the three non-zero amounts (-2.51 points per decade, 95% -4.63 to -0.39) read as "the gain grows"."""
    t = table([3.5, 4.2, 7.3, 1.8], half=[1.0, 3.0, 5.0, 3.0])
    paired = {"change_%": -1.6, "lo": -4.0, "hi": 0.9}  # 10,000 against 0 on the same entries: within noise
    for trend in (paired, None, {"change_%": -1.6, "lo": -2.5, "hi": -0.7}):  # even with a clear fall
        v = verdict(t, trend)
        assert "**no gain at any amount**" in v
        assert "at 0: **worse** (+3.5%" in v and "at 10,000: within noise (+1.8%" in v
        assert not any(w in v for w in GAIN_WORDS), v
    assert "; **the loss shrinks**" in verdict(t, {"change_%": -1.6, "lo": -2.5, "hi": -0.7})
    # without intervals (one seed), the mean changes alone: still worse everywhere, no gain
    bare = t.assign(**{"low_%": np.nan, "high_%": np.nan})
    v = verdict(bare)
    assert "**no gain at any amount**" in v and "at 3,000: **worse** (+7.3%, no interval)" in v
    assert not any(w in v for w in GAIN_WORDS)


def test_a_loss_turns_into_a_gain():
    v = verdict(table([5.0, 1.0, -4.0, -9.0]))
    assert "at 0: **worse**" in v and "at 1,000: within noise (+1.0%" in v and "at 10,000: **better**" in v
    assert "**a loss turns into a gain**" in v


def test_mixed_signs_within_noise():
    v = verdict(table([-1.0, 0.5, -0.8, 1.2], half=3.0))
    assert v.count("within noise (") == 4 and "**better**" not in v and "**worse**" not in v
    assert "**no gain at any amount**; **flat: within noise at every amount**" in v


@pytest.mark.parametrize("changes, half, words", [
    ([-12.0, -8.0, -5.0, -2.5], 1.5, "**the gain shrinks**"),
    ([2.0, 5.0, 8.0, 11.0], 1.5, "**no gain at any amount**; **the loss grows**"),
    ([-6.0, -2.0, 2.5, 6.0], 1.5, "**a gain turns into a loss**"),
    ([-0.5, -2.0, -6.0, -9.0], 1.5, "**the gain grows**"),  # from within noise at 0
    ([1.0, -6.0, -1.0, 0.0], 1.5, "**mixed: a gain at 1,000 only, no trend**"),
    ([4.0, 4.0, 4.0, 4.0], 1.5, "**no gain at any amount**; **flat: a loss at every amount**"),
])
def test_the_other_trends(changes, half, words):
    assert words in verdict(table(changes, half))


def test_the_trend_comes_from_the_paired_comparison_when_given():
    t = table([-5.0, -6.0, -7.0, -8.0], half=4.0)  # intervals overlap: flat by themselves
    assert "**flat: a gain at every amount" in verdict(t)
    v = verdict(t, {"change_%": -3.0, "lo": -4.5, "hi": -1.5})
    assert "**the gain grows**" in v and "the test MAE at 10,000 against that at 0, paired: -3.0%" in v


def test_all_stands_for_every_structure_and_one_amount_has_no_trend():
    v = verdict(table([-3.0, -4.0], amounts=(0, "all")))
    assert "at all: **better**" in v and "**the gain grows**" not in v  # intervals overlap
    assert verdict(table([-3.0], amounts=(1000,))).endswith("One amount: no trend.")


def test_no_loss_is_ever_called_a_gain():
    rng = np.random.default_rng(0)
    for _ in range(500):
        n = int(rng.integers(2, 6))
        c, half = rng.normal(0, 6, n), rng.uniform(0.2, 6, n)
        t = table(c, half, amounts=tuple(range(n)))
        d = rng.normal(0, 4)
        trend = None if rng.random() < 0.5 else {"change_%": d, "lo": d - 2, "hi": d + 2}
        v = verdict(t, trend)
        better = (t["high_%"] < 0).to_numpy()
        if not better.any():
            assert "**no gain at any amount**" in v and not any(w in v for w in GAIN_WORDS), v
        if "the gain grows" in v or "turns into a gain" in v:
            assert better[-1]  # a gain to speak of at the largest amount


def test_mean_paired_change_is_the_main_reports_interval_for_one_task():
    rng = np.random.default_rng(1)
    keys = [f"k{i}" for i in range(60)]
    a, b = pd.Series(rng.uniform(0, 2, 60), keys), pd.Series(rng.uniform(0, 2, 60), keys)
    one = mean_paired_change({"t": a}, {"t": b})
    ref = intervals.paired_change(a, b)
    assert one["change_%"] == pytest.approx(ref["change_%"]) and one["lo"] == pytest.approx(ref["lo"])
    assert one["hi"] == pytest.approx(ref["hi"]) and one["tasks"] == 1
    # two tasks: the mean of their changes (units do not mix), each task's entries resampled on its own
    two = mean_paired_change({"t": a, "u": 10 * a}, {"t": b, "u": 5 * a})
    assert two["change_%"] == pytest.approx((ref["change_%"] + 100) / 2) and two["n"] == 120
    assert two["lo"] < two["change_%"] < two["hi"]


def _results_and_entries(changes: dict, seeds=(0, 1, 2), n=80, noise=0.02):
    """Two molecule and two composition tasks; each arm's errors are direct's times (1 + change) per task,
    with a little noise per entry and seed. changes: arm -> (molecule change, composition change)."""
    rng = np.random.default_rng(0)
    tasks = {"boiling_point": 0, "flash_point": 0, "expt_gap": 1, "formation_enthalpy_expt": 1}
    rows, entries = [], []
    for task, kind in tasks.items():
        base = rng.uniform(0.5, 1.5, n)
        for seed in seeds:
            for arm, ch in {"direct": (0.0, 0.0), **changes}.items():
                e = base * (1 + ch[kind]) * (1 + noise * rng.standard_normal(n))
                rows.append({"task": task, "split": "random", "seed": seed, "arm": arm, "mae": e.mean()})
                entries.append(pd.DataFrame({"task": task, "split": "random", "arm": arm, "seed": seed,
                                             "key": [f"{task}-{i}" for i in range(n)], "y": 0.0, "p": e}))
    return pd.DataFrame(rows), pd.concat(entries, ignore_index=True)


def test_comparisons_pair_the_entries_and_fall_back_to_the_seeds():
    amounts = {"dft_0": 0, "dft_1000": 1000}
    results, entries = _results_and_entries({"dft_0": (0.10, 0.10), "dft_1000": (-0.10, -0.10)})
    comp, trend = comparisons(results, amounts, entry_errors(entries))
    assert list(comp["arm"]) == ["dft_0", "dft_1000"] and (comp["interval"] == "entries").all()
    assert comp["change_%"].tolist() == pytest.approx([10.0, -10.0], abs=0.5)
    assert comp["low_%"].iloc[0] > 0 and comp["high_%"].iloc[1] < 0
    assert trend["change_%"] == pytest.approx(100 * (0.9 / 1.1 - 1), abs=0.5) and trend["hi"] < 0
    assert "**a loss turns into a gain**" in verdict(comp, trend)
    comp, trend = comparisons(results, amounts)  # no entries: a t interval over the 3 seeds' changes
    assert trend is None and (comp["interval"] == "3 seeds").all() and comp["low_%"].iloc[0] > 0
    assert "95% interval over 3 seeds" in verdict(comp)


def test_the_report_of_a_study_behind_direct_at_every_amount_says_so(tmp_path):
    """A study like the demo's: MPA behind direct at every amount (0 included), least behind at the
    largest, a negative slope over the amounts above 0. The report's verdict: no gain at any amount."""
    amounts = {"dft_0": 0, "dft_1000": 1000, "dft_3000": 3000, "dft_10000": 10000}
    changes = {"dft_0": (0.12, 0.14), "dft_1000": (0.13, 0.15), "dft_3000": (0.11, 0.12),
               "dft_10000": (0.04, 0.05)}
    results, entries = _results_and_entries(changes)
    results.to_csv(tmp_path / "results.csv", index=False)
    entries.to_csv(tmp_path / "entries.csv", index=False)
    fit = slope(seed_changes(results, amounts), amounts)
    assert fit["high"] < 0  # what the slope-only verdict called a growing gain
    cfg = {"name": "t", "preset": "demo", "budget": "epochs", "dft_epochs": 1.0,
           "posttrain": {"sweep": "demo", "space": {"finetune.readout": {"grid": [None, "hybrid"]}}, "num_samples": 1,
                         "seeds": [0, 1, 2], "tasks": ["a", "b"]}}
    md = write_scaling(tmp_path, tmp_path / "results.csv", amounts, cfg).read_text()
    head = md.split("![scaling]")[0]
    for label in ("All tasks", "molecule tasks", "composition tasks"):
        line = next(x for x in head.splitlines() if x.startswith(f"- {label}: MPA against direct"))
        assert "at 0: **worse**" in line and "at 10,000: **worse**" in line
        assert "**no gain at any amount**; **the loss shrinks**" in line
    assert not any(w in md for w in GAIN_WORDS) and "gain grows" not in md
    assert "paired bootstrap interval over the test entries" in md
    assert 'the sweep `demo` as the main report runs it' in md and '"finetune.readout"' in md
    csv = pd.read_csv(tmp_path / "scaling.csv").set_index("arm")
    assert (csv["vs_direct_low_%"] > 0).all() and (csv["vs_direct_interval_over"] == "entries").all()


def test_the_slope_says_nothing_of_a_gain():
    n = {"a": 10, "b": 100, "c": 1000}
    text = slope_text(slope(pd.DataFrame({"a": [9.0], "b": [6.0], "c": [3.0]}), n), "x")
    assert "-3.00 points per decade" in text and "falls" in text and not re.search(r"\bgain", text)
