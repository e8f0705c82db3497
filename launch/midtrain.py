"""Mid-training: experimental training splits aligned with first-principles data.

    python launch/midtrain.py experiment=smoke
    torchrun --nproc_per_node 2 launch/midtrain.py
    deepspeed --num_gpus 8 launch/midtrain.py experiment=full

A thin script over `mpa_dist.cli.midtrain` (the `mpa-midtrain` command); `--help` explains it.
"""

from mpa_dist.cli import midtrain

if __name__ == "__main__":
    midtrain()
