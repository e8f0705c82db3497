"""Post-training strategies as optimizer parameter groups (and LoRA adapters).

Every parameter stays in the optimizer from the start, so ZeRO partitions it once; a frozen
group is one whose learning rate is 0 until it unfreezes.
- full: one group.
- frozen: the backbone at lr 0 until `unfreeze_at` of the steps, heads train throughout
  (pre- and mid-training use `full`).
- llrd: layer-wise learning-rate decay: the top layer at lr, each lower one times `llrd`,
  the embedding lowest.
- lora: peft's LoRA adapters on the backbone's linear layers; their base weights frozen.
- lp: the head fitted on the frozen backbone's cached features (mpa_dist/train/probe.py), no step here;
- lp_ft: lp, then every weight fine-tuned from there (one group) with early stopping.
"""

from __future__ import annotations

from torch import nn


def param_groups(model: nn.Module, ft, lr: float, weight_decay: float, steps: int) -> list[dict]:
    """Groups with `base_lr` (the schedule scales it) and `frozen_until` (a step before which lr is 0)."""
    head = [p for n, p in model.named_parameters() if not n.startswith("backbone.") and p.requires_grad]
    groups = [{"params": head, "lr": lr, "base_lr": lr, "name": "heads", "weight_decay": weight_decay}]
    bb = model.backbone
    if ft.strategy in ("full", "frozen", "lora", "lp", "lp_ft"):  # lp trains no step; lp_ft fine-tunes all
        params = [p for p in bb.parameters() if p.requires_grad]
        until = int(ft.unfreeze_at * steps) if ft.strategy == "frozen" else 0
        groups.append({"params": params, "lr": lr, "base_lr": lr, "name": "backbone", "frozen_until": until,
                       "weight_decay": weight_decay})
    elif ft.strategy == "llrd":
        n = len(bb.layers)
        for k, layer in enumerate(bb.layers):
            f = ft.llrd ** (n - 1 - k)
            groups.append({"params": list(layer.parameters()), "lr": lr * f, "base_lr": lr * f,
                           "name": f"layer{k}", "weight_decay": weight_decay})
        rest = [p for n_, p in bb.named_parameters() if not n_.startswith("layers.")]
        f = ft.llrd ** n
        groups.append({"params": rest, "lr": lr * f, "base_lr": lr * f, "name": "embedding",
                       "weight_decay": weight_decay})
    return [g for g in groups if g["params"]]


def add_lora(model: nn.Module, rank: int, alpha: float) -> nn.Module:
    """Wrap the backbone's nn.Linear layers with LoRA adapters (peft); heads train fully."""
    from peft import LoraConfig, inject_adapter_in_model

    targets = [n for n, m in model.backbone.named_modules() if isinstance(m, nn.Linear)]  # full names: exact match
    if not targets:
        raise ValueError("LoRA found no nn.Linear layers in the backbone")
    cfg = LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0, bias="none")
    model.backbone = inject_adapter_in_model(cfg, model.backbone)
    for n, p in model.backbone.named_parameters():
        p.requires_grad = "lora_" in n
    return model


def merge_lora(module) -> dict:
    """LoRA folded into the base weights, so the export is a plain model."""
    import copy

    m = copy.deepcopy(module)
    for sub in m.modules():
        if hasattr(sub, "merge") and hasattr(sub, "lora_A"):
            sub.merge()
    state = {}
    for k, v in m.state_dict().items():
        if "lora_" in k:
            continue
        state[k.replace(".base_layer.", ".")] = v.detach().float().cpu()
    return state
