"""bf16 autocast (precision=bf16): nn.Linear runs in bf16, e3nn's modules and the readouts in
float32, and the outputs (forces and stress included) stay close to the float32 model's."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

from mpa_dist.data.batch import collate_records
from mpa_dist.model import build_model

HAVE_CUEQ = importlib.util.find_spec("cuequivariance_torch") is not None


def _batch(qm9_records, crystal_records, composition_records):
    vocab = {"qm9": 1, "mp": 2, "expt_gap": 3, "test": 4}
    return collate_records(qm9_records[:3] + crystal_records + composition_records, 5.0, source_vocab=vocab,
                           dtype=torch.float32)


def _dtypes_seen(model) -> dict[str, set]:
    """Input dtypes of every nn.Linear and every e3nn module, recorded by forward hooks."""
    seen = {"linear": set(), "e3nn": set()}

    def record(kind):
        return lambda m, args: seen[kind].update(a.dtype for a in args if torch.is_tensor(a) and a.is_floating_point())

    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.register_forward_pre_hook(record("linear"))
        elif type(m).__module__.startswith("e3nn."):
            m.register_forward_pre_hook(record("e3nn"))
    return seen


@pytest.mark.parametrize("accelerate", ["e3nn", pytest.param("cueq", marks=pytest.mark.skipif(
    not HAVE_CUEQ, reason="cuEquivariance not installed"))])
def test_bf16_autocast_runs_linear_in_bf16_e3nn_in_float32_and_stays_close(
        config_of, all_heads, qm9_records, crystal_records, composition_records, accelerate):
    torch.manual_seed(0)
    model = build_model({**config_of("tiny"), "accelerate": accelerate}, all_heads).train()
    batch = _batch(qm9_records, crystal_records, composition_records)
    ref = model(batch)
    seen = _dtypes_seen(model)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
    assert torch.bfloat16 in seen["linear"]  # the radial networks and projections did run in bf16 ...
    assert seen["e3nn"] == {torch.float32}  # ... and every e3nn module was handed float32
    assert set(out) == set(ref) and {"forces", "stress"} <= set(out)
    for k, y in out.items():
        assert y.dtype == torch.float32, k  # readouts and derivatives in float32
        assert torch.isfinite(y).all(), k
        scale = ref[k].abs().max().clamp_min(1e-3)
        err = float((y - ref[k]).detach().abs().max() / scale)
        assert err < 0.1, f"{k}: bf16 differs from float32 by {err:.3f} of its scale"
        assert err > 0 or k.startswith("metal"), k  # bf16 was really used: results are not bit-identical
    # training on forces backpropagates through the bf16 graph into float32 weights
    loss = sum(v.float().pow(2).mean() for v in out.values())
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)


def test_without_autocast_the_float32_islands_change_nothing(config_of, all_heads, qm9_records, crystal_records,
                                                            composition_records, monkeypatch):
    """Outside autocast the hooks return before casting: a float64 model gives, bit for bit, what the same
    model without any hook gives (forces and stress included)."""
    import mpa_dist.model

    vocab = {"qm9": 1, "mp": 2, "expt_gap": 3, "test": 4}
    batch = collate_records(qm9_records[:3] + crystal_records + composition_records, 5.0, source_vocab=vocab,
                            dtype=torch.float64)
    torch.manual_seed(0)
    model = build_model(config_of("tiny"), all_heads).double().eval()
    hooked = [m for m in model.modules() if m._forward_pre_hooks]
    assert hooked and all(type(m).__module__.startswith("e3nn.") for m in hooked)  # the islands are there
    monkeypatch.setattr(mpa_dist.model, "float32_islands", lambda m: 0)
    torch.manual_seed(0)
    plain = build_model(config_of("tiny"), all_heads).double().eval()
    assert not any(m._forward_pre_hooks for m in plain.modules())
    out, ref = model(batch), plain(batch)
    assert set(out) == set(ref) and {"forces", "stress"} <= set(out)
    for k, v in out.items():
        assert v.dtype == torch.float64, k  # float64 stays float64: no cast outside autocast
        assert torch.equal(v, ref[k]), k
