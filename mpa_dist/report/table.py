"""Print the post-training results as a table: MAE per task and arm, and MPA's change
against direct fine-tuning.

    python -m mpa_dist.report.table runs/demo/results.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def arm_of(row: dict) -> str:
    src = str(row.get("init_from") or "")
    return "mpa" if "midtrain" in src else "direct" if "pretrain" in src else "scratch" if not src else src


def load(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def table(rows: list[dict]) -> str:
    mae = defaultdict(dict)
    units = {}
    for r in rows:
        t = r["task"]
        key = f"mae/{t}" if f"mae/{t}" in r["test"] else f"accuracy/{t}"
        mae[t].setdefault(arm_of(r), []).append(r["test"][key])
        units[t] = r["unit"] if r.get("transform", "none") == "none" else f"{r['transform']}({r['unit']})"
    lines = [f"{'task':<32} {'unit':<16} {'direct':>10} {'mpa':>10} {'change':>8}", "-" * 80]
    changes = []
    for t in sorted(mae):
        d = sum(mae[t].get("direct", [float("nan")])) / max(len(mae[t].get("direct", [])), 1)
        m = sum(mae[t].get("mpa", [float("nan")])) / max(len(mae[t].get("mpa", [])), 1)
        ch = 100 * (m - d) / d if d == d and m == m and d else float("nan")
        if ch == ch:
            changes.append(ch)
        lines.append(f"{t:<32} {units[t]:<16} {d:>10.4g} {m:>10.4g} {ch:>7.1f}%")
    if changes:
        wins = sum(c < 0 for c in changes)
        lines.append(f"\nmean change of test MAE, MPA vs direct: {sum(changes) / len(changes):+.1f}% "
                     f"(MPA better on {wins} of {len(changes)} tasks; negative is better)")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(load(sys.argv[1])))
