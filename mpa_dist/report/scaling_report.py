"""The scaling study's report: test error against the amount of first-principles data aligned
in mid-training. Tasks have different units, so the curve is the mean over tasks of each
task's MAE relative to direct fine-tuning (1.0: no gain; 0.85: the published -15%), with the
per-task MAEs in the table beside it.

The verdict states the sign first: at each amount (0 included), whether MPA is better or worse
than direct fine-tuning, with a paired bootstrap interval over the test entries; then the trend
from the smallest amount to the largest, worded by those signs (a loss that shrinks is never a
gain that grows)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from mpa_dist.report import intervals


def seed_changes(results: pd.DataFrame, amounts: dict) -> pd.DataFrame:
    """seed x arm: the mean over tasks of each mid-trained arm's test MAE relative to direct
    fine-tuning of the same seed, in % (the paired comparison every figure here is built on)."""
    reg = results[results["mae"].notna()].copy()
    if "seed" not in reg:
        reg["seed"] = 0
    per_seed = reg.groupby(["task", "split", "seed", "arm"])["mae"].mean().unstack("arm")
    if "direct" not in per_seed:
        return pd.DataFrame()
    return pd.DataFrame({arm: 100 * ((per_seed[arm] / per_seed["direct"]).dropna().groupby("seed").mean() - 1)
                         for arm in amounts if arm in per_seed})


def scaling_table(results: pd.DataFrame, amounts: dict) -> pd.DataFrame:
    """One row per mid-trained arm. Each post-training seed is compared with direct fine-tuning of
    the same seed; the mean over tasks of those ratios is taken per seed, then its mean and spread
    (sample std) over seeds. Per-task MAEs and wins are on the MAE averaged over seeds."""
    reg = results[results["mae"].notna()]
    mae = reg.groupby(["task", "split", "arm"])["mae"].mean().unstack("arm")
    changes = seed_changes(results, amounts)
    rows = []
    for arm, amount in amounts.items():
        if arm not in mae or "direct" not in mae or arm not in changes:
            continue
        rel = (mae[arm] / mae["direct"]).dropna()
        by_seed = 1 + changes[arm].dropna() / 100
        rows.append({"arm": arm, "dft_structures": "all" if amount is None else amount,
                     "tasks": len(rel), "seeds": len(by_seed), "mean_relative_mae": by_seed.mean(),
                     "std_over_seeds": by_seed.std(ddof=1) if len(by_seed) > 1 else float("nan"),
                     "mean_change_%": 100 * (by_seed.mean() - 1), "wins_vs_direct": int((rel < 1).sum()),
                     **{f"{t} ({s})": mae.loc[(t, s), arm] for t, s in mae.index}})
    return pd.DataFrame(rows)


def task_kinds(results: pd.DataFrame) -> dict[str, str]:
    """task -> molecule | composition (the catalogue's input kind): they learn from different
    first-principles data (QM9 and the composition-level DFT sets)."""
    from mpa_dist.data.catalog import registry

    out = {}
    for t in results["task"].unique():
        try:
            out[t] = registry.get(t).input
        except KeyError:
            out[t] = "other"
    return out


def slope(changes: pd.DataFrame, structures: dict) -> dict:
    """The slope of the mean change (%) against log10(first-principles structures), over the arms with
    structures > 0 (`structures`: arm -> the count its mid-training drew from), with its 95% interval.
    With several seeds the fit is paired, as the design is: one least-squares slope per seed over the
    amounts, then their mean and a t interval over the seeds (dof = seeds - 1), so the seed-to-seed
    spread is the noise. With one seed: the least-squares fit of the amounts, t interval on its
    standard error (needs 3 amounts)."""
    from scipy import stats

    arms = [a for a in changes.columns if (structures.get(a) or 0) > 0]
    x = np.log10([float(structures[a]) for a in arms])
    seeds = changes[arms].dropna() if arms else changes.iloc[:0]
    nan = {"slope": float("nan"), "low": float("nan"), "high": float("nan"), "intercept": float("nan"),
           "points": len(arms), "seeds": len(seeds), "method": ""}
    if len(seeds) >= 2 and len(arms) >= 2:
        fits = [stats.linregress(x, seeds.loc[s].to_numpy(float)) for s in seeds.index]
        k = np.array([f.slope for f in fits])
        half = stats.t.ppf(0.975, len(k) - 1) * k.std(ddof=1) / np.sqrt(len(k))
        return {**nan, "slope": k.mean(), "low": k.mean() - half, "high": k.mean() + half,
                "intercept": float(np.mean([f.intercept for f in fits])),
                "method": f"one slope per seed over {len(arms)} amounts, t interval over {len(k)} seeds"}
    if len(seeds) == 1 and len(arms) >= 3:
        fit = stats.linregress(x, seeds.iloc[0].to_numpy(float))
        half = stats.t.ppf(0.975, len(x) - 2) * fit.stderr
        return {**nan, "slope": fit.slope, "low": fit.slope - half, "high": fit.slope + half,
                "intercept": fit.intercept, "method": f"least squares over {len(arms)} amounts, one seed"}
    return nan


def slope_text(fit: dict, label: str) -> str:
    """The fitted slope in words that carry no sign of their own: whether MPA is ahead of direct
    fine-tuning is the verdict's to say, not the slope's."""
    if not np.isfinite(fit["slope"]):
        return (f"{label}: too few amounts above 0 ({fit['points']}, with {fit['seeds']} seed(s)) to fit a slope "
                "(2 amounts and 2 seeds, or 3 amounts).")
    ci = (f"{fit['slope']:+.2f} points per decade of structures (95% interval {fit['low']:+.2f} to "
          f"{fit['high']:+.2f}; {fit['method']})")
    way = ("the change against direct falls (moves toward MPA)" if fit["high"] < 0 else
           "the change against direct rises (moves toward direct)" if fit["low"] > 0 else "flat within noise")
    return f"{label}, slope over the amounts above 0: {ci}: {way}."


def mean_paired_change(a: dict, b: dict, n_boot: int = intervals.N_BOOT, seed: int = 0) -> dict | None:
    """{change_%, lo, hi, n, tasks}: the mean over tasks of each task's change of MAE from arm b to arm a
    (in %; `a`, `b`: task -> per-entry absolute errors, intervals.entry_errors), and its paired bootstrap
    interval: each task's shared entries resampled with replacement (both arms together, each task on its
    own), the mean over tasks taken per resample. For one task: intervals.paired_change. None where no
    task shares 2 entries."""
    rng = np.random.default_rng(seed)
    boots, points, n = [], [], 0
    for t in sorted(set(a) & set(b), key=str):
        if a[t] is None or b[t] is None:
            continue
        common = a[t].index.intersection(b[t].index)
        ea, eb = a[t][common].to_numpy(), b[t][common].to_numpy()
        if len(common) < 2 or eb.mean() == 0:
            continue
        idx = rng.integers(0, len(common), (n_boot, len(common)))
        boots.append(ea[idx].mean(1) / np.maximum(eb[idx].mean(1), np.finfo(float).tiny))
        points.append(ea.mean() / eb.mean())
        n += len(common)
    if not points:
        return None
    lo, hi = np.percentile(100 * (np.mean(boots, axis=0) - 1), [(100 - intervals.LEVEL) / 2,
                                                                  100 - (100 - intervals.LEVEL) / 2])
    return {"change_%": 100 * (float(np.mean(points)) - 1), "lo": float(lo), "hi": float(hi), "n": n,
            "tasks": len(points)}


def entry_errors(entries: pd.DataFrame) -> dict[tuple[str, str], dict[str, pd.Series]]:
    """(task, split) -> arm -> |prediction - label| per test entry, averaged over seeds (as the main
    report pairs them: intervals.entry_errors), from the study's entries.csv."""
    scored = [{"task": t, "scheme": sp, "arm": arm, "seed": sd, "keys": g["key"].astype(str).tolist(),
               "y": g["y"].to_numpy(float), "p": g["p"].to_numpy(float), "classification": False}
              for (t, sp, arm, sd), g in entries.groupby(["task", "split", "arm", "seed"])]
    return {(t, sp): {arm: intervals.entry_errors(scored, t, sp, arm) for arm in g["arm"].unique()}
            for (t, sp), g in entries.groupby(["task", "split"])}


