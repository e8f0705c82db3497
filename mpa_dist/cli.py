"""Console commands: `mpa-<name> [overrides]` runs `launch/<name>.py [overrides]`.

The launchers are Hydra apps that find `../configs` next to themselves, so the commands need
the repository checkout (an editable install, `pip install -e .`, as `make setup` and the
Docker image do), not a wheel in site-packages.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

LAUNCH = Path(__file__).resolve().parents[1] / "launch"


def _launch(name: str) -> None:
    script = LAUNCH / f"{name}.py"
    if not script.is_file():
        sys.exit(f"mpa-{name.replace('_', '-')}: {script} not found: the console commands run the launchers of a "
                 "repository checkout installed with `pip install -e <checkout>`")
    sys.argv[0] = str(script)  # Hydra names the job and resolves config_path from the script
    runpy.run_path(str(script), run_name="__main__")


def audit() -> None:
    _launch("audit")


def catalog() -> None:
    _launch("catalog")


def make_shards() -> None:
    _launch("make_shards")


def pretrain() -> None:
    _launch("pretrain")


def midtrain() -> None:
    _launch("midtrain")


def posttrain() -> None:
    _launch("posttrain")


def predict() -> None:
    _launch("predict")


def scaling() -> None:
    _launch("scaling")
