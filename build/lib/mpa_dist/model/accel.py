"""Optional accelerated tensor product: cuEquivariance, behind `accelerate: cueq`.

e3nn stays the reference. `CueqTensorProduct` is a drop-in for the edge product of
`attention.py`, `o3.TensorProduct(irreps_in, irreps_sh, irreps_mid, uvu instructions,
shared_weights=False, internal_weights=False)`, with the same semantics and state:

* it takes e3nn's per-edge weights in e3nn's order and layout (instruction by instruction,
  channel u of each "uvu" path) and returns e3nn's `irreps_mid` in e3nn's `mul_ir` layout, so
  `tp_weights`, the attention heads (`weight_heads`) and `out` are unchanged;
* its `state_dict` has exactly the keys of the e3nn module (e3nn's constants: an empty `weight`,
  `output_mask`, the Wigner-3j buffers), so a checkpoint of either backend loads, strictly, into
  the other; cuEquivariance's own constants are rebuilt from the irreps and not saved;
* the normalisation is e3nn's: each cuEquivariance path coefficient is compared with e3nn's
  `path_weight * wigner_3j` when the module is built (same basis: `cue.O3` is e3nn's O(3)), and the
  ratio is folded into the weights; a basis or path mismatch is an error at build time.

cuEquivariance's channel-wise product (`uv,iu,jv,kuv+ijk`) runs on its CUDA kernel
("uniform_1d") only when every segment has the same shape, so the input irreps are handed to it
cut into chunks of gcd(multiplicities) channels (the same memory in `mul_ir`); the mapping of
weights and outputs is built from its descriptor, component by component.

Two implementations are held: the pure-PyTorch one (`method="naive"`, `use_fallback=True`: CPU,
any dtype; what the CPU tests check) always, and the kernel one (`use_fallback=None`) when
`cuequivariance_ops_torch` and CUDA are available; a forward on CUDA tensors takes the kernel.
"""

from __future__ import annotations

import math
import warnings
from functools import reduce

import torch
from e3nn import o3
from torch import nn


def _import_cueq():
    try:
        import cuequivariance as cue
        import cuequivariance_torch as cuet
    except ImportError as e:
        raise ImportError("accelerate: cueq needs cuequivariance and cuequivariance-torch "
                          "(pip install cuequivariance-torch; on a CUDA machine also cuequivariance-ops-torch-cu12 "
                          "for the kernels, without it the pure-PyTorch fallback runs); "
                          "set accelerate: e3nn to use the reference path") from e
    return cue, cuet


def _have_kernels() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        import cuequivariance_ops_torch  # noqa: F401
    except ImportError:
        return False
    return True


