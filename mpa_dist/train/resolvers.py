"""OmegaConf resolvers the configs use (registered on import, before Hydra resolves anything)."""

from omegaconf import OmegaConf


def _all_experimental_tasks() -> dict:
    from mpa_dist.data.catalog import registry

    return OmegaConf.create({t.name: {"limit": None} for t in registry.tasks() if t.kind == "experimental"})


def arm_of(init_from) -> str:
    """The arm a post-training starts from, for its run folder: mpa (a mid-trained model), direct
    (a pre-trained one), scratch (none), or ft-<8 hex> for any other export."""
    import hashlib
    import json
    from pathlib import Path

    if not init_from or str(init_from) in ("None", "null"):
        return "scratch"
    js = Path(str(init_from)).with_suffix(".json")
    phase = json.loads(js.read_text()).get("phase") if js.exists() else None
    return {"midtrain": "mpa", "pretrain": "direct"}.get(phase) or \
        f"ft-{hashlib.sha1(str(Path(str(init_from)).resolve()).encode()).hexdigest()[:8]}"


if not OmegaConf.has_resolver("arm"):
    OmegaConf.register_new_resolver("arm", arm_of)
if not OmegaConf.has_resolver("all_experimental_tasks"):
    OmegaConf.register_new_resolver("all_experimental_tasks", _all_experimental_tasks)
