"""The scaling study's report: test error against the amount of first-principles data aligned
in mid-training. Tasks have different units, so the curve is the mean over tasks of each
task's MAE relative to direct fine-tuning (1.0: no gain; 0.85: the published -15%), with the
per-task MAEs in the table beside it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def scaling_table(results: pd.DataFrame, amounts: dict) -> pd.DataFrame:
    reg = results[results["mae"].notna()]
    mae = reg.groupby(["task", "split", "arm"])["mae"].mean().unstack("arm")
    rows = []
    for arm, amount in amounts.items():
        if arm not in mae or "direct" not in mae:
            continue
        rel = (mae[arm] / mae["direct"]).dropna()
        rows.append({"arm": arm, "dft_structures": "all" if amount is None else amount,
                     "tasks": len(rel), "mean_relative_mae": rel.mean(),
                     "mean_change_%": 100 * (rel.mean() - 1), "wins_vs_direct": int((rel < 1).sum()),
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
    ax.plot(x, table["mean_relative_mae"], "o-")
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
    head = ["arm", "dft_structures", "tasks", "mean_relative_mae", "mean_change_%", "wins_vs_direct"]
    per_task = table.drop(columns=head[2:]).set_index(["arm", "dft_structures"]).T
    md = [f"# Scaling study: {cfg['name']} (experiment={cfg['preset']})", "",
          "Mean over tasks of the test MAE relative to direct fine-tuning from the pre-trained model "
          "(below 1: mid-training helps), against the first-principles structures per source aligned in "
          "mid-training.", "", "![scaling](scaling.png)", "",
          table[head].to_markdown(index=False, floatfmt=".3f"), "",
          "Test MAE per task (units the task trains in):", "", per_task.to_markdown(floatfmt=".4g"), "",
          "Post-training sweep report: [sweep/report.md](sweep/report.md)."]
    (out / "scaling.md").write_text("\n".join(md) + "\n")
    print("\n".join(md), flush=True)
    return out / "scaling.md"


__all__ = ["write_scaling", "scaling_table"]
