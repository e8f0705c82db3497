"""The scaling study's report: test error against the amount of first-principles data aligned
in mid-training. Tasks have different units, so the curve is the mean over tasks of each
task's MAE relative to direct fine-tuning (1.0: no gain; 0.85: the published -15%), with the
per-task MAEs in the table beside it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def scaling_table(results: pd.DataFrame, amounts: dict) -> pd.DataFrame:
    """One row per mid-trained arm. Each post-training seed is compared with direct fine-tuning of
    the same seed; the mean over tasks of those ratios is taken per seed, then its mean and spread
    (sample std) over seeds. Per-task MAEs and wins are on the MAE averaged over seeds."""
    reg = results[results["mae"].notna()].copy()
    if "seed" not in reg:
        reg["seed"] = 0
    per_seed = reg.groupby(["task", "split", "seed", "arm"])["mae"].mean().unstack("arm")
    mae = reg.groupby(["task", "split", "arm"])["mae"].mean().unstack("arm")
    rows = []
    for arm, amount in amounts.items():
        if arm not in mae or "direct" not in mae:
            continue
        rel = (mae[arm] / mae["direct"]).dropna()
        by_seed = (per_seed[arm] / per_seed["direct"]).dropna().groupby("seed").mean()
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


def slope(table: pd.DataFrame, n_all: dict | None = None) -> dict:
    """Least-squares slope of the mean change (%) against log10(structures) over the amounts > 0, with
    its 95% interval (t distribution); `all` is placed at its actual count (n_all[arm])."""
    from scipy import stats

    pts = []
    for r in table.itertuples():
        n = (n_all or {}).get(r.arm) if r.dft_structures == "all" else r.dft_structures
        if n and n > 0 and np.isfinite(r._asdict()["mean_change_"]):
            pts.append((np.log10(float(n)), r._asdict()["mean_change_"]))
    if len(pts) < 3:
        return {"slope": float("nan"), "low": float("nan"), "high": float("nan"), "points": len(pts),
                "intercept": float("nan")}
    x, y = np.array(pts).T
    fit = stats.linregress(x, y)
    half = stats.t.ppf(0.975, len(x) - 2) * fit.stderr
    return {"slope": fit.slope, "low": fit.slope - half, "high": fit.slope + half, "points": len(pts),
            "intercept": fit.intercept}


def sentence(fit: dict, label: str) -> str:
    if not np.isfinite(fit["slope"]):
        return f"{label}: too few amounts above 0 ({fit['points']}) to fit a slope."
    ci = f"{fit['slope']:+.2f} points per decade of structures (95% interval {fit['low']:+.2f} to {fit['high']:+.2f})"
    if fit["high"] < 0:
        return f"{label}: **the gain grows** with the first-principles data: {ci}."
    if fit["low"] > 0:
        return f"{label}: **the gain shrinks** with the first-principles data: {ci}."
    return f"{label}: **flat within noise**: {ci}, an interval that holds 0."


def plot(table: pd.DataFrame, path: Path, fit: dict | None = None, n_all: dict | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finite = [a for a in table["dft_structures"] if a != "all"]
    top = max([a for a in finite if a] or [1]) * 10
    x = [(n_all or {}).get(arm) or top if a == "all" else max(a, 1) if a else 1
         for arm, a in zip(table["arm"], table["dft_structures"])]
    labels = [str(a) for a in table["dft_structures"]]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.errorbar(x, table["mean_relative_mae"], yerr=table["std_over_seeds"].fillna(0), fmt="o-", capsize=3,
                label=f"mean over tasks ({int(table['seeds'].max())} seed(s); bars: std over seeds)")
    if fit and np.isfinite(fit["slope"]):
        xs = np.array(sorted(v for v, a in zip(x, table["dft_structures"]) if a))
        ax.plot(xs, 1 + (fit["intercept"] + fit["slope"] * np.log10(xs)) / 100, "--", color="tab:red",
                label=f"fit: {fit['slope']:+.1f}%/decade [{fit['low']:+.1f}, {fit['high']:+.1f}]")
    ax.axhline(1.0, color="k", lw=0.8, label="direct fine-tuning")
    ax.axhline(0.85, color="gray", ls="--", lw=0.8, label="published mean (-15%)")
    ax.set_xscale("log")
    ax.set_xticks(x, labels)
    ax.set_xlabel("first-principles structures per source in mid-training")
    ax.set_ylabel("mean test MAE / direct fine-tuning MAE")
    ax.legend(fontsize=8)
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
    n_all = {a: b["dft_structures"] for a, b in budgets.items()}
    plot(table, out / "scaling.png", slope(table.rename(columns={"mean_change_%": "mean_change_"}), n_all), n_all)
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
        # `all` placed at this kind's own first-principles count (QM9 for molecules, the composition sets)
        n_kind = {a: b.get(f"{kind}_structures", b["dft_structures"]) for a, b in budgets.items()}
        fit = slope(sub.rename(columns={"mean_change_%": "mean_change_"}), n_kind)
        fits.append(sentence(fit, f"{kind} tasks"))
        by_kind += [f"**{kind} tasks** ({int(sub['tasks'].max())}):", "",
                    sub[head].to_markdown(index=False, floatfmt=".3f"), ""]
    overall = sentence(slope(table.rename(columns={"mean_change_%": "mean_change_"}), n_all), "All tasks")
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
          "log10 of the structures, over the amounts above 0.", "", "![scaling](scaling.png)", "",
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
