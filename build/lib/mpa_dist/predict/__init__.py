"""What a user touches after training: predictions as a table, and an ASE calculator.

    from mpa_dist.predict import MPACalculator, Predictor
"""

from mpa_dist.predict.calculator import MPACalculator
from mpa_dist.predict.predictor import Predictor

__all__ = ["MPACalculator", "Predictor"]
