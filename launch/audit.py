"""The exposure audit of a model: evaluation compounds of its task in the training data of its chain.

    python launch/audit.py ckpt=runs/demo/sweep/best/boiling_point-mpa-random-s0/model

A thin script over `mpa_dist.cli.audit` (the `mpa-audit` command); `--help` explains it.
"""

from mpa_dist.cli import audit

if __name__ == "__main__":
    audit()
