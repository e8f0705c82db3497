"""Predictions of an exported model (or an ensemble) for a table of SMILES or formulas, or
for structure files, written as CSV.

    python launch/predict.py ckpt=runs/demo/post/boiling_point-mpa/model input=mols.csv output=bp.csv
    python launch/predict.py ckpt=[runs/a/model,runs/b/model] input='cifs/*.cif' output=pred.csv
"""

import hydra


@hydra.main(config_path="../configs", config_name="predict", version_base="1.3")
def main(cfg):
    from mpa_dist.predict.run import run_predict  # torch, RDKit: only once Hydra has a config to run

    run_predict(cfg)


if __name__ == "__main__":
    main()
