"""Predictions of an exported model (or an ensemble) for SMILES, formulas or structure files, as CSV.

    python launch/predict.py ckpt=runs/demo/sweep/best/boiling_point-mpa-random-s0 smiles=[CCO,c1ccccc1O]
    python launch/predict.py ckpt=[runs/a/model,runs/b/model] input='cifs/*.cif' output=pred.csv

A thin script over `mpa_dist.cli.predict` (the `mpa-predict` command); `--help` explains it.
"""

from mpa_dist.cli import predict

if __name__ == "__main__":
    predict()
