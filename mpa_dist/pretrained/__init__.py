"""The model shipped inside the package: one export (`model.safetensors`, `model.json`) with the
mid-trained backbone and one post-trained head per experimental property, and `release.json`
(per-property units and test errors beside the baselines, training data and licences, exposure,
version, commit and the weights' sha256). `mpa-release` builds it from a finished sweep; this
module only says where it is, so that configs can find it without importing torch.

    from mpa_dist.predict import Predictor
    Predictor.pretrained().predict(smiles=["CCO"])
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "MPA_PRETRAINED"  # a release folder to use instead of the one inside the package
FILES = ("model.safetensors", "model.json", "release.json")
BUILD = "make every-task, then mpa-release sweep_dir=runs/every_task/sweep out=mpa_dist/pretrained"
NAME = "pretrained"  # init_from=pretrained: post-training starts from the shipped model


def folder() -> Path:
    """The release folder: $MPA_PRETRAINED when set, else this package folder."""
    return Path(os.environ.get(ENV) or Path(__file__).parent)


def available() -> bool:
    return all((folder() / f).is_file() for f in FILES)


def model_path() -> str:
    """The shipped export, as init_from= and ckpt= take it."""
    return str(folder() / "model")


def missing_message(instead: str = "ckpt=<export>") -> str:
    where = folder()
    env = f" (${ENV})" if os.environ.get(ENV) else ""
    return f"no model is shipped in {where}{env}: it is built from a finished sweep with `{BUILD}`; or give {instead}"


def _exists(path: str) -> bool:
    p = Path(path)
    if (p / "model.json").is_file():
        return True
    return p.with_suffix(".json").is_file() and p.with_suffix(".safetensors").is_file()


def init_from(value) -> str | None:
    """What an init_from value means: `pretrained` is the shipped model; anything else is itself."""
    if value is not None and str(value) == NAME:
        if not available():
            raise FileNotFoundError(f"init_from=pretrained: {missing_message('init_from=<export>')}")
        return model_path()
    return value


def default_init(own: str) -> str:
    """Post-training's default init_from: this run's own mid-trained model (`own`,
    runs/<name>/midtrain-<scheme>/model) when it exists, else the shipped model when the package has one
    (mid-trained too: the MPA arm), else `own`, whose absence is then the error that names it."""
    if _exists(str(own)) or not available():
        return own
    return model_path()
