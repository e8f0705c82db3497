"""OmegaConf resolvers the configs use (registered on import, before Hydra resolves anything)."""

from omegaconf import OmegaConf


def _all_experimental_tasks() -> dict:
    from mpa_dist.data.catalog import registry

    return OmegaConf.create({t.name: {"limit": None} for t in registry.tasks() if t.kind == "experimental"})


if not OmegaConf.has_resolver("all_experimental_tasks"):
    OmegaConf.register_new_resolver("all_experimental_tasks", _all_experimental_tasks)
