"""A finished chain's report, copied where the project keeps its current figures, with how it was made.

    python -m mpa_dist.report.publish runs/every_task docs/results/every_task --command "make every-task"

Copies the sweep's report.md, results.csv and figures, and writes README.md beside them: the command, the
machine, the date, the package's commit, the wall time of each step of the chain (chain.json) and the sweep's
slot utilisation. Nothing is computed again: the figures are the run's own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

# exposure.json (the audit of every selected model, by source: megabytes at 55 tasks) stays in the run; the
# report states its total
FILES = ("report.md", "results.csv", "change_intervals.png", "change.png", "parity.png", "sweep.json")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def publish(run: Path, dest: Path, command: str, sweep: str = "sweep") -> Path:
    sweep = run / sweep
    if not (sweep / "report.md").exists():
        raise FileNotFoundError(f"{sweep / 'report.md'}: the chain has not finished its sweep")
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (sweep / name).exists():
            shutil.copy2(sweep / name, dest / name)
    chain = json.loads((run / "chain.json").read_text()) if (run / "chain.json").exists() else None
    info = json.loads((sweep / "sweep.json").read_text())
    lines = [f"# {run.name}: every figure of this folder is the run's own", "",
             f"- Command: `{command}` (from a fresh clone; `make every-task` runs `python launch/chain.py "
             f"experiment=every_task name=every_task`)",
             f"- Machine: {os.cpu_count()} cores, {_cpu()}, {platform.system()} {platform.release()}; no GPU",
             f"- Date: {dt.date.fromtimestamp((sweep / 'report.md').stat().st_mtime).isoformat()}; "
             f"published at commit {_commit()}",
             f"- Sweep: {info['trials']} trials ({info['failed']} failed), {info['wall_s'] / 60:.0f} min of fitting on "
             f"{info['slots']} slots, slot utilisation {info['utilisation']:.2f}; exposure {info['exposed']}"]
    if chain:
        lines.append(f"- Wall time of the chain, catalogue to report: {chain['total_seconds'] / 3600:.2f} h, summed over "
                     f"its starts:")
        lines += [f"  - {k}: {v['seconds'] / 60:.1f} min ({v['starts']} start(s))" for k, v in chain["steps"].items()]
    lines += ["", "The report: [report.md](report.md); one row per task, arm, split and seed: "
                  "[results.csv](results.csv).", ""]
    (dest / "README.md").write_text("\n".join(lines) + "\n")
    return dest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="the chain's run folder, runs/<name>")
    p.add_argument("dest", type=Path, help="where the figures go, e.g. docs/results/every_task")
    p.add_argument("--command", default="make every-task", help="the command that made the run")
    p.add_argument("--sweep", default="sweep", help="the sweep's folder inside the run (sweep.out)")
    a = p.parse_args()
    print(publish(a.run, a.dest, a.command, a.sweep))


if __name__ == "__main__":
    main()
