"""User inputs to Records, one entry per input row: the row's records (K conformers for a
SMILES, one record otherwise) or the RecordError that says why the row cannot be used.

Records carry a placeholder source; the predictor sets the source of each head it runs.
"""

from __future__ import annotations

import math

from ase import Atoms
from tqdm.auto import tqdm
from pymatgen.core import Molecule, Structure

from mpa_dist.data.readers.formula import composition_record
from mpa_dist.data.readers.smiles import ConformerCache, molecule_records
from mpa_dist.data.readers.structures import from_atoms, from_structure
from mpa_dist.data.record import Record, RecordError

Row = list[Record] | RecordError
SOURCE, THEORY = "input", "unknown"


def _key(i: int) -> str:
    return f"row{i}"


def _empty(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or not str(value).strip()


def _row(i: int, make, item) -> Row:
    try:
        return make(i, item)
    except RecordError as e:
        return e
    except Exception as e:  # a reader's own failure (RDKit, pymatgen, ase) still names the row
        return RecordError(_key(i), f"{type(e).__name__}: {e}")


def smiles_rows(smiles: list, conformers: int = 4, seed: int = 0, cache: ConformerCache | None = None,
                conditions: list[dict] | None = None, progress: bool = False) -> list[Row]:
    """K 3-D conformers per SMILES (RDKit ETKDG + MMFF, as in training), all in one group."""
    def make(i, s):
        if _empty(s):
            raise RecordError(_key(i), "empty SMILES")
        return molecule_records(_key(i), str(s).strip(), SOURCE, THEORY, {}, k=conformers, seed=seed, cache=cache,
                                conditions=_conditions(conditions, i), group=_key(i))
    bar = tqdm(smiles, desc="3-D conformers", unit="mol", leave=False,
               disable=None if progress and len(smiles) > 100 else True)
    return [_row(i, make, s) for i, s in enumerate(bar)]


def formula_rows(formulas: list, conditions: list[dict] | None = None) -> list[Row]:
    """A bare composition per formula (amounts per reduced formula unit, as in training)."""
    def make(i, f):
        if _empty(f):
            raise RecordError(_key(i), "empty formula")
        return [composition_record(_key(i), str(f).strip(), SOURCE, THEORY, conditions=_conditions(conditions, i))]
    return [_row(i, make, f) for i, f in enumerate(formulas)]


def structure_rows(structures: list, conditions: list[dict] | None = None) -> list[Row]:
    """ase Atoms (periodic -> crystal, else molecule) or pymatgen Structure / Molecule. An item
    that is already a RecordError (a file that could not be read) is kept as the row's error."""
    def make(i, s):
        if isinstance(s, RecordError):
            raise s
        if isinstance(s, Atoms):
            r = from_atoms(s, _key(i), SOURCE, THEORY)
        elif isinstance(s, (Structure, Molecule)):
            r = from_structure(s, _key(i), SOURCE, THEORY)
        else:
            raise RecordError(_key(i), f"not an ase Atoms or pymatgen Structure/Molecule: {type(s).__name__}")
        r.labels = {}  # results stored with the structure are not inputs
        r.conditions = _conditions(conditions, i)
        return [r]
    return [_row(i, make, s) for i, s in enumerate(structures)]


def _conditions(conditions: list[dict] | None, i: int) -> dict:
    if not conditions:
        return {}
    return {k: float(v) for k, v in conditions[i].items() if v is not None and not math.isnan(float(v))}
