"""Mixed precision for an e3nn model: bf16 autocast with e3nn's modules kept in float32.

Under `torch.autocast(dtype=torch.bfloat16)` (what `precision=bf16` turns on, through
DeepSpeed's `torch_autocast`), PyTorch runs `nn.Linear` in bf16: the radial networks, the
per-edge tensor-product weights and the attention projections, most of a step's matrix work.
e3nn's modules (`o3.Linear`, `o3.TensorProduct`, `Gate`, `SphericalHarmonics`) run generated
code that multiplies by float32 constants with `tensordot`, which autocast does not cast, so a
bf16 input fails there. `float32_islands` hooks each of them: its floating inputs are cast to
float32 and it runs with autocast off. Without autocast the hooks do nothing.
"""

from __future__ import annotations

import torch
from torch import nn

_OPEN: list = []  # autocast-off contexts of the e3nn modules being run, innermost last


def _is_e3nn(module: nn.Module) -> bool:
    return type(module).__module__.startswith("e3nn.")


def _enter(module, args):
    tensors = [a for a in args if torch.is_tensor(a)]
    device = tensors[0].device.type if tensors else "cpu"
    if not torch.is_autocast_enabled(device):
        _OPEN.append(None)
        return None
    ctx = torch.autocast(device, enabled=False)
    ctx.__enter__()
    _OPEN.append(ctx)
    return tuple(a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args)


def _leave(module, args, output):
    ctx = _OPEN.pop()
    if ctx is not None:
        ctx.__exit__(None, None, None)


def float32_islands(model: nn.Module) -> int:
    """Keep every outermost e3nn module of `model` in float32 under autocast; returns how many."""
    count = 0

    def visit(m: nn.Module):
        nonlocal count
        for child in m.children():
            if _is_e3nn(child):
                child.register_forward_pre_hook(_enter)
                child.register_forward_hook(_leave, always_call=True)
                count += 1
            else:
                visit(child)

    visit(model)
    return count
