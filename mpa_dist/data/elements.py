"""Element properties from pymatgen: the random forest's composition statistics and the model's
element-property embedding read the same table.

`element_properties(max_z)` is (max_z + 1, len(PROPERTIES)) in the units pymatgen gives (Z: 1,
atomic_mass: amu, X: Pauling, radii: angstrom, melting_point: K, molar_volume: cm^3/mol,
ionization_energy and electron_affinity: eV), NaN where pymatgen has no value; row 0 (no
element) and rows past Z = 103 are NaN. `standardised(table)` is what a model reads: each
property z-scored over the elements that have it, log-scaled first where it spans decades, NaN
set to 0 (the mean).
"""

from __future__ import annotations

import warnings

import numpy as np

PROPERTIES = ("Z", "atomic_mass", "row", "group", "X", "atomic_radius", "mendeleev_no", "melting_point",
              "molar_volume", "average_ionic_radius", "ionization_energy", "electron_affinity")
LOG_SCALED = ("atomic_mass", "melting_point", "molar_volume")
LAST_Z = 103  # pymatgen's data thins out after lawrencium


def element_properties(max_z: int = LAST_Z) -> np.ndarray:
    from pymatgen.core import Element

    table = np.full((max_z + 1, len(PROPERTIES)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for z in range(1, min(max_z, LAST_Z) + 1):
            el = Element.from_Z(z)
            for j, p in enumerate(PROPERTIES):
                try:
                    v = getattr(el, p)
                    table[z, j] = float(v) if v is not None else np.nan
                except Exception:  # pymatgen lacks some values for heavy elements
                    pass
    return table


def standardised(table: np.ndarray) -> np.ndarray:
    x = table.copy()
    for j, p in enumerate(PROPERTIES):
        if p in LOG_SCALED:
            x[:, j] = np.log(np.where(x[:, j] > 0, x[:, j], np.nan))
        col = x[:, j]
        mean, std = np.nanmean(col), np.nanstd(col)
        x[:, j] = (col - mean) / (std if std > 0 else 1.0)
    return np.nan_to_num(x, nan=0.0).astype(np.float32)
