"""Segment reductions over nodes, edges and graphs, in plain torch (compile-friendly).

Every softmax here takes an optional log-weight: a node of weight w counts as w identical
copies of itself, which is how a composition's element tokens and a supercell's repeated
atoms give the same answers as the unit they stand for.
"""

from __future__ import annotations

import torch


def scatter_sum(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    out = src.new_zeros((dim_size,) + src.shape[1:])
    return out.index_add(0, index, src)


def scatter_max(src: torch.Tensor, index: torch.Tensor, dim_size: int, floor: float | None = None) -> torch.Tensor:
    init = torch.full((dim_size,) + src.shape[1:], float("-inf") if floor is None else floor,
                      dtype=src.dtype, device=src.device)
    idx = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    return init.scatter_reduce(0, idx, src, reduce="amax", include_self=True)


def segment_softmax(logits: torch.Tensor, index: torch.Tensor, dim_size: int,
                    log_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax of logits (M, ...) within the segments named by index (M,)."""
    if log_weight is not None:
        logits = logits + log_weight.view(-1, *([1] * (logits.dim() - 1)))
    # the max is a constant of the maths, so it is detached (no gradient through amax)
    m = scatter_max(logits.detach(), index, dim_size)
    e = torch.exp(logits - m[index])
    return e / scatter_sum(e, index, dim_size)[index]


def graph_sum(x: torch.Tensor, batch, weighted: bool = True) -> torch.Tensor:
    """Sum over the nodes of each graph, a node counting atom_weight times."""
    if weighted:
        x = x * batch.atom_weight.view(-1, *([1] * (x.dim() - 1))).to(x.dtype)
    return scatter_sum(x, batch.graph, batch.num_graphs)


def graph_mean(x: torch.Tensor, batch) -> torch.Tensor:
    total = scatter_sum(batch.atom_weight.to(x.dtype), batch.graph, batch.num_graphs)
    return graph_sum(x, batch) / total.view(-1, *([1] * (x.dim() - 1)))


def dense_index(batch) -> tuple[torch.Tensor, int]:
    """Position of each node inside its graph, and the largest graph size (nodes are contiguous per graph)."""
    ptr = torch.cumsum(batch.num_nodes, 0) - batch.num_nodes
    pos = torch.arange(batch.graph.shape[0], device=batch.graph.device) - ptr[batch.graph]
    return pos, int(batch.num_nodes.max())
