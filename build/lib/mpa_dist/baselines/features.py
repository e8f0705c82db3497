"""Fixed features for the random-forest baseline.

- molecules: every RDKit 2-D descriptor (`Descriptors.CalcMolDescriptors`, ~217 values);
- compositions: Magpie-style statistics (after Ward et al. 2016) of element properties from
  pymatgen: the fraction-weighted mean, minimum, maximum, range and mean absolute deviation of
  each property, plus the element fractions. matminer's ElementProperty computes the same kind of
  vector, but matminer 0.10 requires pandas < 3 (this stack has pandas 3.1), so the statistics are
  taken here from pymatgen's element data.
"""

from __future__ import annotations

import warnings

import numpy as np
from pymatgen.core import Composition, Element

PROPERTIES = ("Z", "atomic_mass", "row", "group", "X", "atomic_radius", "mendeleev_no", "melting_point",
              "molar_volume", "average_ionic_radius", "ionization_energy", "electron_affinity")


def _element_table() -> np.ndarray:
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for z in range(1, 104):
            el = Element.from_Z(z)
            vals = []
            for p in PROPERTIES:
                try:
                    v = getattr(el, p)
                    vals.append(float(v) if v is not None else np.nan)
                except Exception:  # pymatgen lacks some values for heavy elements
                    vals.append(np.nan)
            rows.append(vals)
    return np.array(rows)


_TABLE = None


def composition_features(formulas: list[str]) -> np.ndarray:
    global _TABLE
    if _TABLE is None:
        _TABLE = _element_table()
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
