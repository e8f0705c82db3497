"""Physics checks for any model variant (in the manner of nequip's test mixin).

Each `assert_*` takes a model built by `build_model` and a Batch (use float64 for
equivariance) and raises AssertionError with the offending output named. What each output
is comes from `model.output_kinds()`: scalar / logits (invariant), vector, tensor, forces,
stress (covariant), and whether it is extensive.
"""

from __future__ import annotations

import torch
from e3nn import o3

from mpa_dist.data.batch import collate_records
from mpa_dist.model.transforms import permute_atoms, rigid_motion, split_batch, supercell


def _close(name, a, b, atol, rtol):
    if not torch.allclose(a, b, atol=atol, rtol=rtol):
        err = (a - b).abs().max().item()
        raise AssertionError(f"{name}: max deviation {err:.3g} (atol {atol}, rtol {rtol}, scale {b.abs().max():.3g})")


def _transform_output(kind: str, y: torch.Tensor, rot: torch.Tensor, perm: torch.Tensor | None):
    rot = rot.to(y.dtype)
    if kind == "forces":
        return (y[perm] if perm is not None else y) @ rot.T
    if kind == "vector":
        return y @ rot.T
    if kind in ("tensor", "stress"):
        return rot @ y @ rot.T
    return y


def assert_equivariant(model, batch, atol=1e-7, rtol=1e-6, seed=0, improper=True, permute=True):
    """Scalars invariant and vectors, tensors, forces and stress covariant under a random
    rotation (and a reflection, when improper), a translation and a permutation of atoms."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    rot = o3.rand_matrix(dtype=batch.pos.dtype)
    if improper:
        rot = -rot
    shift = torch.randn(3, generator=g, dtype=batch.pos.dtype) * 3
    out = model(batch)
    moved, perm = permute_atoms(batch, seed) if permute else (batch, None)
    out2 = model(rigid_motion(moved, rot, shift))
    for key, (kind, _) in model.output_kinds().items():
        _close(f"{key} ({kind})", out2[key], _transform_output(kind, out[key], rot, perm), atol, rtol)


def assert_invariant(model, batch, atol=1e-7, rtol=1e-6, seed=0):
    """Only the invariant outputs (scalars, logits) under rotation, translation and permutation."""
    torch.manual_seed(seed)
    rot = o3.rand_matrix(dtype=batch.pos.dtype)
    moved, _ = permute_atoms(batch, seed)
    out, out2 = model(batch), model(rigid_motion(moved, rot, torch.ones(3)))
    for key, (kind, _) in model.output_kinds().items():
        if kind in ("scalar", "logits"):
            _close(key, out2[key], out[key], atol, rtol)


def assert_forces_match_finite_differences(model, batch, energy: str, forces: str = "forces", stress: str | None = None,
                                           h=1e-5, atol=1e-6, rtol=1e-4, num_checks=3, seed=0):
    """forces == -dE/dr by central differences on a few coordinates; stress == (1/V) dE/d eps likewise."""
    g = torch.Generator().manual_seed(seed)
    out = model(batch)
    energy_at = lambda b: model(b)[energy].detach()
    for n in torch.randint(batch.pos.shape[0], (num_checks,), generator=g).tolist():
        for c in range(3):
            plus, minus = batch.pos.clone(), batch.pos.clone()
            plus[n, c] += h
            minus[n, c] -= h
            de = energy_at(_with(batch, pos=plus)) - energy_at(_with(batch, pos=minus))
            fd = -de[batch.graph[n]] / (2 * h)
            _close(f"{forces}[{n},{c}] vs finite difference", out[forces][n, c].detach(), fd, atol, rtol)
    if stress is None:
        return
    volume = torch.linalg.det(batch.cell).abs()
    for a, b in ((0, 0), (1, 2), (2, 1), (2, 2)):
        strain = torch.zeros(3, 3, dtype=batch.pos.dtype)
        strain[a, b] = strain[b, a] = h / 2 if a != b else h
        e = [energy_at(_strained(batch, s * strain)) for s in (1, -1)]
        fd = (e[0] - e[1]) / (2 * h) / torch.where(volume > 0, volume, 1.0)
        fd = torch.where(volume > 0, fd, torch.zeros_like(fd))
        _close(f"{stress}[{a},{b}] vs finite difference", out[stress][:, a, b].detach(), fd, atol, rtol)


def _with(batch, **changes):
    import dataclasses
    return dataclasses.replace(batch, **changes)


def _strained(batch, strain):
    m = torch.eye(3, dtype=batch.pos.dtype) + strain
    return _with(batch, pos=batch.pos @ m, cell=batch.cell @ m)


def assert_batch_consistent(model, batch, atol=1e-6, rtol=1e-5):
    """A batch gives the same outputs as its members one at a time."""
    out = model(batch)
    members = [model(b) for b in split_batch(batch)]
    for key, (kind, _) in model.output_kinds().items():
        joined = torch.cat([m[key] for m in members])
        _close(f"{key} batched vs one by one", out[key].detach(), joined.detach(), atol, rtol)


def assert_smooth_at_cutoff(model, make_batch, cutoff: float, delta=1e-4, tol=1e-3):
    """make_batch(d) -> a Batch where one pair of atoms is d apart and every other pair stays
    put: outputs at cutoff - delta and cutoff + delta differ by O(delta), not by a jump."""
    inside, outside = model(make_batch(cutoff - delta)), model(make_batch(cutoff + delta))
    for key, (kind, _) in model.output_kinds().items():
        _close(f"{key} across the cutoff", inside[key].detach(), outside[key].detach(), tol, 0.0)


def assert_supercell_scaling(model, record, reps=(2, 1, 1), dtype=torch.float64, atol=1e-6, rtol=1e-5):
    """Intensive outputs equal on a supercell, extensive ones times its size, forces tiled,
    stress equal."""
    unit = collate_records([record], model.cutoff, dtype=dtype)
    big = collate_records([supercell(record, reps)], model.cutoff, dtype=dtype)
    n = reps[0] * reps[1] * reps[2]
    a, b = model(unit), model(big)
    for key, (kind, extensive) in model.output_kinds().items():
        if kind == "forces":
            _close(key, b[key].detach(), a[key].detach().repeat(n, 1), atol, rtol)
        elif kind == "stress" or extensive is False:
            _close(f"{key} (intensive)", b[key].detach(), a[key].detach(), atol, rtol)
        elif extensive:
            _close(f"{key} (extensive)", b[key].detach(), n * a[key].detach(), atol, rtol)


def assert_compile_matches_eager(model, batch, atol=1e-5, rtol=1e-4, **compile_kwargs):
    """torch.compile(model) gives the eager outputs."""
    eager = model(batch)
    compiled = torch.compile(model, **compile_kwargs)(batch)
    for key in model.output_kinds():
        _close(f"{key} compiled vs eager", compiled[key].detach(), eager[key].detach(), atol, rtol)
