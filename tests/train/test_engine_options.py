"""ZeRO-3 with its gathered export, the EMA of the weights with gradient accumulation, bf16."""

import json

import pytest
import torch
from safetensors.torch import load_file

from launching import launch, result, smoke
from mpa_dist.model import build_model


def _loads_plain(run_dir):
    """Strict load into a model built without DeepSpeed: every tensor present, with its full shape."""
    meta = json.loads((run_dir / "model.json").read_text())
    state = load_file(str(run_dir / "model.safetensors"))
    build_model(meta["model"], meta["heads"]).load_state_dict(state)
    return state


def _checkpoint(run_dir, step: int) -> dict:
    return torch.load(run_dir / "checkpoints" / f"step{step:09d}" / "mp_rank_00_model_states.pt", weights_only=False)


@pytest.mark.slow
def test_zero3_trains_and_exports_consolidated_weights(tmp_path):
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    launch("pretrain.py", *smoke(tmp_path, "pretrain", "deepspeed=zero3", "~data.sources.mlearn"))
    state = _loads_plain(tmp_path / "pretrain")  # ZeRO-3's partitioned placeholders would fail the shapes
    assert sum(v.numel() for v in state.values()) > 10_000
    assert result(tmp_path / "pretrain")["step"] == 12
    # the export holds the last step's weights: DeepSpeed's consolidation of the step-12 ZeRO-3 partitions (the
    # export consolidates the latest checkpoint; this pins that to the last step's, written before the export)
    full = get_fp32_state_dict_from_zero_checkpoint(str(tmp_path / "pretrain" / "checkpoints"), tag="step000000012")
    params = [k for k in full if k in state and state[k].is_floating_point()]
    assert len(params) > 20
    for k in params:
        torch.testing.assert_close(state[k], full[k].float(), rtol=0, atol=0, msg=k)


@pytest.mark.slow
def test_ema_with_gradient_accumulation_exports_the_average(tmp_path):
    """ema_decay=0.5 with 2 micro-batches a step: the average moves once per optimizer step, so between the
    checkpoints of steps 10 and 12 (one optimizer step, at 12) it becomes 0.5 x itself + 0.5 x the weights."""
    launch("pretrain.py", *smoke(tmp_path, "pretrain", "ema_decay=0.5", "optim.grad_accum=2"))
    run = tmp_path / "pretrain"
    state = _loads_plain(run)
    at10, at12 = _checkpoint(run, 10), _checkpoint(run, 12)
    last, ema10 = at12["module"], at10["ema"]
    params = [k for k in state if f"module.{k}" in ema10 and last[k].is_floating_point()]
    assert len(params) > 20
    differs = [k for k in params if not torch.equal(state[k], last[k].float())]
    assert differs  # the export holds the EMA weights, not the last step's
    for k in params:
        torch.testing.assert_close(state[k], 0.5 * ema10[f"module.{k}"].float() + 0.5 * last[k].float(), msg=k)
    for k in params:  # the average exported is the one the last checkpoint holds for a resume
        torch.testing.assert_close(state[k], at12["ema"][f"module.{k}"].float(), rtol=0, atol=0, msg=k)


def test_zero3_with_force_training_is_refused_from_the_manifests_before_any_model():
    from omegaconf import OmegaConf

    from mpa_dist.train.plan import Source, check_engine
    from mpa_dist.train.schema import validate

    def source(name, labels):
        manifest = {"input": "crystal", "tasks": [{"label": "energy", "readout": "energy"}],
                    "splits": {"train": {"stats": {k: {} for k in labels}}}}
        return Source(name, f"/shards/{name}", None, manifest)

    cfg = lambda stage: validate(OmegaConf.create({"phase": "pretrain", "deepspeed": {"zero_stage": stage}}))
    with_forces, energy_only = source("mlearn", ["energy", "forces"]), source("li_o", ["energy"])
    with pytest.raises(ValueError, match="zero_stage=3 with mlearn .*use deepspeed=zero2 for sources with forces"):
        check_engine(cfg(3), [energy_only, with_forces])
    check_engine(cfg(3), [energy_only])  # energies alone: ZeRO-3 is fine
    check_engine(cfg(2), [with_forces])


@pytest.mark.slow
def test_bf16_trains_under_deepspeed_autocast_and_exports_float32_weights(tmp_path):
    """precision=bf16 on the default e3nn path: DeepSpeed's torch_autocast over float32 weights
    (tests/model/test_precision.py checks what runs in bf16 and what stays float32)."""
    launch("pretrain.py", *smoke(tmp_path, "pretrain", "precision=bf16", "steps=4"))
    state = _loads_plain(tmp_path / "pretrain")
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float32}
    r = result(tmp_path / "pretrain")
    assert r["step"] == 4
    maes = [v for k, v in r["val"].items() if k.startswith("mae/")]
    assert maes and all(v == v and v < float("inf") for v in maes)  # finite validation errors


def test_ema_pairs_parameters_by_name_beside_a_code_generated_head():
    """The demo's backbone (lmax 1) gives the polarizability head e3nn's code-generated TensorSquare,
    whose deep copy holds constants as buffers that the model does not list: pairing parameters and
    buffers by position failed at the first update of mid-training ("shape [] doesn't match [119]")."""
    from pathlib import Path
    from types import SimpleNamespace

    import yaml

    from mpa_dist.train.trainer import _ema, ema_state

    tiny = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "model" / "tiny.yaml").read_text())

    torch.manual_seed(0)
    model = build_model({**tiny, "lmax": 1},
                        [{"name": "polarizability_tensor", "readout": "tensor"}, {"name": "u0", "readout": "sum"}])
    assert model.heads["polarizability_tensor"].square is not None
    ema = _ema(SimpleNamespace(module=model, zero_optimization_stage=lambda: 1), 0.5)
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    for shift in (1.0, 2.0):  # the first update copies, the second averages: start + 1.5
        with torch.no_grad():
            for k, p in model.named_parameters():
                p.copy_(start[k] + shift)
        ema.update_parameters(model)
    state = ema_state(ema, model)
    assert state.keys() == model.state_dict().keys()
    for k, v in start.items():
        torch.testing.assert_close(state[k], (v + 1.5).float(), msg=k)
    for k, b in model.named_buffers():
        if k in state:
            assert torch.equal(state[k], b.float()), k
