"""The optional cuEquivariance tensor product: a clear error without it, parity with e3nn with it.

With cuequivariance-torch installed (no GPU needed: its pure-PyTorch fallback runs on CPU) the
`accelerate: cueq` model is checked against the e3nn reference in float64: same state_dict
(strict, both ways), same outputs, autograd forces and stress, and same gradients with
respect to every weight, first and second order (training on forces).
"""

from __future__ import annotations

import importlib.util
import warnings
from contextlib import contextmanager

import pytest
import torch

from mpa_dist.model import build_model

HAVE_CUEQ = importlib.util.find_spec("cuequivariance_torch") is not None
needs_cueq = pytest.mark.skipif(not HAVE_CUEQ, reason="cuEquivariance not installed")

# tiny as shipped (lmax 2), and lmax 3 with 24 scalar channels (chunks of 8: 3 for the scalars, 1 per l >= 1)
VARIANTS = {"tiny": {}, "tiny-lmax3": {"lmax": 3, "channels": 24}}
ATOL, RTOL = 1e-10, 1e-8  # float64 throughout; the two agree to ~1e-14 in practice


def test_unknown_backend_is_an_error(config_of):
    with pytest.raises(ValueError, match="tensor-product backend"):
        build_model({**config_of("tiny"), "accelerate": "magic"}, [])


@pytest.mark.skipif(HAVE_CUEQ, reason="cuEquivariance is installed")
def test_cueq_flag_without_the_package_says_what_to_install(config_of):
    with pytest.raises(ImportError, match="cuequivariance"):
        build_model({**config_of("tiny"), "accelerate": "cueq"}, [])


@contextmanager
def _default_dtype(dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def _build(cfg, heads, seed=0):
    """Built in float64 so that the constants (e3nn's Wigner 3j, cuEquivariance's CG) are float64 too."""
    torch.manual_seed(seed)
    with _default_dtype(torch.float64):
        return build_model(cfg, heads).double()


@pytest.fixture(scope="module", params=list(VARIANTS))
def pair(request, config_of, all_heads):
    cfg = {**config_of("tiny"), **VARIANTS[request.param]}
    ref = _build({**cfg, "accelerate": "e3nn"}, all_heads)
    fast = _build({**cfg, "accelerate": "cueq"}, all_heads, seed=1)
    fast.load_state_dict(ref.state_dict())  # strict: the same keys and shapes
    return cfg, ref, fast


def _outputs_and_grads(model, batch, train: bool):
    """Outputs, and in train mode the weight gradients of a loss on all of them: forces keep their
    graph then (create_graph=model.training), so these go through second derivatives. In eval mode
    the forces' autograd.grad frees the graph, as in inference: outputs only."""
    model.train(train)
    model.zero_grad(set_to_none=True)
    out = model(batch)
    grads = {}
    if train:
        loss = sum((v ** 2).sum() if k.startswith(("forces", "stress")) else v.sum() for k, v in out.items())
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.eval()
    return {k: v.detach() for k, v in out.items()}, grads


@needs_cueq
def test_cueq_state_dict_is_e3nn_state_dict(pair, all_heads):
    cfg, ref, fast = pair
    assert ref.state_dict().keys() == fast.state_dict().keys()
    back = _build({**cfg, "accelerate": "e3nn"}, all_heads, seed=2)
    back.load_state_dict(fast.state_dict())  # and strictly back
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], v, atol=0, rtol=0, msg=k)


@needs_cueq
def test_cueq_uses_the_fallback_on_cpu_and_e3nn_weight_order(pair):
    from mpa_dist.model.accel import CueqTensorProduct, _have_kernels
    _, _, fast = pair
    tps = [m for m in fast.modules() if isinstance(m, CueqTensorProduct)]
    assert len(tps) == len(fast.backbone.layers)
    for tp in tps:
        assert tp.naive.method == "naive" and (tp.kernel is not None) == _have_kernels()  # CUDA + ops only
        assert sorted(tp.wsrc.tolist()) == list(range(tp.weight_numel))
        assert sorted(tp.osrc.tolist()) == list(range(tp.irreps_out.dim))


@needs_cueq
@pytest.mark.parametrize("batch_name", ["molecule_batch", "mixed_batch"])
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_cueq_matches_e3nn(pair, batch_name, train, request):
    """Every output (scalars, vectors, tensors, logits, forces, stress); in train mode also every
    weight gradient, through the second derivatives of the forces and stress."""
    batch = request.getfixturevalue(batch_name)
    _, ref, fast = pair
    (a, ga), (b, gb) = _outputs_and_grads(ref, batch, train), _outputs_and_grads(fast, batch, train)
    assert a.keys() == b.keys() and {"forces", "dipole", "polarizability_tensor"} <= a.keys()
    if batch_name == "mixed_batch":
        assert "stress" in a and batch.cell.abs().sum() > 0
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=ATOL, rtol=RTOL, msg=lambda m, key=key: f"{key}: {m}")
    assert ga.keys() == gb.keys() and (not train or any(".attn.tp_weights." in n for n in ga))
    for name in ga:
        torch.testing.assert_close(gb[name], ga[name], atol=ATOL, rtol=RTOL, msg=lambda m, n=name: f"{n}: {m}")


@needs_cueq
def test_cueq_tensor_product_alone_and_kernel_ready():
    """The product itself on odd shapes (no edges; uneven multiplicities), in float32 as trained, and
    the kernel instance's segments are uniform (what cuEquivariance's CUDA "uniform_1d" needs)."""
    from e3nn import o3

    from mpa_dist.model.accel import CueqTensorProduct
    from mpa_dist.model.attention import uvu_instructions

    irreps_in, irreps_sh = o3.Irreps("12x0e+4x1o+8x2e"), o3.Irreps.spherical_harmonics(2)
    mid, ins = uvu_instructions(irreps_in, irreps_sh, 2)
    ref = o3.TensorProduct(irreps_in, irreps_sh, mid, ins, shared_weights=False, internal_weights=False)
    with warnings.catch_warnings():  # "cuequivariance_ops_torch is not available" without the CUDA ops
        warnings.simplefilter("ignore", UserWarning)
        tp = CueqTensorProduct(irreps_in, irreps_sh, mid, ins, kernels=True)
    assert tp.kernel.method == "uniform_1d"
    g = torch.Generator().manual_seed(0)
    for n in (0, 37):
        x, y = torch.randn(n, irreps_in.dim, generator=g), torch.randn(n, irreps_sh.dim, generator=g)
        w = torch.randn(n, ref.weight_numel, generator=g)
        torch.testing.assert_close(tp(x, y, w), ref(x, y, w), atol=1e-5, rtol=1e-5)
