"""Post-training: one experimental task on a checkpoint, or the sweep over many with Ray Tune.

    python launch/posttrain.py finetune.task=expt_gap experiment=smoke
    torchrun --nproc_per_node 2 launch/posttrain.py finetune.task=expt_gap
    deepspeed --num_gpus 8 launch/posttrain.py finetune.task=boiling_point
    python launch/posttrain.py sweep=demo experiment=demo name=demo      # the sweep (configs/sweep/)
"""

import hydra

import mpa_dist.train.resolvers  # noqa: F401  (config resolvers)
from mpa_dist.train.distributed import strip_launcher_args

strip_launcher_args()


@hydra.main(config_path="../configs", config_name="posttrain", version_base="1.3")
def main(cfg):
    if cfg.get("sweep"):
        from mpa_dist.tune.sweep import run_sweep

        run_sweep(cfg)
    else:
        from mpa_dist.train.run import run_phase

        run_phase(cfg)


if __name__ == "__main__":
    main()
