"""Console commands: each `mpa-<name>` entry point is a function of mpa_dist/cli.py over the configs
inside the package; launch/<name>.py is a thin script over the same function."""

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
            "mpa-scaling": "scaling", "mpa-audit": "audit", "mpa-release": "release"}


def declared() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_entry_point_and_launcher_call_one_function(command):
    target = declared()[command]
    module, func = target.split(":")
    assert module == "mpa_dist.cli" and callable(getattr(importlib.import_module(module), func))
    assert func == COMMANDS[command]
    launcher = (ROOT / "launch" / f"{func}.py").read_text()
    assert f"from mpa_dist.cli import {func}" in launcher and "hydra" not in launcher  # thin: no app of its own


def test_the_configs_ship_inside_the_package():
    from mpa_dist.cli import CONFIGS

    assert CONFIGS == ROOT / "mpa_dist" / "configs" and (CONFIGS / "model" / "small.yaml").is_file()
    assert (ROOT / "configs").resolve() == CONFIGS  # the checkout's configs/ is a link to them
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert data == {"mpa_dist.configs": ["*.yaml", "*/*.yaml"],
                    "mpa_dist.pretrained": ["*.safetensors", "*.json", "*.md"]}  # the shipped model
    assert not list(CONFIGS.glob("*/*/*.yaml"))  # nothing deeper than package-data's globs reach


def test_help_lists_what_the_command_uses_with_examples():
    from mpa_dist.cli import help_text

    predict = help_text("predict")
    assert "Examples:" in predict and "smiles=[CCO,c1ccccc1O]" in predict
    assert "Config groups" not in predict and "deepspeed" not in predict and "finetune" not in predict
    for key in ("ckpt:", "smiles_column:", "formulas:", "device: auto"):
        assert key in predict
    pretrain, posttrain = help_text("pretrain"), help_text("posttrain")
    assert "model       base | large | small | tiny" in pretrain and "deepspeed   zero0" in pretrain
    assert "sweep" not in pretrain.split("Keys")[0]
    assert "sweep       demo | every_task | full | matbench | smoke" in posttrain
    assert "steps: ${size.steps.${phase}}" in pretrain  # the shared phase keys, with their comments


def test_help_and_a_missing_key_from_the_command(tmp_path):
    import os

    env = {**os.environ, "MPA_PRETRAINED": str(tmp_path / "no_release")}  # as if the package shipped no model
    run = lambda *a: subprocess.run([sys.executable, "-m", "mpa_dist", *a], cwd=tmp_path, capture_output=True,
                                    text=True, timeout=120, check=False, env=env)
    p = run("predict", "--help")
    assert p.returncode == 0 and p.stdout.startswith("mpa-predict: Predictions of an exported model"), p.stderr
    p = run("predict", "smiles=[CCO]")  # without ckpt=: the shipped model, and none is shipped
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("error: no model is shipped in ")
    assert "mpa-release sweep_dir=" in p.stderr and "or give ckpt=<export>" in p.stderr
    p = run("predict", "ckpt=x")
    assert p.returncode == 1 and "give exactly one of input=<file>, smiles=[...], formulas=[...]" in p.stderr
    p = run("release")
    assert p.returncode == 1
    assert p.stderr.strip().splitlines()[-1].startswith("mpa-release: missing required key sweep_dir=")


def test_every_declared_command_is_a_function():
    for name, target in declared().items():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), name
    assert set(declared()) == set(COMMANDS) | {"mpa-data"}


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
