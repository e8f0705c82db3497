"""Pre-training on first-principles data.

    python launch/pretrain.py experiment=smoke
    torchrun --nproc_per_node 2 launch/pretrain.py
    deepspeed --num_gpus 8 launch/pretrain.py experiment=full

A thin script over `mpa_dist.cli.pretrain` (the `mpa-pretrain` command); `--help` explains it.
"""

from mpa_dist.cli import pretrain

if __name__ == "__main__":
    pretrain()
