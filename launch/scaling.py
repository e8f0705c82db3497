"""The scaling study over first-principles data aligned in mid-training.

    python launch/scaling.py preset=demo name=scaling amounts=[0,1000,10000,null]

Pre-trains once (or reuses `pretrained=`), mid-trains once per amount, post-trains every
mid-trained model and the pre-trained one on the same tasks in one sweep, then writes
runs/<name>/scaling/{scaling.csv, scaling.md, scaling.png}.
"""

import hydra

from mpa_dist.tune.scaling import run_scaling


@hydra.main(config_path="../configs", config_name="scaling", version_base="1.3")
def main(cfg):
    run_scaling(cfg)


if __name__ == "__main__":
    main()
