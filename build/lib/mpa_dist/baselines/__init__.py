"""Baseline arms on exactly the entries the model arms train and test on: `dummy` (the training mean,
or the majority class) and `rf` (a scikit-learn random forest on RDKit 2-D descriptors for molecules,
element-property statistics for compositions). See `run.py`."""

from mpa_dist.baselines.run import BASELINES, run_baseline

__all__ = ["BASELINES", "run_baseline"]
