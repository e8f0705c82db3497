"""Two CPU ranks (gloo) under the deepspeed launcher and torchrun: one code path."""

import sys

import pytest
import torch
from safetensors.torch import load_file

from launching import ROOT, clean_env, smoke

DEEPSPEED = [sys.executable, "-m", "deepspeed.launcher.runner", "--num_gpus", "2", "--master_port", "29541"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29542"]


def _run(launcher, tmp, *extra):
    import subprocess

    env = clean_env()
    cmd = launcher + [str(ROOT / "tests" / "train" / "rank_params.py"), "pretrain", str(tmp),
                      *smoke(tmp, "pretrain", *extra)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-5000:]


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.parametrize("launcher, stage", [(DEEPSPEED, 2), (TORCHRUN, 1)], ids=["deepspeed-zero2", "torchrun-zero1"])
def test_two_ranks_end_with_identical_parameters_and_a_loadable_export(tmp_path, launcher, stage):
    _run(launcher, tmp_path, f"deepspeed=zero{stage}")
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert r0.keys() == r1.keys()
    for k in r0:
        torch.testing.assert_close(r0[k], r1[k], rtol=0, atol=0, msg=k)
    # the export loads in this single process, without DeepSpeed, and equals the trained weights
    exported = load_file(str(tmp_path / "pretrain" / "model.safetensors"))
    for k, v in exported.items():
        torch.testing.assert_close(v, r0[k].float(), msg=k)
    # the weights moved: training happened on both ranks
    from mpa_dist.model import build_model
    import json

    meta = json.loads((tmp_path / "pretrain" / "model.json").read_text())
    fresh = build_model(meta["model"], meta["heads"]).state_dict()
    assert any(not torch.equal(fresh[k], exported[k]) for k in exported if k.startswith("backbone."))
