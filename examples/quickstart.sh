#!/usr/bin/env bash
# Quick start, in any folder, with the package installed (pip install "<checkout>[train,data]"):
# pre-train a small model, fine-tune it on your own CSV, predict with it.
#
#   bash examples/quickstart.sh               # SIZE=smoke: a few minutes on a 2-core laptop
#   SIZE=demo bash examples/quickstart.sh     # the README's model size (about 15 minutes)
#
# Runs go to ./runs/quickstart, shards to ./shards ($SHARDS); nothing is downloaded but the data packages.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
size=${SIZE:-smoke}
name=${NAME:-quickstart}
shards=${SHARDS:-shards}  # where shards are written, or found when they already exist

# 0. the offline datasets (data-only packages and two archives; a no-op when present)
mpa-data --fetch

# 1. pre-train on first-principles data (QM9 molecules and DFT compositions)
mpa-pretrain experiment="$size" name="$name" data.shards_root="$shards"

# 2. fine-tune one task on your own CSV: a `smiles` (or `formula`) column, and one label column
#    that names its unit in brackets, here `boiling_point [K]` (90 molecules, Wikidata, CC0).
#    finetune=lp fits the head on the frozen backbone's features: seconds on a CPU.
mpa-posttrain experiment="$size" name="$name" data.shards_root="$shards" finetune=lp \
  finetune.task="$here/boiling_points.csv" init_from="runs/$name/pretrain/model"
model="runs/$name/posttrain/boiling_points-direct-random-s0/best"

# 3. predict: SMILES on the command line, or a CSV (input=my.csv smiles_column=SMILES)
mpa-predict ckpt="$model" smiles='[CCO,c1ccccc1O,CCCCCCCC]' output="runs/$name/predictions.csv"
cat "runs/$name/predictions.csv"

# 4. the same from Python
python - "$model" <<'PY'
import sys
from mpa_dist.predict import Predictor

table = Predictor.load(sys.argv[1]).predict(smiles=["CCO", "CC(=O)O"])
print(table.to_string(index=False))
PY
