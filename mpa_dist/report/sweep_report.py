"""The sweep's report: results.csv (one row per task, arm, split and seed), report.md (the
per-task table, MPA's change against direct fine-tuning, wins, the sweep's utilisation) and
PNG plots next to it (per-task change as bars, parity plots of the test predictions).

Errors are in the units each task trains in (log10 of the value for log-transformed tasks);
classification tasks report accuracy and are kept out of the mean MAE change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mpa_dist.baselines.run import BASELINES
from mpa_dist.report import breadth, intervals
from mpa_dist.tune.space import draw


def _mean_std(x: pd.Series) -> str:
    x = x.dropna()
    if x.empty:
        return "-"
    sd = x.std(ddof=1) if len(x) > 1 else 0.0
    sd = 0.0 if sd <= 1e-9 * abs(x.mean()) else sd  # a deterministic arm: float rounding, not spread
    return f"{x.mean():.4g}" + (f" ± {sd:.2g}" if len(x) > 1 else "")


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, split): the metric per arm (mean over seeds) and MPA vs direct in %."""
    rows = []
    for (task, split), g in results.groupby(["task", "split"], sort=True):
        cls = g["mae"].isna().all()
        metric = "error_rate" if cls else "mae"
        vals = g.assign(error_rate=1 - g["accuracy"]).groupby("arm")[metric]
        row = {"task": task, "split": split, "unit": "1 - accuracy" if cls else g["unit"].iloc[0],
               "metric": metric, "n_test": int(g["n_test"].iloc[0]), "seeds": int(g["seed"].nunique()),
               "n_train": g["n_train"].dropna().iloc[0] if "n_train" in g and g["n_train"].notna().any() else np.nan}
        for arm, v in vals:
            row[arm] = v.mean()
            row[f"{arm} (seeds)"] = _mean_std(v)
        if "mpa" in row and "direct" in row and row["direct"]:
            row["change_%"] = 100 * (row["mpa"] - row["direct"]) / row["direct"]
        base = {a: row[a] for a in BASELINES if a in row and row[a] == row[a]}
        if base:
            row["best_baseline"] = min(base, key=base.get)
            b = base[row["best_baseline"]]
            if "mpa" in row and b:
                row["vs_baseline_%"] = 100 * (row["mpa"] - b) / b
        rows.append(row)
    return pd.DataFrame(rows)


NAMES = {"rf": "the random forest", "chemprop": "Chemprop"}
MODEL_ARMS = ("mpa", "direct", "scratch")


def _sides(pairs: dict, tasks, split: str, a: str, b: str) -> tuple[int, int]:
    """(tasks where a's 95% paired interval against b lies wholly below 0, wholly above 0)."""
    sides = [intervals.side(pairs.get((t, split, a, b))) for t in tasks]
    return sides.count(-1), sides.count(1)


def with_intervals(table: pd.DataFrame, pairs: dict) -> pd.DataFrame:
    """The table with the 95% paired bootstrap intervals of MPA's change against direct
    (`change_95%`) and against the best baseline (`vs_baseline_95%`), in %."""
    t = table.copy()
    if "change_%" in t:
        t["change_95%"] = [intervals.interval_text(pairs.get((r.task, r.split, "mpa", "direct")))
                           for r in t.itertuples()]
    if "vs_baseline_%" in t:
        t["vs_baseline_95%"] = [intervals.interval_text(pairs.get((r.task, r.split, "mpa", r.best_baseline)))
                                if isinstance(r.best_baseline, str) else "-" for r in t.itertuples()]
    return t


