"""Write a catalogue dataset to WebDataset shards: dataset=<name> out=<dir> [limit=N]."""

import json

import hydra
from omegaconf import DictConfig

from mpa_dist.data.shards import make_shards


@hydra.main(config_path="../configs", config_name="make_shards", version_base="1.3")
def main(cfg: DictConfig) -> None:
    m = make_shards(cfg.dataset, cfg.out, limit=cfg.limit, scheme=cfg.scheme, maxcount=cfg.maxcount,
                    min_shards=cfg.min_shards, workers=cfg.workers, conformers=cfg.conformers, seed=cfg.seed,
                    progress=cfg.progress, privileged=cfg.privileged)
    summary = {k: m[k] for k in ("dataset", "num_input", "num_written", "num_rejected", "num_excluded", "num_held_out",
                                  "num_records", "seconds")}
    summary["shards"] = len(m["shards"])
    summary["out"] = str(cfg.out)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
