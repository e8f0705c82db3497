"""Checkpoints: DeepSpeed's (everything to resume, ZeRO-partitioned) and an exported,
consolidated fp32 model that loads without DeepSpeed and without unpickling anything.

The export is two files written atomically: `model.safetensors` (weights and the
normalisation/reference buffers) and `model.json` (architecture, heads, source vocabulary,
tasks with units and transforms, lineage), read as a typed ExportMeta. This is the only module
that knows that layout: everything else calls load_model, load_exported, read_meta, exists and
copy_export with the path of an export (with or without a suffix) or the folder holding model.*.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass, field
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
    meta = ExportMeta.from_json(meta, js).to_json()  # only the typed fields, every one present
    js.with_suffix(".json.tmp").write_text(json.dumps(meta, indent=1))
    os.replace(str(st) + ".tmp", st)
    os.replace(js.with_suffix(".json.tmp"), js)


@dataclass
class ExportMeta:
    """model.json, typed: what rebuilds the model and says what it predicts and what trained it."""

    model: dict  # the architecture (a configs/model/*.yaml node, resolved)
    heads: list[dict]  # head specs as build_model takes them: name, readout, ...
    source_vocab: dict[str, int]  # source name -> embedding index
    sha256: str = ""  # of the .safetensors next to it
    phase: str | None = None  # pretrain | midtrain | posttrain
    step: int = 0
    tasks: dict[str, dict] = field(default_factory=dict)  # label -> task summary: unit, input, transform, ...
    transforms: dict[str, str] = field(default_factory=dict)  # label -> log10 | log10_neg (none left out)
    split_scheme: str | None = None
    data: list[str] = field(default_factory=list)  # the datasets of the last phase
    eval_schemes: list[str] | None = None  # schemes whose evaluation compounds the chain left out
    privileged: bool = False
    elements: list[int] | None = None  # atomic numbers in the chain's training data
    init: dict | None = None  # {path, sha256} of the export this one started from
    lineage: list[dict] = field(default_factory=list)  # each phase: sources, shard folders, elements
    format: int = 0
    mpa_dist_version: str | None = None
    commit: str | None = None
    torch: str | None = None
    e3nn: str | None = None

    @property
    def cutoff(self) -> float:
        return float(self.model["cutoff"])

    @property
    def max_z(self) -> int:
        return int(self.model.get("max_z", 118))

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict, where: Path | str = "model.json") -> ExportMeta:
        known = {f.name for f in dataclasses.fields(cls)}
        for key in ("model", "heads", "source_vocab"):
            if key not in d:
                raise CheckpointError(f"{where} lacks {key!r}: not an mpa_dist model export")
        return cls(**{k: v for k, v in d.items() if k in known})


def _paths(path: str | Path) -> tuple[Path, Path]:
    """(.safetensors, .json) of an export given as its path (with or without a suffix) or its folder."""
    path = Path(path)
    if path.is_dir() and (path / "model.json").exists():
        path = path / "model"
    st = path if path.suffix == ".safetensors" else path.with_suffix(".safetensors")
    return st, st.with_suffix(".json")


def exists(path: str | Path) -> bool:
    st, js = _paths(path)
    return st.exists() and js.exists()


def copy_export(src: str | Path, dst_dir: Path) -> Path:
    """The export at src copied to dst_dir/model.* (each file atomically); returns dst_dir/model."""
    dst = Path(dst_dir) / "model"
    dst.parent.mkdir(parents=True, exist_ok=True)
    for f in _paths(src):
        tmp = dst.with_suffix(f.suffix + ".tmp")
        shutil.copyfile(f, tmp)
        tmp.replace(dst.with_suffix(f.suffix))
    return dst


def read_meta(path: str | Path) -> ExportMeta:
    """The metadata alone (the weights are not read, nor checked against their sha256)."""
    st, js = _paths(path)
    if not js.exists():
        raise CheckpointError(f"{js} not found: export a model with a training phase first")
    try:
        raw = json.loads(js.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{js} is not valid JSON: {e}") from None
    fmt = raw.get("format", 0) if isinstance(raw, dict) else None
    if not isinstance(fmt, int) or fmt > FORMAT:
        version = raw.get("mpa_dist_version", "?") if isinstance(raw, dict) else "?"
        raise CheckpointError(f"{js} has export format {fmt!r}, written by mpa_dist {version}; "
                              f"this mpa_dist reads formats up to {FORMAT}: upgrade mpa_dist to load it")
    return ExportMeta.from_json(raw, js)


def load_exported(path: str | Path) -> tuple[dict[str, torch.Tensor], ExportMeta]:
    """Weights and metadata of an exported model; a truncated or tampered file is a clear error."""
    st, js = _paths(path)
    if not st.exists() or not js.exists():
        raise CheckpointError(f"{st} and {js} are both needed: export a model with a training phase first")
    meta = read_meta(path)
    try:
        state = load_file(str(st))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{st} is not a readable safetensors file (truncated or modified?): {e}") from None
    if not meta.sha256:
        raise CheckpointError(f"{js} lacks 'sha256': not an mpa_dist model export")
    if sha256_file(st) != meta.sha256:
        raise CheckpointError(f"{st} does not match the sha256 recorded in {js}: the weights were modified or "
                              f"damaged after export")
    return state, meta


def load_model(path: str | Path, device: str | torch.device = "cpu", heads=None):
    """(model in eval mode, ExportMeta) of an export, without DeepSpeed. heads: the head specs to build
    instead of the export's (a list, or a function of the export's list); the weights of heads left
    out are not loaded. Any other mismatch between the weights and model.json is a CheckpointError."""
    from mpa_dist.model import build_model

    state, meta = load_exported(path)
    specs = meta.heads if heads is None else heads(meta.heads) if callable(heads) else heads
    names = {h["name"] for h in specs}
    state = {k: v for k, v in state.items() if not k.startswith("heads.") or k.split(".")[1] in names}
    js = _paths(path)[1]
    try:
        model = build_model(meta.model, specs)
        missing, unexpected = model.load_state_dict(state, strict=False)
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"{js}: does not describe the weights next to it: {str(e).splitlines()[0]}") from None
    if missing or unexpected:
        raise CheckpointError(f"{js}: does not describe the weights next to it: {len(missing)} missing "
                              f"(e.g. {missing[:1]}), {len(unexpected)} unexpected (e.g. {unexpected[:1]})")
    return model.to(device).eval(), meta


def load_matching(model, state: dict) -> list[str]:
    """Load every tensor whose name and shape match (backbone, and heads of the same name)."""
    own = model.state_dict()
    match = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(match, strict=False)
    return sorted(match)
