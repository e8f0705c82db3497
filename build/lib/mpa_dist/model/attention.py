"""Equivariant graph attention (SE(3)-Transformer / Equiformer style).

For an edge i <- j: a message v_ij = TP(x_j, Y(r_ij); w(|r_ij|)), a channel-wise ("uvu")
tensor product of the neighbour's features with the harmonics of the edge direction, its
weights a function of the distance. Multi-head weights come from invariant features only:
logit_ij = <q_i, k_j * e(r_ij)> / sqrt(d) + b(r_ij). The softmax over neighbours carries the
cutoff envelope and an attention sink of logit 0,

    alpha_ij = env_ij exp(logit_ij) / (1 + sum_k env_ik exp(logit_ik)),

so a neighbour that crosses the cutoff fades out continuously, even when it is the only
one. Head h weighs its own slice of channels in every irrep block (applied to the
product's weights, which is cheaper than to its outputs).
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from mpa_dist.model.irreps import num_scalars, weight_heads
from mpa_dist.model.scatter import scatter_max, scatter_sum


def uvu_instructions(irreps_in: o3.Irreps, irreps_sh: o3.Irreps, lmax: int):
    """Every path l_in x l_sh -> l_out with l_out <= lmax and natural parity, channel-wise."""
    irreps_mid, instructions = [], []
    for i, (mul, ir_in) in enumerate(irreps_in):
        for j, (_, ir_sh) in enumerate(irreps_sh):
            for ir_out in ir_in * ir_sh:
                if ir_out.l <= lmax and ir_out.p == (-1) ** ir_out.l:
                    instructions.append((i, j, len(irreps_mid), "uvu", True))
                    irreps_mid.append((mul, ir_out))
    return o3.Irreps(irreps_mid), instructions


def edge_tensor_product(irreps_in, irreps_sh, irreps_mid, instructions, accelerate: str | None):
    if accelerate in (None, "", "none", "e3nn"):
        return o3.TensorProduct(irreps_in, irreps_sh, irreps_mid, instructions,
                                shared_weights=False, internal_weights=False)
    if accelerate == "cueq":
        from mpa_dist.model.accel import cueq_tensor_product
        return cueq_tensor_product(irreps_in, irreps_sh, irreps_mid, instructions)
    raise ValueError(f"unknown tensor-product backend {accelerate!r}: use 'e3nn' or 'cueq'")


class EquivariantGraphAttention(nn.Module):
    def __init__(self, irreps_in: o3.Irreps, irreps_out: o3.Irreps, irreps_sh: o3.Irreps, lmax: int,
                 num_radial: int, num_heads: int, radial_hidden: int = 64, attn_dim: int = 16,
                 accelerate: str | None = None):
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        self.num_heads, self.attn_dim = num_heads, attn_dim
        self.c_in = num_scalars(self.irreps_in)
        self.pre = o3.Linear(self.irreps_in, self.irreps_in)
        irreps_mid, instructions = uvu_instructions(self.irreps_in, o3.Irreps(irreps_sh), lmax)
        self.tp = edge_tensor_product(self.irreps_in, irreps_sh, irreps_mid, instructions, accelerate)
        self.radial = nn.Sequential(nn.Linear(num_radial, radial_hidden), nn.SiLU(),
                                    nn.Linear(radial_hidden, radial_hidden), nn.SiLU())
        self.tp_weights = nn.Linear(radial_hidden, self.tp.weight_numel)
        self.query = nn.Linear(self.c_in, num_heads * attn_dim)
        self.key = nn.Linear(self.c_in, num_heads * attn_dim)
        self.edge_gate = nn.Linear(radial_hidden, num_heads * attn_dim + num_heads)
        self.register_buffer("heads_of", weight_heads(self.irreps_in, instructions, num_heads), persistent=False)
        self.out = o3.Linear(irreps_mid, self.irreps_out)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, rbf: torch.Tensor, env: torch.Tensor,
                sh: torch.Tensor) -> torch.Tensor:
        n, (i, j) = x.shape[0], edge_index
        H, d = self.num_heads, self.attn_dim
        r = self.radial(rbf)

        s = x[:, :self.c_in]
        q = self.query(s).view(n, H, d)
        k = self.key(s).view(n, H, d)
        g = self.edge_gate(r)
        e, bias = g[:, :H * d].view(-1, H, d), g[:, H * d:]
        logits = (q[i] * k[j] * e).sum(-1) / d**0.5 + bias  # (E, H)
        m = scatter_max(logits.detach(), i, n, floor=0.0)[i]  # floor 0: the sink's logit
        w = env.unsqueeze(-1) * torch.exp(logits - m)
        alpha = w / (torch.exp(-m) + scatter_sum(w, i, n)[i])

        # attention enters through the (linear) path weights: the same as weighting the messages
        v = self.tp(self.pre(x)[j], sh, self.tp_weights(r) * alpha[:, self.heads_of])  # (E, dim_mid)
        msg = scatter_sum(v, i, n)
        return self.out(msg)
