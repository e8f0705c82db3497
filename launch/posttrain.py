"""Post-training: one experimental task on a checkpoint, or the sweep over many with Ray Tune.

    python launch/posttrain.py finetune.task=expt_gap experiment=smoke
    torchrun --nproc_per_node 2 launch/posttrain.py finetune.task=expt_gap
    deepspeed --num_gpus 8 launch/posttrain.py finetune.task=boiling_point
    python launch/posttrain.py sweep=demo experiment=demo name=demo      # the sweep (configs/sweep/)

A thin script over `mpa_dist.cli.posttrain` (the `mpa-posttrain` command); `--help` explains it.
"""

from mpa_dist.cli import posttrain

if __name__ == "__main__":
    posttrain()