def comparisons(models: pd.DataFrame, amounts: dict, errors: dict | None = None) -> tuple[pd.DataFrame, dict | None]:
    """(table, trend) for the verdict. table: one row per mid-trained arm, smallest amount first: its change
    against direct fine-tuning (`change_%`, mean over tasks, negative: MPA better) and its 95% interval
    (`low_%`, `high_%`). With `errors` (entry_errors) for every task: the paired bootstrap over the test
    entries, on the errors averaged over seeds (`interval` = "entries"); otherwise the mean of the per-seed
    changes with a t interval over seeds ("<n> seeds"; none with one seed). trend: the largest amount's arm
    against the smallest's, paired on the same entries (None without `errors`)."""
    from scipy import stats

    keys = sorted({(t, sp) for t, sp in models[models["mae"].notna()][["task", "split"]].itertuples(index=False)})
    per_arm = {arm: {k: (errors or {}).get(k, {}).get(arm) for k in keys} for arm in ("direct", *amounts)}
    complete = {arm: errors is not None and all(e is not None for e in per_arm[arm].values()) for arm in per_arm}
    changes = seed_changes(models, amounts)
    rows = []
    for arm, amount in sorted(amounts.items(), key=lambda a: math.inf if a[1] is None else a[1]):  # smallest first
        if arm not in changes:
            continue
        row = {"arm": arm, "dft_structures": "all" if amount is None else amount}
        c = mean_paired_change(per_arm[arm], per_arm["direct"]) if complete[arm] and complete["direct"] else None
        if c is not None:
            rows.append(row | {"change_%": c["change_%"], "low_%": c["lo"], "high_%": c["hi"], "interval": "entries"})
            continue
        by_seed = changes[arm].dropna()
        half = (stats.t.ppf(0.5 + intervals.LEVEL / 200, len(by_seed) - 1) * by_seed.std(ddof=1) / np.sqrt(len(by_seed))
                if len(by_seed) > 1 else float("nan"))
        rows.append(row | {"change_%": by_seed.mean(), "low_%": by_seed.mean() - half, "high_%": by_seed.mean() + half,
                           "interval": f"{len(by_seed)} seeds" if len(by_seed) > 1 else ""})
    table = pd.DataFrame(rows, columns=["arm", "dft_structures", "change_%", "low_%", "high_%", "interval"])
    trend = None
    if len(table) > 1 and (table["interval"] == "entries").all():
        first, last = table["arm"].iloc[0], table["arm"].iloc[-1]
        c = mean_paired_change(per_arm[last], per_arm[first])
        if c is not None:
            trend = c | {"from": table["dft_structures"].iloc[0], "to": table["dft_structures"].iloc[-1]}
    return table, trend


