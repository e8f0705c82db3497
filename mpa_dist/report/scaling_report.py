"""The scaling study's report: test error against the amount of first-principles data aligned
in mid-training. Tasks have different units, so the curve is the mean over tasks of each
task's MAE relative to direct fine-tuning (1.0: no gain; 0.85: the published -15%), with the
per-task MAEs in the table beside it."""

from __future__ import annotations

from pathlib import Path

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


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finite = [a for a in table["dft_structures"] if a != "all"]
    top = max([a for a in finite if a] or [1]) * 10
    x = [top if a == "all" else max(a, 1) if a else 1 for a in table["dft_structures"]]
    labels = [str(a) for a in table["dft_structures"]]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.errorbar(x, table["mean_relative_mae"], yerr=table["std_over_seeds"].fillna(0), fmt="o-", capsize=3,
                label=f"mean over tasks ({int(table['seeds'].max())} seed(s); bars: std over seeds)")
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


def write_scaling(out: Path, results_csv: Path, amounts: dict, cfg: dict) -> Path:
    table = scaling_table(pd.read_csv(results_csv), amounts)
    table.to_csv(out / "scaling.csv", index=False)
    plot(table, out / "scaling.png")
    head = ["arm", "dft_structures", "tasks", "seeds", "mean_relative_mae", "std_over_seeds", "mean_change_%",
            "wins_vs_direct"]
    per_task = table.drop(columns=head[2:]).set_index(["arm", "dft_structures"]).T
    md = [f"# Scaling study: {cfg['name']} (experiment={cfg['preset']})", "",
          "Mean over tasks of the test MAE relative to direct fine-tuning from the pre-trained model "
          "(below 1: mid-training helps), against the first-principles structures per source aligned in "
          "mid-training. Each seed of post-training is compared with direct fine-tuning of the same seed; "
          "`std_over_seeds` is the spread of that mean between seeds (NaN with one seed), and a difference "
          "between amounts smaller than it is not a trend.", "", "![scaling](scaling.png)", "",
          table[head].to_markdown(index=False, floatfmt=".3f"), "",
          "Test MAE per task, mean over seeds (units the task trains in):", "", per_task.to_markdown(floatfmt=".4g"), "",
          "Post-training sweep report: [sweep/report.md](sweep/report.md)."]
    (out / "scaling.md").write_text("\n".join(md) + "\n")
    print("\n".join(md), flush=True)
    return out / "scaling.md"


__all__ = ["write_scaling", "scaling_table"]
