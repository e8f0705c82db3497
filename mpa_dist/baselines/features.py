"""Fixed features for the random-forest baseline.

- molecules: every RDKit 2-D descriptor (`Descriptors.CalcMolDescriptors`, ~217 values);
- compositions: Magpie-style statistics (after Ward et al. 2016) of element properties from
  pymatgen: the fraction-weighted mean, minimum, maximum, range and mean absolute deviation of
  each property, plus the element fractions. matminer's ElementProperty computes the same kind of
  vector, but matminer 0.10 requires pandas < 3 (this stack has pandas 3.1), so the statistics are
  taken here from pymatgen's element data (mpa_dist/data/elements.py, the table
  the model's element-property embedding reads).
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Composition

from mpa_dist.data.elements import LAST_Z, element_properties

_TABLE = None


def composition_features(formulas: list[str]) -> np.ndarray:
    global _TABLE
    if _TABLE is None:
        _TABLE = element_properties(LAST_Z)[1:]  # row k: Z = k + 1
    out = []
    for f in formulas:
        comp = Composition(f).fractional_composition
        z = np.array([el.Z for el in comp.elements]) - 1
        w = np.array([comp[el] for el in comp.elements])
        props = _TABLE[np.clip(z, 0, len(_TABLE) - 1)]  # (elements, properties)
        mean = np.nansum(w[:, None] * props, 0)
        stats = [mean, np.nanmin(props, 0), np.nanmax(props, 0), np.nanmax(props, 0) - np.nanmin(props, 0),
                 np.nansum(w[:, None] * np.abs(props - mean), 0)]
        frac = np.zeros(103)
        frac[np.clip(z, 0, 102)] = w
        out.append(np.concatenate([*stats, frac]))
    return np.array(out, dtype=np.float64)


def molecule_features(smiles: list[str]) -> np.ndarray:
    from rdkit import Chem, RDLogger
    from rdkit.Chem import Descriptors

    RDLogger.DisableLog("rdApp.*")
    names = [n for n, _ in Descriptors.descList]
    out = []
    for s in smiles:
        d = Descriptors.CalcMolDescriptors(Chem.MolFromSmiles(s))
        out.append([d.get(n, np.nan) for n in names])
    x = np.array(out, dtype=np.float64)
    x[~np.isfinite(x)] = np.nan
    return np.clip(x, -1e6, 1e6)


def featurize(input_kind: str, texts: list[str]) -> np.ndarray:
    return molecule_features(texts) if input_kind == "molecule" else composition_features(texts)
