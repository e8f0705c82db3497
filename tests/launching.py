"""Running the launchers as users do, for the tests: the smoke chain and its helpers."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def clean_env(**extra) -> dict:
    """The environment for a child run: without the rendezvous variables an in-process trainer
    of an earlier test left behind (its MASTER_PORT is still bound by this process)."""
    drop = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "OMP_NUM_THREADS": "1", **extra}


def launch(script: str, *overrides: str, launcher: list[str] | None = None, timeout: int = 600, check=True,
           env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a phase launcher as users do; returns the finished process (stdout+stderr captured)."""
    cmd = (launcher or [sys.executable]) + [str(ROOT / "launch" / script), *overrides]
    e = clean_env(**(env or {}))
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=e)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{p.stdout[-3000:]}\n{p.stderr[-6000:]}")
    return p


def smoke(tmp: Path, phase: str, *extra: str) -> list[str]:
    return ["experiment=smoke", f"run_dir={tmp / phase}", f"data.shards_root={ROOT / 'shards' / 'test'}",
            *extra]


def result(run_dir: Path) -> dict:
    return json.loads((run_dir / "result.json").read_text())