class CueqTensorProduct(nn.Module):
    """Drop-in for o3.TensorProduct(irreps_in, irreps_sh, irreps_mid, uvu instructions, external weights)."""

    def __init__(self, irreps_in, irreps_sh, irreps_mid, instructions, kernels: bool | None = None):
        super().__init__()
        cue, cuet = _import_cueq()
        irreps_in, irreps_sh = o3.Irreps(irreps_in), o3.Irreps(irreps_sh)
        self.irreps_in1, self.irreps_in2, self.irreps_out = irreps_in, irreps_sh, o3.Irreps(irreps_mid)

        ref = o3.TensorProduct(irreps_in, irreps_sh, irreps_mid, instructions, shared_weights=False,
                               internal_weights=False)
        if any(ins.connection_mode != "uvu" or not ins.has_weight for ins in ref.instructions):
            raise ValueError("CueqTensorProduct implements weighted 'uvu' instructions only")
        if len({ins.i_out for ins in ref.instructions}) != len(ref.instructions):
            raise ValueError("CueqTensorProduct needs one output block per instruction")
        if any(mul != 1 for mul, _ in irreps_sh):
            raise ValueError(f"CueqTensorProduct needs multiplicity-1 second operand, got {irreps_sh}")
        self.weight_numel = ref.weight_numel
        # e3nn's state (constants only, with external weights), kept under e3nn's names so the
        # state_dicts of both backends are interchangeable
        for key, value in ref.state_dict().items():
            *path, name = key.split(".")
            holder = self
            for p in path:
                if p not in holder._modules:
                    holder.add_module(p, nn.Module())
                holder = holder._modules[p]
            holder.register_buffer(name, value.detach().clone())

        # cuEquivariance sees the input in chunks of g channels (uniform segments for the kernel)
        g = reduce(math.gcd, [mul for mul, _ in irreps_in])
        chunks = [(i, c) for i, (mul, _) in enumerate(irreps_in) for c in range(mul // g)]
        cue_in1 = cue.Irreps("O3", [(g, cue.O3(irreps_in[i].ir.l, irreps_in[i].ir.p)) for i, _ in chunks])
        cue_in2 = cue.Irreps("O3", str(irreps_sh))
        filt = sorted({cue.O3(ir.l, ir.p) for _, ir in self.irreps_out})
        poly = cue.descriptors.channelwise_tensor_product(cue_in1, cue_in2, filt)
        d = poly.polynomial.operations[0][1]
        assert d.subscripts == "uv,iu,jv,kuv+ijk", d.subscripts

        def make(**method):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                m = cuet.ChannelWiseTensorProduct(cue_in1, cue_in2, filt, layout_in1=cue.mul_ir, layout_in2=cue.ir_mul,
                                                  layout_out=cue.ir_mul, shared_weights=False,
                                                  internal_weights=False, **method)
            if m.weight_numel != d.operands[0].size or m.irreps_out.dim != d.operands[3].size:
                raise ValueError("cuEquivariance module does not match its descriptor")
            _not_persistent(m)
            return m

        self.naive = make(method="naive", use_fallback=True)
        use_kernels = _have_kernels() if kernels is None else kernels
        self.kernel = make(use_fallback=None) if use_kernels else None

        wsrc, wscale, osrc = _index_maps(ref, irreps_in, irreps_sh, g, chunks, d, cue)
        self.register_buffer("wsrc", wsrc, persistent=False)
        self.register_buffer("osrc", osrc, persistent=False)
        self.unit_scale = bool(torch.allclose(wscale, torch.ones_like(wscale), rtol=0, atol=1e-12))
        self.register_buffer("wscale", wscale.to(torch.get_default_dtype()), persistent=False)

    def forward(self, x: torch.Tensor, sh: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        w = weight.index_select(-1, self.wsrc)
        if not self.unit_scale:
            w = w * self.wscale.to(w.dtype)
        tp = self.kernel if (self.kernel is not None and x.is_cuda) else self.naive
        return tp(x, sh, w).index_select(-1, self.osrc)

    def extra_repr(self) -> str:
        return (f"{self.irreps_in1} x {self.irreps_in2} -> {self.irreps_out}, weight_numel={self.weight_numel}, "
                f"kernels={self.kernel is not None}")


def _not_persistent(module: nn.Module):
    """cuEquivariance's constants (CG coefficients, index tables) are rebuilt from the irreps: not saved."""
    for m in module.modules():
        for name in list(m._buffers):
            buf = m._buffers.pop(name)
            m.register_buffer(name, buf, persistent=False)


def _index_maps(ref, irreps_in, irreps_sh, g, chunks, d, cue):
    """wsrc, wscale (cue weight k = e3nn weight wsrc[k] * wscale[k]) and osrc (e3nn output n = cue output osrc[n])."""
    w_off = [0]
    for ins in ref.instructions:
        w_off.append(w_off[-1] + math.prod(ins.path_shape))
    mid_slices = ref.irreps_out.slices()
    seg1 = {ic: s for s, ic in enumerate(chunks)}  # (e3nn block, chunk) -> cue input segment
    w_slices, o_slices = d.operands[0].segment_slices(), d.operands[3].segment_slices()

    paths = {}
    for path in d.paths:
        _, s1, s2, so = path.indices
        paths.setdefault((s1, s2, path.coefficients.shape[2]), []).append(path)

    wsrc = torch.full((d.operands[0].size,), -1, dtype=torch.long)
    wscale = torch.zeros(d.operands[0].size, dtype=torch.float64)
    osrc = torch.full((ref.irreps_out.dim,), -1, dtype=torch.long)
    for k, ins in enumerate(ref.instructions):
        ir1, ir2 = irreps_in[ins.i_in1].ir, irreps_sh[ins.i_in2].ir
        ir3 = ref.irreps_out[ins.i_out].ir
        coeff = ins.path_weight * o3.wigner_3j(ir1.l, ir2.l, ir3.l, dtype=torch.float64).numpy()
        for c in range((irreps_in[ins.i_in1].mul) // g):
            found = paths.get((seg1[(ins.i_in1, c)], ins.i_in2, ir3.dim), [])
            if len(found) != 1:
                raise ValueError(f"no unique cuEquivariance path for {ir1} x {ir2} -> {ir3}")
            path = found[0]
            cc = path.coefficients
            scale = float((cc * coeff).sum() / (cc * cc).sum())
            if not abs(cc * scale - coeff).max() <= 1e-9 * max(1.0, abs(coeff).max()):
                raise ValueError(f"cuEquivariance and e3nn differ on {ir1} x {ir2} -> {ir3} beyond a factor "
                                 "(irrep basis or normalisation)")
            ws, os_ = w_slices[path.indices[0]], o_slices[path.indices[3]]
            assert ws.stop - ws.start == g and os_.stop - os_.start == g * ir3.dim
            u = torch.arange(g)
            wsrc[ws] = w_off[k] + c * g + u  # e3nn uvu weights: (mul1, mul2=1) per instruction
            wscale[ws] = scale
            # e3nn mul_ir: mid_start + (c g + u) dim + m; cue ir_mul segment (k u v): start + m g + u
            m = torch.arange(ir3.dim)
            e3 = mid_slices[ins.i_out].start + (c * g + u[:, None]) * ir3.dim + m[None, :]
            osrc[e3.reshape(-1)] = (os_.start + m[None, :] * g + u[:, None]).reshape(-1)
    if (wsrc < 0).any() or (osrc < 0).any() or len(set(osrc.tolist())) != len(osrc) \
            or d.operands[3].size != len(osrc):
        raise ValueError("cuEquivariance paths do not cover e3nn's instructions one to one")
    if len(set(wsrc.tolist())) != ref.weight_numel or len(wsrc) != ref.weight_numel:
        raise ValueError("cuEquivariance weights do not map one to one on e3nn's")
    return wsrc, wscale, osrc


def cueq_tensor_product(irreps_in, irreps_sh, irreps_mid, instructions) -> nn.Module:
    return CueqTensorProduct(irreps_in, irreps_sh, irreps_mid, instructions)
