"""What the configs need before Hydra composes them, registered on import: the OmegaConf resolvers
they use and the group schemas (mpa_dist.train.schema.register)."""

from omegaconf import OmegaConf


def _all_experimental_tasks() -> dict:
    from mpa_dist.data.catalog import registry

    return OmegaConf.create({t.name: {"limit": None} for t in registry.tasks() if t.kind == "experimental"})


def arm_of(init_from) -> str:
    """The arm a post-training starts from, for its run folder: mpa (a mid-trained model), direct
    (a pre-trained one), scratch (none), or ft-<8 hex> for any other export."""
    import hashlib
    from pathlib import Path

    if not init_from or str(init_from) in ("None", "null"):
        return "scratch"
    from mpa_dist.train import checkpoint

    phase = checkpoint.read_meta(init_from).phase if checkpoint.exists(init_from) else None
    return {"midtrain": "mpa", "pretrain": "direct"}.get(phase) or \
        f"ft-{hashlib.sha1(str(Path(str(init_from)).resolve()).encode()).hexdigest()[:8]}"


def task_name(task) -> str:
    """A task for a run folder's name: a catalogue task as it is, a user file by its stem."""
    from pathlib import Path

    return Path(str(task)).stem if str(task).endswith((".csv", ".json", ".db", ".xyz", ".extxyz")) else str(task)


def default_init(own) -> str:
    """Post-training's default init_from (configs/posttrain.yaml): this run's mid-trained model when it
    exists, else the model shipped inside the package when there is one (mpa_dist/pretrained)."""
    from mpa_dist import pretrained

    return pretrained.default_init(str(own))


if not OmegaConf.has_resolver("default_init"):
    OmegaConf.register_new_resolver("default_init", default_init)
if not OmegaConf.has_resolver("task_name"):
    OmegaConf.register_new_resolver("task_name", task_name)
if not OmegaConf.has_resolver("arm"):
    OmegaConf.register_new_resolver("arm", arm_of)
if not OmegaConf.has_resolver("all_experimental_tasks"):
    OmegaConf.register_new_resolver("all_experimental_tasks", _all_experimental_tasks)


# the group schemas as `<group>/_schema` (the first default of each group's yaml files)
from mpa_dist.train import schema as _schema  # noqa: E402

_schema.register()
