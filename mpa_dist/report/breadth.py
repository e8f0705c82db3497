"""The report in the paper's form, for a sweep over many tasks: one row per property sorted by MPA's change
against direct fine-tuning, the summary figures for all tasks and for molecules and compositions apart, and the
sorted bar chart of every task's change with its interval. One table and one summary per split scheme."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mpa_dist.report import intervals

KINDS = {"molecule": "molecules", "composition": "compositions", "crystal": "crystals"}
BASELINE_ARMS = ("rf", "chemprop")  # what a chemist would try first; the dummy is the floor, not a rival


def kind_of(task: str) -> str:
    from mpa_dist.data.catalog import registry

    try:
        return registry.get(task).input
    except KeyError:  # a user's file
        return "other"


def paper_table(table: pd.DataFrame, pairs: dict, split: str,
                arms: tuple[str, ...] = ("mpa", "direct", "dummy", "rf", "chemprop")) -> pd.DataFrame:
    """One scheme's rows: task, kind, unit, n train / n test, each arm's error (mean ± std over seeds), MPA vs
    direct and MPA vs the best baseline, each with its 95% paired interval; sorted by the change against direct
    (best first; classification tasks, whose error is 1 - accuracy, and tasks without both arms last)."""
    t = table[table["split"] == split].copy()
    t.insert(1, "kind", [kind_of(x) for x in t["task"]])
    if "change_%" not in t:
        t["change_%"] = np.nan
    t["change_95%"] = [intervals.interval_text(pairs.get((r.task, split, "mpa", "direct"))) for r in t.itertuples()]
    t = t.sort_values("change_%", na_position="last", kind="stable")
    n_train = t["n_train"].map(lambda v: f"{int(v)}" if v == v else "?") if "n_train" in t else "?"
    t["n train / test"] = [f"{a} / {int(b)}" for a, b in zip(n_train, t["n_test"])]
    arms = [a for a in arms if a in t]
    extra = [c for c in ("vs_baseline_%", "vs_baseline_95%") if c in t]
    cols = ["task", "kind", "unit", "n train / test", *[f"{a} (seeds)" if f"{a} (seeds)" in t else a for a in arms],
            "change_%", "change_95%", *extra]
    return t[cols].rename(columns={f"{a} (seeds)": a for a in arms} | {
        "change_%": "MPA vs direct %", "change_95%": "95% interval", "vs_baseline_%": "MPA vs best baseline %",
        "vs_baseline_95%": "its 95% interval"})


def _summary_lines(g: pd.DataFrame, pairs: dict, split: str, label: str) -> list[str]:
    reg = g[g["metric"] == "mae"]
    ch = reg["change_%"].dropna() if "change_%" in reg else pd.Series(dtype=float)
    if ch.empty:
        return [f"- **{label}**: no task with both an MPA and a direct result."]
    tasks = reg.loc[ch.index, "task"]
    sides = [intervals.side(pairs.get((t, split, "mpa", "direct"))) for t in tasks]
    gains = ch[ch < 0].nsmallest(3)
    lines = [f"- **{label}** ({len(ch)} task{'s' if len(ch) != 1 else ''} with an MAE): MPA vs direct mean **{ch.mean():+.1f}%**, median "
             f"{ch.median():+.1f}%; MPA better on **{int((ch < 0).sum())} of {len(ch)}** "
             f"({100 * (ch < 0).mean():.0f}%), beyond the test set's noise better on {sides.count(-1)} and worse on "
             f"{sides.count(1)}; largest gains: "
             + (", ".join(f"{reg.loc[i, 'task']} {c:+.1f}%" for i, c in gains.items()) or "none") + "."]
    rivals = [a for a in BASELINE_ARMS if a in g]
    if "mpa" in g and rivals:
        best = g[rivals].min(axis=1, skipna=True)
        err = g["mpa"]  # MAE, or the error rate of a classification task
        ok = best.notna() & err.notna()
        at_or_below = int((err[ok] <= best[ok]).sum())
        rel = (100 * (err[ok & (g["metric"] == "mae")] / best[ok & (g["metric"] == "mae")] - 1))
        lines.append(f"  MPA at or below the best baseline ({' / '.join(rivals)}, per task) on **{at_or_below} of "
                     f"{int(ok.sum())}** tasks ({100 * at_or_below / max(int(ok.sum()), 1):.0f}%); mean change against "
                     f"it {rel.mean():+.1f}% over the tasks with an MAE.")
    if "dummy" in g:
        for arm in [a for a in ("mpa", "direct") if a in g]:
            ok = g[arm].notna() & g["dummy"].notna()
            below = int((g.loc[ok, arm] < g.loc[ok, "dummy"]).sum())
            lines.append(f"  {arm} below the dummy on {below} of {int(ok.sum())} tasks.")
    return lines


def summary_lines(table: pd.DataFrame, pairs: dict, split: str) -> list[str]:
    """The summary figures of one scheme: all tasks, then each kind of input."""
    t = table[table["split"] == split].assign(kind=lambda d: [kind_of(x) for x in d["task"]])
    out = _summary_lines(t, pairs, split, f"{split} split, all tasks")
    for kind, g in t.groupby("kind"):
        if len(g) < len(t):
            out += _summary_lines(g, pairs, split, f"{split} split, {KINDS.get(kind, kind)}")
    return out


def split_order(table: pd.DataFrame) -> list[str]:
    """The random split first, then the others by name."""
    return sorted(set(table["split"]), key=lambda s: (s != "random", s))


def plot_change_intervals(table: pd.DataFrame, pairs: dict, path: Path) -> None:
    """Every task's change of test MAE, MPA vs direct, with its 95% paired interval, sorted; one panel per
    scheme; molecules and compositions in two colours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = split_order(table) if "change_%" in table else []
    panels = [(s, table[(table["split"] == s)].dropna(subset=["change_%"]).sort_values("change_%")) for s in splits]
    n = max([len(p) for _, p in panels] + [3])
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(6 * max(len(panels), 1), 0.22 * n + 1.6),
                             squeeze=False)
    for ax, (split, t) in zip(axes.flat, panels):
        y = np.arange(len(t))
        lo = [pairs.get((r.task, split, "mpa", "direct"), {}).get("lo", np.nan) for r in t.itertuples()]
        hi = [pairs.get((r.task, split, "mpa", "direct"), {}).get("hi", np.nan) for r in t.itertuples()]
        x = t["change_%"].to_numpy()
        err = np.array([x - np.array(lo), np.array(hi) - x])
        colours = ["tab:blue" if kind_of(k) == "molecule" else "tab:orange" for k in t["task"]]
        ax.barh(y, x, color=colours, height=0.7)
        ax.errorbar(x, y, xerr=np.nan_to_num(err), fmt="none", ecolor="k", elinewidth=0.7, capsize=1.5)
        ax.set_yticks(y, t["task"], fontsize=6 if len(t) > 20 else 8)
        ax.axvline(0, color="k", lw=0.8)
        ax.axvline(-15, color="gray", ls="--", lw=0.8)
        ax.invert_yaxis()
        ax.set_title(f"{split} split: mean {np.nanmean(x):+.1f}%, better on {int((x < 0).sum())} of {len(x)}",
                     fontsize=9)
        ax.set_xlabel("test MAE, MPA vs direct fine-tuning (%) with 95% paired interval; negative: MPA better\n"
                      "blue: molecules, orange: compositions; dashed: the published mean (-15%)", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