def baseline_verdict(table: pd.DataFrame, pairs: dict | None = None) -> list[str]:
    """Says plainly where a baseline beats the foundation model (and, with `pairs`, where it does
    beyond the test set's noise)."""
    lines = []
    if "best_baseline" not in table:
        return lines
    for split, g in table.groupby("split"):
        g = g.dropna(subset=["best_baseline"])
        for arm in [a for a in MODEL_ARMS if a in g]:
            beaten = []
            for b in [b for b in NAMES if b in g]:
                both = g[[arm, b]].dropna()  # chemprop: molecular tasks only
                clear = ""
                if pairs is not None:
                    below, above = _sides(pairs, g.loc[both.index, "task"], split, arm, b)
                    clear = (f" (beyond the test set's noise on {above}; "
                             f"it beats {NAMES[b]} beyond it on {below})")
                beaten.append(f"{NAMES[b]} beats it on **{int((both[arm] > both[b]).sum())} of {len(both)}** tasks"
                              + clear)
            worse_dummy = int((g[arm] >= g["dummy"]).sum()) if "dummy" in g else 0
            n = int(g[arm].notna().sum())
            lines.append(f"- **{split} split, {arm}**: {'; '.join(beaten) or 'no baseline but the dummy'}; "
                         f"it is no better than the dummy (training mean / majority class) on **{worse_dummy} of {n}**.")
        if "vs_baseline_%" in g:
            ch = g["vs_baseline_%"].dropna()
            if len(ch):
                lines.append(f"  MPA against the best baseline per task: mean change **{ch.mean():+.1f}%**; MPA better "
                             f"on {int((ch < 0).sum())} of {len(ch)}.")
                if (ch >= 0).any():
                    lines.append(f"  A baseline beats the foundation model on {int((ch >= 0).sum())} of {len(ch)} "
                                 f"tasks ({split} split): there, its errors are no result yet.")
    return lines


def verdict(table: pd.DataFrame, pairs: dict | None = None) -> list[str]:
    lines = []
    if "change_%" not in table:
        return ["(no task has both an MPA and a direct result)"]
    for split, g in table[table["metric"] == "mae"].groupby("split"):
        ch = g["change_%"].dropna()
        if ch.empty:
            continue
        wins = int((ch < 0).sum())
        lines.append(f"- **{split} split**: mean change of test MAE, MPA vs direct: **{ch.mean():+.1f}%** "
                     f"(median {ch.median():+.1f}%, best {ch.min():+.1f}%); MPA better on **{wins} of {len(ch)}** "
                     f"tasks (negative is better).")
        if pairs is not None:
            below, above = _sides(pairs, g.loc[ch.index, "task"], split, "mpa", "direct")
            lines.append(f"  Beyond the test set's noise (95% paired interval wholly below or above 0): MPA better on "
                         f"{below}, worse on {above}, within it on {len(ch) - below - above}.")
        if ch.mean() > -1.0:
            lines.append(f"  MPA does **not** beat direct fine-tuning on average here ({split} split): a mean "
                         f"change within 1% is no gain.")
        elif ch.mean() > -15:
            lines.append("  MPA beats direct fine-tuning on average, by less than the published ~15%.")
    return lines


LEADERBOARD = {"expt_gap": [("Darwin", 0.2865), ("MODNet", 0.3327)]}  # matbench v0.1 MAE in eV, 5 folds


MATBENCH_ENTRIES = {"expt_gap": 4604, "expt_is_metal": 4921}  # matbench v0.1 task sizes


def matbench(results: pd.DataFrame) -> list[str]:
    """expt_gap / expt_is_metal over matbench's five official folds, beside the leaderboard."""
    folds = results[results["split"].astype(str).str.startswith("fold")]
    if folds.empty:
        return []
    lines = ["## matbench (official folds)", ""]
    for task, g in folds.groupby("task"):
        cls = g["mae"].isna().all()
        metric = "accuracy" if cls else "mae"
        per_arm = g.groupby("arm")[metric]
        n = g["split"].nunique()
        for arm, v in per_arm:
            rows = g[g["arm"] == arm]
            tested = int(rows["n_test"].sum()) // max(rows["seed"].nunique() if "seed" in rows else 1, 1)
            size = MATBENCH_ENTRIES.get(task)
            cover = (f"all {size} entries tested once, as on the leaderboard" if tested == size and n == 5 else
                     f"{tested} of {size or '?'} entries tested; size.expt=null and all 5 folds test every one")
            lines.append(f"- {task}, {arm}: {metric} {v.mean():.4g} ± {v.std(ddof=1) if len(v) > 1 else 0:.2g} "
                         f"over {v.size} runs on {n} of 5 folds ({cover})")
        for name, mae in LEADERBOARD.get(task, []):
            lines.append(f"- {task}, leaderboard {name}: MAE {mae} eV (5 folds)")
        if cls:
            lines.append("- (the matbench leaderboard ranks expt_is_metal by ROC-AUC; accuracy is shown here)")
    return lines + [""]


