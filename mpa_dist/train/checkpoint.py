"""Checkpoints: DeepSpeed's (everything to resume, ZeRO-partitioned) and an exported,
consolidated fp32 model that loads without DeepSpeed and without unpickling anything.

The export is two files written atomically: `model.safetensors` (weights and the
normalisation/reference buffers) and `model.json` (architecture, heads, source vocabulary,
tasks with units and transforms).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mpa_dist.data.offline import sha256_file
from mpa_dist.train import distributed as dist

CKPT_DIR = "checkpoints"
FORMAT = 1  # the layout of model.json / model.safetensors; a newer one is refused, never misread


def provenance() -> dict:
    """What wrote an export: its format, the package, torch and e3nn versions, the git commit if any."""
    import subprocess

    import e3nn

    from mpa_dist import __version__

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"format": FORMAT, "mpa_dist_version": __version__, "commit": commit, "torch": torch.__version__,
            "e3nn": e3nn.__version__}


class CheckpointError(RuntimeError):
    pass


def save(engine, run_dir: Path, step: int, client_state: dict, keep: int = 2) -> None:
    """All ranks call this. DeepSpeed writes the tag, then `latest`: a crash mid-save leaves
    `latest` on the previous complete checkpoint."""
    ckpt = run_dir / CKPT_DIR
    engine.save_checkpoint(str(ckpt), tag=f"step{step:09d}", client_state=client_state)
    dist.barrier()
    if dist.is_main():
        tags = sorted(p for p in ckpt.glob("step*") if p.is_dir())
        for old in tags[:-keep]:
            _rmtree(old)


def _rmtree(path: Path) -> None:
    for p in sorted(path.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    path.rmdir()


def resume(engine, run_dir: Path) -> dict | None:
    ckpt = run_dir / CKPT_DIR
    if not (ckpt / "latest").exists():
        return None
    path, client = engine.load_checkpoint(str(ckpt), load_optimizer_states=True, load_lr_scheduler_states=True)
    if path is None:
        raise CheckpointError(f"could not load the DeepSpeed checkpoint in {ckpt}")
    return client


def consolidated_state(engine, run_dir: Path) -> dict[str, torch.Tensor]:
    """Full fp32 weights on every rank: from the module (ZeRO 0-2) or gathered (ZeRO-3)."""
    if engine.zero_optimization_stage() == 3:
        from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

        return get_fp32_state_dict_from_zero_checkpoint(str(run_dir / CKPT_DIR))
    return {k: v.detach().float().cpu() for k, v in engine.module.state_dict().items()}


def export(state: dict[str, torch.Tensor], meta: dict, path: Path) -> None:
    """Write <path>.safetensors and <path>.json atomically (rank 0 only)."""
    if not dist.is_main():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    st, js = path.with_suffix(".safetensors"), path.with_suffix(".json")
    state = {k: v.contiguous() for k, v in state.items() if v is not None}
    save_file(state, str(st) + ".tmp", metadata={"format": "mpa_dist"})
    meta = {**meta, **provenance(), "sha256": sha256_file(Path(str(st) + ".tmp"))}
    js.with_suffix(".json.tmp").write_text(json.dumps(meta, indent=1))
    os.replace(str(st) + ".tmp", st)
    os.replace(js.with_suffix(".json.tmp"), js)


def load_exported(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Weights and metadata of an exported model (its path, with or without .safetensors, or the folder
    holding model.*); a truncated or tampered file is a clear error."""
    path = Path(path)
    if path.is_dir() and (path / "model.json").exists():
        path = path / "model"
    st = path if path.suffix == ".safetensors" else path.with_suffix(".safetensors")
    js = st.with_suffix(".json")
    if not st.exists() or not js.exists():
        raise CheckpointError(f"{st} and {js} are both needed: export a model with a training phase first")
    try:
        state = load_file(str(st))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{st} is not a readable safetensors file (truncated or modified?): {e}") from None
    try:
        meta = json.loads(js.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{js} is not valid JSON: {e}") from None
    fmt = meta.get("format", 0) if isinstance(meta, dict) else None
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise CheckpointError(f"{js} has export format {fmt!r}, written by mpa_dist {meta.get('mpa_dist_version', '?')}; "
                              f"this mpa_dist reads formats up to {FORMAT}: upgrade mpa_dist to load it")
    for key in ("model", "heads", "source_vocab", "sha256"):
        if key not in meta:
            raise CheckpointError(f"{js} lacks {key!r}: not an mpa_dist model export")
    if sha256_file(st) != meta["sha256"]:
        raise CheckpointError(f"{st} does not match the sha256 recorded in {js}: the weights were modified or "
                              f"damaged after export")
    return state, meta
