"""Predictions of one exported model, or of an ensemble of them, for SMILES, formulas or
structures, as a table with one row per input in input order.

    from mpa_dist.predict import Predictor
    p = Predictor.load("runs/demo/post/boiling_point-mpa/model")
    p.predict(smiles=["CCO", "c1ccccc1O"])

    Predictor.pretrained().predict(smiles=["CCO"])  # the model shipped inside the package: every property
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from ase.data import chemical_symbols
from tqdm.auto import tqdm

from mpa_dist.data.batch import add_edges, collate
from mpa_dist.data.offline import cache_dir
from mpa_dist.data.readers.smiles import ConformerCache
from mpa_dist.data.record import RecordError
from mpa_dist.model import MPAModel
from mpa_dist.predict.release import model_card, properties as release_properties, read_release
from mpa_dist.predict.heads import HeadInfo, describe_heads
from mpa_dist.predict.inputs import Row, formula_rows, smiles_rows, structure_rows
from mpa_dist.predict.limits import MAX_ATOMS, Limits
from mpa_dist.train.checkpoint import CheckpointError, ExportMeta, exists, load_model


@dataclass
class Member:
    path: Path
    model: MPAModel
    meta: ExportMeta
    heads: list[HeadInfo]


def load_member(path: str | Path, device: str | torch.device = "cpu") -> Member:
    """One export as an eval-mode model. Energy heads are built without forces and stress: a
    property table does not need them."""
    no_forces = lambda heads: [{**h, "forces": False, "stress": False} if h.get("readout") == "energy" else h
                               for h in heads]
    model, meta = load_model(path, device, heads=no_forces)
    return Member(Path(path), model, meta, describe_heads(model, meta))


class Predictor:
    """Predictions in each head's physical unit, with an uncertainty per head.

    Uncertainty (`<head> std [...]` columns): the standard deviation (ddof=0) over every
    prediction made for the input: its K conformers (SMILES) times the M models of an
    ensemble. That is the combined spread, var = mean over models of the conformer variance
    + variance of the model means. It is NaN where there is a single prediction (one
    structure or formula, one model): nothing to spread over, not zero error. Neither part is
    a calibrated error bar; the spread over models is the better guide to extrapolation.

    Heads trained on log10(y) (`transform` log10, or log10_neg for log10(-y)) are averaged in
    log10 (a geometric mean once mapped back) and their std is in decades: column
    `<head> std [log10(<unit>)]`, a factor of 10**std.
    """

    def __init__(self, members: list[Member], limits: Limits, device: torch.device,
                 cache: ConformerCache | None = None, release: dict | None = None):
        self.members, self.limits, self.device, self.cache = members, limits, device, cache
        self.heads = members[0].heads
        self.release = release  # release.json of a release (mpa_dist/predict/release.py), else None
        # a release records the elements of each head's own training data: the warning is per property
        self._head_elements = {h["name"]: set(h["elements"]) for h in (release or {}).get("heads", [])
                               if h.get("elements") is not None}
        for m in members[1:]:
            if m.heads != self.heads:
                raise CheckpointError(f"{m.path} and {members[0].path} predict different heads: an ensemble needs "
                                      f"the same heads, units and transforms ({[h.name for h in m.heads]} vs "
                                      f"{[h.name for h in self.heads]})")

    @classmethod
    def load(cls, ckpt: str | Path | list, device: str = "auto", max_atoms: int = MAX_ATOMS,
             conformer_cache: bool = True) -> Predictor:
        """ckpt: an export path (with or without .safetensors), a folder holding model.*, or a list of
        them (an ensemble). device: auto (the GPU when there is one), cpu, cuda, cuda:N.
        A truncated or modified file raises CheckpointError naming it."""
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        paths = [ckpt] if isinstance(ckpt, (str, Path)) else list(ckpt)
        if not paths:
            raise ValueError("no checkpoint given")
        members = [load_member(p, device) for p in paths]
        cache = ConformerCache(cache_dir() / "conformers.sqlite") if conformer_cache else None
        rel = read_release(paths[0]) if len(paths) == 1 else None
        return cls(members, Limits.of([m.meta for m in members], max_atoms), torch.device(device), cache, rel)

    @classmethod
    def pretrained(cls, device: str = "auto", **kw) -> Predictor:
        """The model shipped inside the package (mpa_dist/pretrained, or $MPA_PRETRAINED): one backbone and a
        head per experimental property; read from disk, no network. A SMILES gets every molecular property,
        a formula every composition one. FileNotFoundError, naming the command that builds it, if absent."""
        from mpa_dist import pretrained

        if not pretrained.available():
            raise FileNotFoundError(pretrained.missing_message())
        return cls.load(pretrained.model_path(), device, **kw)

    def properties(self) -> pd.DataFrame:
        """What the model predicts, one row per head: for a release its unit, input, test error beside the rf
        and the dummy, and training size; for a plain export the unit and input kind."""
        if self.release:
            return release_properties(self.release)
        return pd.DataFrame([{"property": h.label, "input": h.input, "unit": h.unit or "1", "column": h.column}
                             for h in self.heads])

    def card(self) -> str:
        """The model card (a release only)."""
        if not self.release:
            raise ValueError(f"{self.members[0].path} is a plain export, not a release: it has no model card "
                             f"(mpa-release builds one from a sweep)")
        return model_card(self.release)

    @classmethod
    def from_sweep(cls, run: str, task: str, arm: str = "mpa", scheme: str = "random", seed: int = 0,
                   runs: str | Path = "runs", **kw) -> Predictor:
        """The model a sweep selected for (task, arm, scheme, seed): runs/<run>/sweep/best/<task>-<arm>-<scheme>-s<seed>."""
        path = Path(runs) / run / "sweep" / "best" / f"{task}-{arm}-{scheme}-s{seed}"
        if not exists(path):
            have = sorted(p.name for p in path.parent.glob("*")) if path.parent.is_dir() else []
            raise FileNotFoundError(f"{path}: no model there; the sweep selected: {', '.join(have) or 'none'}")
        return cls.load(path, **kw)

    def predict(self, smiles=None, structures=None, formulas=None, conformers: int = 4, seed: int = 0,
                conditions: dict | list[dict] | None = None, batch_atoms: int = 4096,
                progress: bool = False) -> pd.DataFrame:
        """Exactly one of smiles= (strings), structures= (ase Atoms, pymatgen Structure or
        Molecule) or formulas= (strings). conditions: {"temperature_K": ..., "pressure_Pa": ...}
        for every row, or one such dict per row. Returns one row per input, in input order: the
        input, each head's prediction and std, `error`, empty where the row was predicted
        and the reason where it was not (its predictions are NaN then), and `warning`, which
        names any element of the input seen in training only before the model's last phase (an
        element never seen at all is an error). For a release (Predictor.pretrained()), only the properties
        that take the input kind are given (a SMILES gets the molecular ones, a formula the composition
        ones), and `warning` names the properties whose own training data lacks an element of the input.
        progress: bars for the 3-D conformers and the forward passes (shown on a terminal, for more than
        100 inputs)."""
        given = {k: v for k, v in (("smiles", smiles), ("structure", structures), ("formula", formulas))
                 if v is not None}
        if len(given) != 1:
            raise ValueError("pass exactly one of smiles=, structures=, formulas=")
        kind, items = given.popitem()
        items = list(items)
        conds = [conditions] * len(items) if isinstance(conditions, dict) else conditions
        if conds is not None and len(conds) != len(items):
            raise ValueError(f"{len(conds)} conditions for {len(items)} inputs")
        if kind == "smiles":
            rows = smiles_rows(items, conformers, seed, self.cache, conds, progress=progress)
        elif kind == "formula":
            rows = formula_rows(items, conds)
        else:
            rows = structure_rows(items, conds)
        rows = [self._check(row) for row in rows]
        table = self._table(kind, items, rows, self._run(rows, batch_atoms, progress))
        if self.release:  # every property the input kind has, each warned about on its own training data
            table["warning"] = [self._head_warning(row) for row in rows]
            return table.drop(columns=[c for h in self.heads if not self._any_takes(h, kind, rows)
                                       for c in (h.column, h.std_column)])
        table["warning"] = [self._warning(row) for row in rows]
        return table

    @staticmethod
    def _any_takes(head: HeadInfo, kind: str, rows: list[Row]) -> bool:
        """Whether the head takes the input kind of these rows (a SMILES is a molecule, a formula a composition)."""
        kinds = {r.input for row in rows if not isinstance(row, RecordError) for r in row}
        kinds |= {"smiles": {"molecule"}, "formula": {"composition"}}.get(kind, set())
        return any(head.takes(k) for k in kinds)

    def _head_warning(self, row: Row) -> str:
        """A release: the properties whose task's training data lacks an element of the input (the head was
        never fitted on such inputs), grouped by the elements missing."""
        if isinstance(row, RecordError) or not self._head_elements:
            return ""
        zs = {int(z) for r in row for z in r.numbers}
        took = [h for h in self.heads if any(h.takes(r.input) for r in row) and h.name in self._head_elements]
        missing: dict[tuple[int, ...], list[str]] = {}
        for h in took:
            out = tuple(sorted(zs - self._head_elements[h.name]))
            if out:
                missing.setdefault(out, []).append(h.label)
        parts = [f"element(s) {', '.join(chemical_symbols[z] for z in zs_)} not in the training data of "
                 f"{', '.join(labels)} ({len(labels)} of {len(took)} properties)" for zs_, labels in missing.items()]
        return "; ".join(parts) + (": extrapolations" if parts else "")

    def _warning(self, row: Row) -> str:
        """Elements of the input that the model saw in training only in phases before its last one (for
        a post-trained model: not in the task's own training data). An element never seen in training
        at all is refused by the limits (its embedding was never trained): an error, not a warning."""
        if isinstance(row, RecordError):
            return ""
        metas = [m.meta for m in self.members]
        last = [set(m.lineage[-1]["elements"]) for m in metas if m.lineage and "elements" in m.lineage[-1]]
        if len(last) < len(metas):
            return ""  # exported before elements were recorded
        only_before = {int(z) for r in row for z in r.numbers} - set.intersection(*last)
        if not only_before:
            return ""
        names = ", ".join(chemical_symbols[z] for z in sorted(only_before))
        return (f"element(s) {names} not in this model's {metas[0].lineage[-1]['phase']} training data (seen "
                f"only in earlier phases): an extrapolation")

    def _check(self, row: Row) -> Row:
        if isinstance(row, RecordError):
            return row
        kinds = sorted({h.input for h in self.heads if h.input})
        try:
            for r in row:
                self.limits.check(r)
                if not any(h.takes(r.input) for h in self.heads):
                    raise RecordError(r.key, f"no head of this model takes {r.input} inputs (its heads take "
                                             f"{', '.join(kinds)})")
        except RecordError as e:
            return e
        return row

    @torch.no_grad()
    def _run(self, rows: list[Row], batch_atoms: int, progress: bool = False) -> dict[str, list[list[float]]]:
        """head -> per row, the predictions (training space) of every conformer and member."""
        values = {h.name: [[] for _ in rows] for h in self.heads}
        for m in self.members:
            vocab = m.meta.source_vocab
            items = [(i, add_edges(r, m.model.cutoff)) for i, row in enumerate(rows)
                     if not isinstance(row, RecordError) for r in row]
            for source in dict.fromkeys(h.source for h in m.heads):
                heads = [h for h in m.heads if h.source == source]
                todo = [(i, (dataclasses.replace(r, source=source), e, s)) for i, (r, e, s) in items
                        if any(h.takes(r.input) for h in heads)]
                chunks = list(_chunks(todo, batch_atoms))
                bar = tqdm(chunks, desc=f"{m.path.name}: {source}", unit="batch", leave=False,
                           disable=None if progress and len(rows) > 100 else True)
                for chunk in bar:
                    batch = collate([it for _, it in chunk], vocab).to(self.device)
                    out = m.model.predict(batch)
                    for h in heads:
                        for (i, (r, _, _)), v in zip(chunk, h.scalars(out[h.name]), strict=True):
                            if h.takes(r.input):
                                values[h.name][i].append(float(v))
        return values

    def _table(self, kind: str, items: list, rows: list[Row], values: dict) -> pd.DataFrame:
        table = {kind: [_describe(x) for x in items]}
        if kind == "smiles":
            table["conformers"] = [0 if isinstance(r, RecordError) else len(r) for r in rows]
        for h in self.heads:
            v = [np.asarray(values[h.name][i]) for i in range(len(rows))]
            table[h.column] = [h.to_physical(x.mean()) if len(x) else np.nan for x in v]
            table[h.std_column] = [x.std() if len(x) > 1 else np.nan for x in v]
        table["error"] = [r.reason if isinstance(r, RecordError) else "" for r in rows]
        return pd.DataFrame(table)


def _chunks(todo: list, max_atoms: int):
    chunk, atoms = [], 0
    for item in todo:
        n = item[1][0].num_atoms
        if chunk and atoms + n > max_atoms:
            yield chunk
            chunk, atoms = [], 0
        chunk.append(item)
        atoms += n
    if chunk:
        yield chunk


def _describe(x) -> str:
    """The input column: the SMILES or formula as given, a structure's chemical formula."""
    if isinstance(x, RecordError):  # a file that could not be read: the error says which
        return ""
    if hasattr(x, "get_chemical_formula"):
        return x.get_chemical_formula()
    if hasattr(x, "composition"):
        return x.composition.formula.replace(" ", "")
    return "" if x is None else str(x)