WORDS = {-1: "better", 1: "worse", 0: "within noise"}


def _amount(a) -> str:
    return f"{a:,}" if isinstance(a, (int, np.integer)) else str(a)


def _side(change: float, lo: float, hi: float) -> int:
    """-1: MPA better (the interval wholly below 0), +1: worse (wholly above), 0: within noise. Without an
    interval, the mean change alone decides."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        lo = hi = change
    return -1 if hi < 0 and change < 0 else 1 if lo > 0 and change > 0 else 0


def _interval(change: float, lo: float, hi: float, basis: str) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{change:+.1f}%, no interval"
    over = f" over {basis}" if basis and basis != "entries" else ""
    return f"{change:+.1f}%, 95% interval{over} {lo:+.1f} to {hi:+.1f}"


def _trend_phrase(sides: list[int], move: int, amounts: list[str]) -> str:
    """The trend in the words of what it is. sides: per amount, smallest first (-1 better, +1 worse,
    0 within noise); move: -1 the change against direct falls from the smallest amount to the largest
    (toward MPA), +1 it rises, 0 flat."""
    first, last = sides[0], sides[-1]
    phrase = None
    if move < 0:
        if last == -1:
            phrase = "a loss turns into a gain" if first == 1 else "the gain grows"
        elif 1 in (first, last):
            phrase = "the loss shrinks"
    elif move > 0:
        if last == 1:
            phrase = "a gain turns into a loss" if first == -1 else "the loss grows"
        elif -1 in (first, last):
            phrase = "the gain shrinks"
    elif all(x == -1 for x in sides):
        phrase = "flat: a gain at every amount, neither growing nor shrinking"
    elif all(x == 1 for x in sides):
        phrase = "flat: a loss at every amount"
    elif all(x == 0 for x in sides):
        phrase = "flat: within noise at every amount"
    if -1 not in sides:  # whatever the trend, there is no gain to speak of
        return "**no gain at any amount**" + (f"; **{phrase}**" if phrase else "")
    if phrase is None:
        gains = [a for a, x in zip(amounts, sides) if x == -1]
        phrase = f"mixed: a gain at {', '.join(gains)} only, no trend"
    return f"**{phrase}**"


def verdict(table: pd.DataFrame, trend: dict | None = None, label: str = "All tasks") -> str:
    """The scaling verdict, sign first. table: one row per amount, smallest first (amount 0 included),
    with `dft_structures` (the amount per source), `change_%` (MPA against direct fine-tuning, mean over
    tasks; negative: MPA better), `low_%`, `high_%` (its 95% interval; NaN: none) and optionally
    `interval` (what the interval is over). Each amount is better, worse or within noise by its interval;
    the trend goes from the smallest amount to the largest: `trend` ({change_%, lo, hi}: the largest
    amount's arm against the smallest's, paired), or without it the two amounts' own intervals (apart or
    not). A trend over losses is worded as a loss (the loss shrinks), never as a gain."""
    if table.empty:
        return f"{label}: no mid-trained arm to compare with direct fine-tuning."
    amounts = [_amount(a) for a in table["dft_structures"]]
    sides = [_side(c, lo, hi) for c, lo, hi in zip(table["change_%"], table["low_%"], table["high_%"])]
    basis = table["interval"] if "interval" in table else pd.Series([""] * len(table))
    each = [f"at {a}: {'**' + WORDS[x] + '**' if x else WORDS[x]} ({_interval(c, lo, hi, b)})"
            for a, x, c, lo, hi, b in zip(amounts, sides, table["change_%"], table["low_%"], table["high_%"], basis)]
    head = (f"{label}: MPA against direct fine-tuning, by first-principles structures per source in "
            f"mid-training: {'; '.join(each)}.")
    if len(table) == 1:
        return head + " One amount: no trend."
    c0, c1 = table["change_%"].iloc[0], table["change_%"].iloc[-1]
    if trend is not None:
        move = _side(trend["change_%"], trend["lo"], trend["hi"])
        how = (f"the test MAE at {amounts[-1]} against that at {amounts[0]}, paired: "
               f"{_interval(trend['change_%'], trend['lo'], trend['hi'], 'entries')}")
    else:  # apart: the larger amount's interval wholly below (or above) the smaller's
        lo0, hi0, lo1, hi1 = table["low_%"].iloc[0], table["high_%"].iloc[0], table["low_%"].iloc[-1], table["high_%"].iloc[-1]
        if not all(np.isfinite([lo0, hi0, lo1, hi1])):
            lo0 = hi0 = c0
            lo1 = hi1 = c1
        move = -1 if hi1 < lo0 else 1 if lo1 > hi0 else 0
        how = f"{c0:+.1f}% at {amounts[0]}, {c1:+.1f}% at {amounts[-1]}, " + (
            "their intervals apart" if move else "their intervals overlapping")
    return f"{head} Trend from {amounts[0]} to {amounts[-1]}: {_trend_phrase(sides, move, amounts)} ({how})."


def plot(curves: list[tuple[str, pd.DataFrame, dict, dict]], path: Path) -> None:
    """curves: (label, scaling table, slope fit, arm -> structures drawn from) for all tasks and each
    kind of task. x: the structures per source (`all` at its count in all; 0 drawn at 1); the fit is
    drawn at each arm's own point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def position(arm, amount, structures) -> float:
        return 1.0 if amount == 0 else float(structures.get(arm) or 1) if amount == "all" else float(amount)

    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    ticks = {}
    for i, (label, table, fit, structures) in enumerate(curves):
        color = f"C{i}"
        at = np.array([position(arm, a, structures) for arm, a in zip(table["arm"], table["dft_structures"])])
        ticks.update(zip(at, table["dft_structures"].astype(str)))
        x = at * 1.04 ** (i - 1)  # each curve's error bars a little apart
        ax.errorbar(x, table["mean_relative_mae"], yerr=table["std_over_seeds"].fillna(0), fmt="o-", capsize=3,
                    color=color, lw=2 if i == 0 else 1, ms=5 if i == 0 else 3,
                    label=f"{label} ({int(table['tasks'].max())} tasks)")
        if fit and np.isfinite(fit["slope"]):
            on = [(v, structures[arm]) for v, arm in zip(x, table["arm"]) if (structures.get(arm) or 0) > 0]
            ax.plot([v for v, _ in on], [1 + (fit["intercept"] + fit["slope"] * np.log10(n)) / 100 for _, n in on],
                    "--", color=color, lw=1,
                    label=f"  fit {fit['slope']:+.1f} %/decade, 95% [{fit['low']:+.1f}, {fit['high']:+.1f}]")
    ax.axhline(1.0, color="k", lw=0.8, label="direct fine-tuning")
    ax.axhline(0.85, color="gray", ls=":", lw=0.8, label="published mean (-15%)")
    ax.set_xscale("log")
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax.minorticks_off()
    ax.set_xlabel("first-principles structures per source in mid-training")
    ax.set_ylabel("mean test MAE / direct fine-tuning MAE")
    ax.set_title(f"mean ± std over {int(curves[0][1]['seeds'].max())} seed(s)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _beaten_by_rf(table: pd.DataFrame, per_task: pd.DataFrame) -> list[str]:
    """One line: on how many tasks the random forest beats every mid-trained arm."""
    rf = per_task.get(("rf", "baseline"))
    arms = [c for c in per_task.columns if c[1] not in ("baseline", "pre-trained")]
    if rf is None or not arms:
        return []
    best = per_task[arms].min(axis=1)
    both = pd.concat([best, rf], axis=1).dropna()
    n = int((both.iloc[:, 1] < both.iloc[:, 0]).sum())
    return [f"The random forest beats every mid-trained arm on **{n} of {len(both)}** tasks.", ""]


_VS = {"change_%": "vs_direct_%", "low_%": "vs_direct_low_%", "high_%": "vs_direct_high_%",
       "interval": "vs_direct_interval_over"}


def _shown(table: pd.DataFrame, comp: pd.DataFrame) -> pd.DataFrame:
    """The table with MPA's change against direct and its interval, as the verdict reads them."""
    text = {arm: f"{c:+.1f} [{lo:+.1f}, {hi:+.1f}]" if np.isfinite(lo) and np.isfinite(hi) else f"{c:+.1f}"
            for arm, c, lo, hi in zip(comp["arm"], comp["change_%"], comp["low_%"], comp["high_%"])}
    return table.assign(**{"vs_direct_% [95%]": table["arm"].map(text)})


def write_scaling(out: Path, results_csv: Path, amounts: dict, cfg: dict, budgets: dict | None = None) -> Path:
    results = pd.read_csv(results_csv)
    from mpa_dist.baselines.run import BASELINES

    models = results[~results["arm"].isin(BASELINES)]
    table = scaling_table(models, amounts)
    entries = out / "entries.csv"  # every selected model's test errors per entry (tune/scaling.score_entries)
    errors = entry_errors(pd.read_csv(entries, dtype={"key": str})) if entries.exists() else None
    comp, trend = comparisons(models, amounts, errors)
    table.merge(comp.drop(columns="dft_structures").rename(columns=_VS), on="arm", how="left").to_csv(
        out / "scaling.csv", index=False)
    budgets = budgets or {}

    def structures(kind: str | None = None) -> dict:
        """arm -> the first-principles structures its mid-training drew from (of one kind of task's data)."""
        if not budgets:  # no budgets recorded: the configured amount per source
            return {a: n for a, n in amounts.items() if n is not None}
        return {a: b.get(f"{kind}_structures", b["dft_structures"]) if kind else b["dft_structures"]
                for a, b in budgets.items()}

    fit_all = slope(seed_changes(models, amounts), structures())
    curves = [("all tasks", table, fit_all, structures())]
    head = ["arm", "dft_structures", "tasks", "seeds", "mean_relative_mae", "std_over_seeds", "mean_change_%",
            "wins_vs_direct"]
    per_task = table.drop(columns=head[2:]).set_index(["arm", "dft_structures"]).T
    others = results[results["arm"].isin(("direct", *BASELINES)) & results["mae"].notna()]
    other_mae = others.groupby(["task", "split", "arm"])["mae"].mean().unstack("arm")
    for b in [b for b in ("direct", *BASELINES) if b in other_mae]:  # beside the mid-trained arms, same entries
        per_task[(b, "pre-trained" if b == "direct" else "baseline")] = [
            other_mae[b].get((t.rsplit(" (", 1)[0], t.rsplit(" (", 1)[1][:-1])) for t in per_task.index]
    beaten = _beaten_by_rf(table, per_task)
    kinds = task_kinds(models)
    verdicts, fits, by_kind = [verdict(comp, trend, "All tasks")], [slope_text(fit_all, "All tasks")], []
    for kind in sorted(set(kinds.values())):
        of_kind = models[models["task"].map(kinds) == kind]
        sub = scaling_table(of_kind, amounts)
        if sub.empty:
            continue
        # each arm at this kind's own first-principles count (QM9 for molecules, the composition sets)
        fit = slope(seed_changes(of_kind, amounts), structures(kind))
        sub_comp, sub_trend = comparisons(of_kind, amounts, errors)
        verdicts.append(verdict(sub_comp, sub_trend, f"{kind} tasks"))
        fits.append(slope_text(fit, f"{kind} tasks"))
        curves.append((f"{kind} tasks", sub, fit, structures(kind)))
        by_kind += [f"**{kind} tasks** ({int(sub['tasks'].max())}):", "",
                    _shown(sub[head], sub_comp).to_markdown(index=False, floatfmt=".3f"), ""]
    plot(curves, out / "scaling.png")
    post = cfg.get("posttrain")
    exposed = int(results["exposed"].fillna(0).sum()) if "exposed" in results else None
    budget_rows = pd.DataFrame([{"arm": a, **b} for a, b in budgets.items()])
    md = [f"# Scaling study: {cfg['name']} (experiment={cfg['preset']}), budget mode **{cfg.get('budget', 'steps')}**"
          + (f" ({cfg.get('dft_epochs')} epoch(s) of each amount's first-principles data)"
             if cfg.get("budget") == "epochs" else " (the same mid-training steps for every amount)"), "",
          *[f"- {v}" for v in verdicts], "",
          "MPA against direct fine-tuning at each amount: the mean over tasks of each task's change of test MAE "
          "(negative: MPA better), " + (f"with its {intervals.LEVEL}% paired bootstrap interval over the test "
                                        f"entries ({intervals.N_BOOT} resamples, each task's entries on their own; "
                                        "the errors averaged over seeds, as in the main report)" if errors is not None
                                        else "with a t interval over the seeds' changes (no per-entry errors: "
                                        "entries.csv missing)") +
          "; better or worse where the interval excludes 0, else within noise. The trend compares the largest "
          "amount with the smallest, both mid-trained models paired on the same entries.", "",
          *[f"- {f}" for f in fits], "",
          *([f"Post-training: the sweep `{post['sweep']}` as the main report runs it, {len(post['tasks'])} tasks, "
             f"configurations {json.dumps(post['space'])} ({post['num_samples']} draw(s)), the best on validation "
             f"per task, arm and seed; seeds {post['seeds']}.", ""] if post else []),
          "Exposure audit: " + ("not run" if exposed is None else f"**{exposed}** evaluation compounds in the training "
                                "data of any selected model's chain."), "",
          "Mean over tasks of the test MAE relative to direct fine-tuning from the pre-trained model "
          "(below 1: mid-training helps), against the first-principles structures per source aligned in "
          "mid-training. Each seed of post-training is compared with direct fine-tuning of the same seed; "
          "`std_over_seeds` is the spread of that mean between seeds (NaN with one seed), and a difference "
          "between amounts smaller than it is not a trend. The slope is fitted to the mean change (%) against "
          "log10 of the first-principles structures each mid-training drew from (all tasks: every source; a kind "
          "of task: its own sources), over the amounts above 0; with several seeds, one slope per seed (each "
          "seed paired with its own direct fine-tuning), the interval from their spread.", "", "![scaling](scaling.png)", "",
          _shown(table[head], comp).to_markdown(index=False, floatfmt=".3f"), "", *by_kind,
          *(["Mid-training budgets:", "", budget_rows.to_markdown(index=False, floatfmt=".3g"), ""]
            if len(budget_rows) else []),
          "Test MAE per task, mean over seeds (units the task trains in), with the baselines of the same sweep "
          "on the same entries:", "", per_task.to_markdown(floatfmt=".4g"), "", *beaten,
          "Post-training sweep report, with the baseline arms: [sweep/report.md](sweep/report.md)."]
    (out / "scaling.md").write_text("\n".join(md) + "\n")
    (out / "budgets.json").write_text(json.dumps(budgets, indent=1))  # what write_scaling needs to write it again
    print("\n".join(md), flush=True)
    return out / "scaling.md"


__all__ = ["write_scaling", "scaling_table"]
