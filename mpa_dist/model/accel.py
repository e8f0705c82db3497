"""Optional accelerated tensor product: cuEquivariance, behind `accelerate: cueq`.

e3nn stays the reference. The cuEquivariance channel-wise product computes the same "uvu"
paths; this wrapper takes e3nn's per-edge weights in e3nn's order and layout, so the two are
interchangeable and `tests/model/test_accel.py` checks them against each other.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn


def _import_cueq():
    try:
        import cuequivariance as cue
        import cuequivariance_torch as cuet
    except ImportError as e:
        raise ImportError("accelerate: cueq needs cuequivariance and cuequivariance-torch "
                          "(pip install cuequivariance-torch cuequivariance-ops-torch-cu12 on a CUDA machine); "
                          "set accelerate: e3nn to use the reference path") from e
    return cue, cuet


class CueqTensorProduct(nn.Module):
    """Drop-in for o3.TensorProduct(irreps_in, irreps_sh, irreps_mid, uvu instructions, external weights)."""

    def __init__(self, irreps_in, irreps_sh, irreps_mid, instructions):
        super().__init__()
        cue, cuet = _import_cueq()
        self.irreps_out = o3.Irreps(irreps_mid)
        self.tp = cuet.ChannelWiseTensorProduct(
            cue.Irreps("O3", str(irreps_in)), cue.Irreps("O3", str(irreps_sh)),
            filter_irreps_out=[cue.Irrep("O3", str(ir)) for _, ir in self.irreps_out],
            layout=cue.mul_ir, shared_weights=False, internal_weights=False)
        ref = o3.TensorProduct(irreps_in, irreps_sh, irreps_mid, instructions, shared_weights=False,
                               internal_weights=False)
        self.weight_numel = ref.weight_numel
        if self.tp.weight_numel != self.weight_numel:
            raise ValueError(f"cuEquivariance product has {self.tp.weight_numel} weights, e3nn {self.weight_numel}")
        # cuEquivariance orders its output blocks its own way: map them to e3nn's order by matching
        # each output on random inputs (done once, at build time)
        self.register_buffer("perm", _match_outputs(ref, self.tp, irreps_in, irreps_sh), persistent=False)

    def forward(self, x, sh, weight):
        return self.tp(x, sh, weight)[:, self.perm]


@torch.no_grad()
def _match_outputs(ref, tp, irreps_in, irreps_sh) -> torch.Tensor:
    """Index p with tp(...)[:, p] == ref(...), found numerically; raises when none exists."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, o3.Irreps(irreps_in).dim, generator=g, dtype=torch.float64)
    y = torch.randn(4, o3.Irreps(irreps_sh).dim, generator=g, dtype=torch.float64)
    w = torch.randn(4, ref.weight_numel, generator=g, dtype=torch.float64)
    a, b = ref.double()(x, y, w), tp.double()(x, y, w)
    tp.float(), ref.float()
    scale = (a.abs().amax(0, keepdim=True) + 1e-12)
    cost = ((a.T[:, None, :] - b.T[None, :, :]).abs().amax(-1)) / scale.T
    perm = cost.argmin(1)
    if (cost.gather(1, perm[:, None]) > 1e-6).any():
        raise ValueError("cuEquivariance and e3nn tensor products do not agree (normalisation or weight layout differ)")
    return perm


def cueq_tensor_product(irreps_in, irreps_sh, irreps_mid, instructions) -> nn.Module:
    return CueqTensorProduct(irreps_in, irreps_sh, irreps_mid, instructions)
