"""Pre-training on first-principles data.

    python launch/pretrain.py experiment=smoke
    torchrun --nproc_per_node 2 launch/pretrain.py
    deepspeed --num_gpus 8 launch/pretrain.py experiment=full
"""

import hydra

import mpa_dist.train.resolvers  # noqa: F401  (config resolvers)
from mpa_dist.train.distributed import strip_launcher_args
from mpa_dist.train.run import run_phase

strip_launcher_args()


@hydra.main(config_path="../configs", config_name="pretrain", version_base="1.3")
def main(cfg):
    run_phase(cfg)


if __name__ == "__main__":
    main()
