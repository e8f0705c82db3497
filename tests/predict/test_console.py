"""Console commands: each `mpa-<name>` entry point runs launch/<name>.py with its arguments."""

import importlib
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {"mpa-catalog": "catalog", "mpa-make-shards": "make_shards", "mpa-pretrain": "pretrain",
            "mpa-midtrain": "midtrain", "mpa-posttrain": "posttrain", "mpa-predict": "predict",
            "mpa-scaling": "scaling", "mpa-audit": "audit"}


def declared() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_entry_point_resolves_to_its_launcher(command):
    target = declared()[command]
    module, func = target.split(":")
    assert callable(getattr(importlib.import_module(module), func))
    assert func == COMMANDS[command]
    launcher = ROOT / "launch" / f"{COMMANDS[command]}.py"
    if command == "mpa-scaling" and not launcher.exists():
        pytest.skip("launch/scaling.py is not written yet")
    assert launcher.is_file()


def test_installed_entry_points_are_the_declared_ones():
    installed = {e.name: e.value for e in entry_points(group="console_scripts") if e.value.startswith("mpa_dist.")}
    if not installed:
        pytest.skip("mpa_dist is not installed (pip install -e .)")
    assert installed == declared()


def test_a_command_finds_the_configs_from_any_directory(tmp_path):
    """What the generated `mpa-predict` script does: call mpa_dist.cli.predict() with argv."""
    code = "import sys; from mpa_dist.cli import predict; sys.argv[0] = 'mpa-predict'; predict()"
    p = subprocess.run([sys.executable, "-c", code, "ckpt=a", "input=b", "conformers=7", "--cfg", "job"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert "ckpt: a" in p.stdout and "conformers: 7" in p.stdout


def test_package_version_is_the_declared_one():
    import mpa_dist

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == mpa_dist.__version__
