"""The scaling study over first-principles data aligned in mid-training.

    python launch/scaling.py preset=demo name=scaling amounts=[0,1000,10000,null]

A thin script over `mpa_dist.cli.scaling` (the `mpa-scaling` command); `--help` explains it.
"""

from mpa_dist.cli import scaling

if __name__ == "__main__":
    scaling()
