"""Baseline arms on exactly the entries the model arms train and test on: `dummy` (the training mean,
or the majority class) and `rf` (a scikit-learn random forest on RDKit 2-D descriptors for molecules,
element-property statistics for compositions) and, where installed, `chemprop` (Chemprop v2's
message-passing network on the molecular graph, molecular tasks only; `chemprop_mpnn.py`).
See `run.py`."""

from mpa_dist.baselines.run import BASELINES, applies, run_baseline

__all__ = ["BASELINES", "applies", "run_baseline"]
