"""The scaling study's report: test error against the amount of first-principles data aligned
in mid-training. Tasks have different units, so the curve is the mean over tasks of each
task's MAE relative to direct fine-tuning (1.0: no gain; 0.85: the published -15%), with the
per-task MAEs in the table beside it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


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


def sentence(fit: dict, label: str) -> str:
    if not np.isfinite(fit["slope"]):
        return (f"{label}: too few amounts above 0 ({fit['points']}, with {fit['seeds']} seed(s)) to fit a slope "
                "(2 amounts and 2 seeds, or 3 amounts).")
    ci = (f"{fit['slope']:+.2f} points per decade of structures (95% interval {fit['low']:+.2f} to "
          f"{fit['high']:+.2f}; {fit['method']})")
    if fit["high"] < 0:
        return f"{label}: **the gain grows** with the first-principles data: {ci}."
    if fit["low"] > 0:
        return f"{label}: **the gain shrinks** with the first-principles data: {ci}."
    return f"{label}: **flat within noise**: {ci}, an interval that holds 0."


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


def write_scaling(out: Path, results_csv: Path, amounts: dict, cfg: dict, budgets: dict | None = None) -> Path:
    results = pd.read_csv(results_csv)
    from mpa_dist.baselines.run import BASELINES

    models = results[~results["arm"].isin(BASELINES)]
    table = scaling_table(models, amounts)
    table.to_csv(out / "scaling.csv", index=False)
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
    fits, by_kind = [], []
    for kind in sorted(set(kinds.values())):
        sub = scaling_table(models[models["task"].map(kinds) == kind], amounts)
        if sub.empty:
            continue
        # each arm at this kind's own first-principles count (QM9 for molecules, the composition sets)
        fit = slope(seed_changes(models[models["task"].map(kinds) == kind], amounts), structures(kind))
        fits.append(sentence(fit, f"{kind} tasks"))
        curves.append((f"{kind} tasks", sub, fit, structures(kind)))
        by_kind += [f"**{kind} tasks** ({int(sub['tasks'].max())}):", "",
                    sub[head].to_markdown(index=False, floatfmt=".3f"), ""]
    plot(curves, out / "scaling.png")
    overall = sentence(fit_all, "All tasks")
    exposed = int(results["exposed"].fillna(0).sum()) if "exposed" in results else None
    budget_rows = pd.DataFrame([{"arm": a, **b} for a, b in budgets.items()])
    md = [f"# Scaling study: {cfg['name']} (experiment={cfg['preset']}), budget mode **{cfg.get('budget', 'steps')}**"
          + (f" ({cfg.get('dft_epochs')} epoch(s) of each amount's first-principles data)"
             if cfg.get("budget") == "epochs" else " (the same mid-training steps for every amount)"), "",
          overall, *fits, "",
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
          table[head].to_markdown(index=False, floatfmt=".3f"), "", *by_kind,
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
