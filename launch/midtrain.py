"""Mid-training: experimental training splits aligned with first-principles data.

    python launch/midtrain.py experiment=smoke
    torchrun --nproc_per_node 2 launch/midtrain.py
    deepspeed --num_gpus 8 launch/midtrain.py experiment=full
"""

import hydra

import mpa_dist.train.resolvers  # noqa: F401  (config resolvers)
from mpa_dist.train.distributed import strip_launcher_args
from mpa_dist.train.run import run_phase

strip_launcher_args()


@hydra.main(config_path="../configs", config_name="midtrain", version_base="1.3")
def main(cfg):
    run_phase(cfg)


if __name__ == "__main__":
    main()