def plot_changes(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = table.dropna(subset=["change_%"]) if "change_%" in table else table.iloc[:0]
    fig, ax = plt.subplots(figsize=(7, 0.5 * max(len(t), 3) + 1.2))
    labels = [f"{r.task} ({r.split})" for r in t.itertuples()]
    y = np.arange(len(t))
    h = 0.4 if "vs_baseline_%" in t else 0.8
    ax.barh(y - (h / 2 if h < 0.8 else 0), t["change_%"] if len(t) else [], height=h, color="tab:blue",
            label="MPA vs direct fine-tuning")
    if "vs_baseline_%" in t:
        ax.barh(y + h / 2, t["vs_baseline_%"].fillna(0), height=h, color="tab:orange",
                label="MPA vs the best baseline (dummy, random forest or Chemprop)")
    ax.set_yticks(y, labels)
    ax.axvline(0, color="k", lw=0.8)
    ax.axvline(-15, color="gray", ls="--", lw=0.8, label="published mean (-15%)")
    ax.set_xlabel("test MAE change of MPA (%); negative: MPA better")
    ax.invert_yaxis()
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, frameon=False)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_parity(scored: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reg = [s for s in scored if not s["classification"] and s["seed"] == min(x["seed"] for x in scored)
           and s["arm"] != "dummy"]  # the dummy is a flat line: its MAE is in the table
    keys = sorted({(s["task"], s["scheme"]) for s in reg})
    n = max(len(keys), 1)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.8 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for s in reg:
            if (s["task"], s["scheme"]) == key:
                mae = np.mean(np.abs(s["p"] - s["y"]))
                ax.scatter(s["y"], s["p"], s=6, alpha=0.5, label=f"{s['arm']} (MAE {mae:.3g})")
                unit = s["unit"]
        lo = min(min(s["y"].min(), s["p"].min()) for s in reg if (s["task"], s["scheme"]) == key)
        hi = max(max(s["y"].max(), s["p"].max()) for s in reg if (s["task"], s["scheme"]) == key)
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.set_title(f"{key[0]} ({key[1]})", fontsize=9)
        ax.set_xlabel(f"measured [{unit}]", fontsize=8)
        ax.set_ylabel(f"predicted [{unit}]", fontsize=8)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _budget(base: dict) -> str:
    ft = base["finetune"]
    main = f"up to {ft['epochs']} epochs" if ft.get("epochs") else f"up to {base['steps']} steps"
    main += f" (lp: up to {ft['lp_epochs']} head-fitting epochs on cached features)"
    k = ft.get("ensemble", 1) or 1
    return main + (f"; every model arm's head a deep ensemble of {k} heads, each fitted on its own, averaged"
                   if k > 1 else "")


def _cells_text(sw: dict) -> str:
    by = sw.get("seeds_by_scheme") or {s: sw["seeds"] for s in sw["schemes"]}
    return ", ".join(f"{s}: seeds {list(by[s])}" for s in sw["schemes"])


def _per_split(table: pd.DataFrame, pairs: dict, arms: list[str]) -> list[str]:
    """Per split: the summary figures (all tasks, then molecules and compositions apart) and one row per task,
    sorted by MPA's change against direct fine-tuning."""
    md = []
    for split in breadth.split_order(table):
        md += [f"## {split} split", "", *breadth.summary_lines(table, pairs, split), "",
               breadth.paper_table(table, pairs, split, tuple(arms)).to_markdown(index=False, floatfmt=".4g"), ""]
    return md


PARITY_PANELS = 12


def _parity_subset(scored: list[dict], table: pd.DataFrame) -> list[dict]:
    """At most PARITY_PANELS (task, split) panels: all of a small sweep; of a large one, the tasks with the
    largest gain and the largest loss against direct, half each."""
    keys = sorted({(s["task"], s["scheme"]) for s in scored})
    if len(keys) <= PARITY_PANELS or "change_%" not in table:
        return scored
    ranked = table.dropna(subset=["change_%"]).sort_values("change_%")
    pick = list(zip(ranked["task"], ranked["split"]))
    keep = set(pick[:PARITY_PANELS // 2] + pick[-(PARITY_PANELS // 2):])
    return [s for s in scored if (s["task"], s["scheme"]) in keep]


def write_report(out: Path, rows: list[dict], scored: list[dict], trials: pd.DataFrame, info: dict,
                 base: dict) -> str:
    results = pd.DataFrame(rows)
    results.to_csv(out / "results.csv", index=False)
    trials.to_csv(out / "trials.csv", index=False)
    table = summary(results)
    pairs = intervals.all_pairs(scored, sorted(set(results["arm"])))
    plot_changes(table, out / "change.png")
    breadth.plot_change_intervals(table, pairs, out / "change_intervals.png")
    plot_parity(_parity_subset(scored, table), out / "parity.png")
    arms = [a for a in MODEL_ARMS if a in table] + \
        sorted(set(results["arm"]) - set(MODEL_ARMS) - set(BASELINES)) + [a for a in BASELINES if a in table]
    table = with_intervals(table, pairs)
    sw = base["sweep"]
    exposed = int(results["exposed"].fillna(0).sum()) if "exposed" in results else None
    head = ([f"**PRIVILEGED: first-principles values of evaluation compounds were in the training data "
             f"(data.privileged=true); these errors are not a measure of transfer.**", ""]
            if info.get("privileged") else [])
    exposure = ("Exposure audit (`exposure.json`): "
                + ("not run" if exposed is None else
                   f"**{exposed}** evaluation compounds of the post-trained tasks appear in the training data of "
                   f"any selected model's chain (pre-, mid- and post-training shards)"
                   + (" under this protocol." if exposed == 0 else ": THE COMPARISON IS NOT CLEAN.")))
    md = [*head, f"# Post-training sweep: {base['name']}", "", exposure, "",
          f"Model `{base['model'].get('channels')}` channels x {base['model'].get('num_layers')} layers; "
          f"{len(sw['tasks'])} tasks x arms {list(sw['arms'])} x (split, seed) {_cells_text(sw)}; "
          f"{len(draw(sw['space'], sw['num_samples'], sw['space_seed']))} configuration(s) per group, the same for "
          f"every arm; budget per trial: {_budget(base)}; ASHA per group; best on validation, test scored once.", "",
          "Test error per arm (mean ± std over seeds; units the task trains in; dummy: the training mean or majority "
          "class; rf: a random forest on RDKit 2-D descriptors or element-property statistics; chemprop, where run: "
          "Chemprop v2 on the molecular graph, molecular tasks only; all on the same entries), "
          "MPA's change against direct fine-tuning and against the best baseline (negative: MPA better), each "
          f"with its {intervals.LEVEL}% paired bootstrap interval over the test entries ({intervals.N_BOOT} "
          "resamples; an interval that holds 0 is no win or loss on this test set; "
          "mpa_dist/report/intervals.py). Every task's change with its interval, sorted: "
          "![change with intervals](change_intervals.png)", "",
          *_per_split(table, pairs, arms), "## Verdict", "", *verdict(table, pairs), *baseline_verdict(table, pairs),
          "", *matbench(results),
          "![change](change.png)", "", "![parity](parity.png)", "",
          f"Sweep: {info['trials']} trials ({info['failed']} failed) in {info['wall_s']:.0f} s on {info['slots']} "
          f"slots; sum of trial times / (wall x slots) = **{info['utilisation']:.2f}**.", "",
          "Files: `results.csv` (one row per task, arm, split, seed), `trials.csv` (every trial), "
          "`tune/` (Ray Tune's experiment), `trials/` (each trial's run folder and TensorBoard logs)."]
    text = "\n".join(md) + "\n"
    (out / "report.md").write_text(text)
    return text
