"""Post-training of one experimental task on a checkpoint (the sweep over all tasks: launch/sweep.py).

    python launch/posttrain.py finetune.task=expt_gap experiment=smoke
    torchrun --nproc_per_node 2 launch/posttrain.py finetune.task=expt_gap
    deepspeed --num_gpus 8 launch/posttrain.py finetune.task=boiling_point
"""

import hydra

import mpa_dist.train.resolvers  # noqa: F401  (config resolvers)
from mpa_dist.train.distributed import strip_launcher_args
from mpa_dist.train.run import run_phase

strip_launcher_args()


@hydra.main(config_path="../configs", config_name="posttrain", version_base="1.3")
def main(cfg):
    run_phase(cfg)


if __name__ == "__main__":
    main()
