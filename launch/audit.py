"""The exposure audit of a post-trained model: evaluation compounds of its task in the training data
of its chain (pre-, mid- and post-training), by source and label.

    python launch/audit.py ckpt=runs/demo/sweep/best/boiling_point-mpa-random-s0/model
    python launch/audit.py ckpt=runs/demo/midtrain-random/model eval=shards/boiling_point-random/n2000/k2
"""

import json

import hydra
from omegaconf import DictConfig

from mpa_dist.report.audit import audit_export, summary_line


@hydra.main(config_path="../configs", config_name="audit", version_base="1.3")
def main(cfg: DictConfig) -> None:
    a = audit_export(cfg.ckpt, cfg.eval)
    print(json.dumps(a, indent=1))
    print(summary_line(a))
    if cfg.strict and a["exposed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
