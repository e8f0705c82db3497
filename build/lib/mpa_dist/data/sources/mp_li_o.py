"""Li-O: 47 Materials Project structures (Li, O, Li2O, Li2O2, LiO2, LiO3, LiO8 and O2 cells).

Read from the m3gnet 0.2.4 wheel (`m3gnet/trainers/tests/Li-O.json`, fetched by `make data`
into `$MPA_CACHE/pkgs`), never from m3gnet code. Keys are MP ids; each value holds a
pymatgen Structure dict, `energy` and `band_gap`.

Units, as checked: `energy` is the uncorrected GGA (PBE) total energy of the CELL in eV, not
per atom: energy / N is -1.90 eV/atom for every Li polymorph whatever its cell size (MP's
uncorrected bcc Li is -1.91 eV/atom) and -4.98 eV/atom for Li2O (mp-1960, 3-atom cell).
`band_gap` is the MP (PBE) band gap in eV (Li2O: 4.99 eV). No MP2020 anion corrections are
applied. Labels: `energy` (eV per cell), `energy_per_atom` (eV/atom), `band_gap` (eV).
Positions are cartesian Angstrom, cell rows are lattice vectors (pymatgen's convention).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Structure

from mpa_dist.data.offline import archive_member
from mpa_dist.data.record import Label, Record, RecordError

THEORY = "PBE (Materials Project GGA, uncorrected)"
ARCHIVE = "m3gnet-*.whl"
MEMBER = "m3gnet/trainers/tests/Li-O.json"


def entries(limit: int | None = None) -> pd.DataFrame:
    data = json.loads(archive_member(ARCHIVE, MEMBER))
    rows = []
    for mpid, v in data.items():
        comp = v["structure"]["sites"]
        formula = "".join(sp["element"] for site in comp for sp in site["species"])
        rows.append({"key": f"mp_li_o/{mpid}", "mpid": mpid, "structure": v["structure"],
                     "energy": v["energy"], "band_gap": v["band_gap"], "formula": formula})
    df = pd.DataFrame(rows)
    df["group"] = [Composition(f).reduced_formula for f in df["formula"]]
    return df.head(limit) if limit else df


def to_records(row: dict) -> list[Record]:
    key = row["key"]
    try:
        s = Structure.from_dict(row["structure"])
    except Exception as e:  # pymatgen raises several types for bad dicts
        raise RecordError(key, f"unreadable structure: {e}") from None
    if not s.is_ordered:
        raise RecordError(key, "disordered structure (partial occupancies)")
    n = len(s)
    energy, gap = float(row["energy"]), float(row["band_gap"])
    if not (np.isfinite(energy) and np.isfinite(gap)):
        raise RecordError(key, "non-finite energy or band gap")
    if gap < 0:
        raise RecordError(key, f"negative band gap {gap}")
    labels = {
        "energy": Label(energy, "eV"),
        "energy_per_atom": Label(energy / n, "eV/atom"),
        "band_gap": Label(gap, "eV"),
    }
    return [Record(key=key, input="crystal", numbers=[site.specie.Z for site in s], positions=s.cart_coords,
                   cell=s.lattice.matrix, pbc=[True] * 3, source="mp_li_o", theory=THEORY, labels=labels,
                   group=row["group"], meta={"mpid": row["mpid"], "energy_basis": "per cell"})]
