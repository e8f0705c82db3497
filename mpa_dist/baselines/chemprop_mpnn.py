"""The Chemprop baseline: a directed message-passing network on the 2-D molecular graph (Chemprop v2,
Heid et al., J. Chem. Inf. Model. 2024), the model most chemists would train instead of a foundation
model. Chemprop's own defaults: bond-centred message passing (hidden size 300, depth 3), mean
aggregation, batch norm, a 300-wide feed-forward head on standardised targets, its Noam-style
learning-rate schedule; trained on the task's training entries, the epoch with the lowest validation
MAE (accuracy for classification) kept, scored once on test. Molecules only.

Chemprop is an optional install (`pip install "mpa_dist[chemprop]"`): 2.2.1, the last release that
does not pin RDKit (2.3 pulls cuik-molmaker, which pins an older RDKit than this stack's).
The best epoch's weights are kept in memory, not in a Lightning checkpoint (a pickle).
"""

from __future__ import annotations

import math

import numpy as np

CHEMPROP_VERSION = "2.2.1"


def available() -> bool:
    try:
        import chemprop  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    if not available():
        raise ImportError(f"the chemprop baseline needs Chemprop v2: pip install 'chemprop=={CHEMPROP_VERSION}' "
                          f"(or the mpa_dist[chemprop] extra)")


def _best_keeper(monitor: str, mode: str):
    import torch
    from lightning.pytorch.callbacks import Callback

    class KeepBest(Callback):
        """The weights of the best validation epoch, copied in memory."""

        def __init__(self):
            self.best, self.state, self.epoch = math.inf, None, -1

        def on_validation_end(self, trainer, module):
            if trainer.sanity_checking:
                return
            v = float(trainer.callback_metrics[monitor])
            v = -v if mode == "max" else v
            if v < self.best:
                self.best, self.epoch = v, trainer.current_epoch
                self.state = {k: t.detach().clone() for k, t in module.state_dict().items()}

        def restore(self, module):
            with torch.no_grad():
                module.load_state_dict(self.state)

    return KeepBest()


def fit_predict(splits: dict, classification: bool, seed: int, threads: int = 1, epochs: int = 50,
                patience: int = 10) -> tuple[np.ndarray, float, dict]:
    """(test predictions, validation score to minimise, chosen settings). `splits`: split -> (SMILES,
    targets in training units)."""
    require()
    import lightning.pytorch as pl
    import torch
    from chemprop import data, featurizers, models, nn
    from lightning.pytorch.callbacks import EarlyStopping

    torch.set_num_threads(threads)
    pl.seed_everything(seed, workers=True, verbose=False)
    featurizer = featurizers.SimpleMoleculeMolGraphFeaturizer()
    sets = {s: data.MoleculeDataset([data.MoleculeDatapoint.from_smi(smi, [float(y)])
                                     for smi, y, _ in zip(*splits[s])], featurizer) for s in ("train", "val", "test")}
    if classification:
        predictor, metrics, monitor, mode = nn.BinaryClassificationFFN(), [nn.metrics.BinaryAccuracy()], \
            "val/accuracy", "max"
    else:
        scaler = sets["train"].normalize_targets()
        sets["val"].normalize_targets(scaler)  # val_loss is computed on standardised targets
        predictor = nn.RegressionFFN(output_transform=nn.UnscaleTransform.from_standard_scaler(scaler))
        metrics, monitor, mode = [nn.metrics.MAE()], "val/mae", "min"
    unit = 1.0 if classification else float(scaler.scale_[0])  # val/mae is on standardised targets
    model = models.MPNN(nn.BondMessagePassing(), nn.MeanAggregation(), predictor, batch_norm=True, metrics=metrics)
    loaders = {s: data.build_dataloader(d, num_workers=0, seed=seed, shuffle=(s == "train"))
               for s, d in sets.items()}
    keep = _best_keeper(monitor, mode)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, deterministic=True,
                         callbacks=[keep, EarlyStopping(monitor, patience=patience, mode=mode)])
    trainer.fit(model, loaders["train"], loaders["val"])
    keep.restore(model)
    model.eval()
    with torch.no_grad():
        preds = torch.cat([model(b.bmg, b.V_d, b.X_d) for b in loaders["test"]])[:, 0].numpy()
    return preds.astype(np.float64), keep.best * unit, {"epochs_run": trainer.current_epoch, "best_epoch": keep.epoch}
