"""Print the catalogue of datasets and tasks: a table, or JSON with `format=json`."""

import json
import warnings

import hydra
from omegaconf import DictConfig

from mpa_dist.data.catalog import registry
from mpa_dist.data.catalog.format import table, task_detail


@hydra.main(config_path="../configs", config_name="catalog", version_base="1.3")
def main(cfg: DictConfig) -> None:
    warnings.filterwarnings("ignore", message="No Pauling electronegativity")  # pymatgen, noble gases
    if cfg.task:
        print(task_detail(cfg.task))
        return
    if cfg.format not in ("table", "json"):
        raise ValueError(f"format must be 'table' or 'json', not {cfg.format!r}")
    items = registry.catalog(rebuild=cfg.rebuild)
    items = [i for i in items if (cfg.kind is None or i["kind"] == cfg.kind)
             and (cfg.input is None or i["input"] == cfg.input)]
    print(json.dumps(items, indent=1) if cfg.format == "json" else table(items))


if __name__ == "__main__":
    main()
