import json

import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.calculators.emt import EMT

from mpa_dist.data.readers.structures import read_ase, read_ase_db, read_computed_entries, read_mptrj
from mpa_dist.data.record import RecordError
from mpa_dist.units import KBAR_EV_A3


def _cu(a0=3.6):
    atoms = bulk("Cu", "fcc", a=a0).repeat(2)
    atoms.rattle(0.02, seed=3)
    atoms.calc = EMT()
    atoms.get_forces(), atoms.get_stress()
    return atoms


@pytest.mark.parametrize("fmt, suffix", [("extxyz", ".extxyz"), ("cif", ".cif"), ("vasp", "POSCAR")])
def test_ase_formats_give_the_same_structure(tmp_path, fmt, suffix):
    import ase.io

    atoms = _cu()
    path = tmp_path / (suffix if suffix == "POSCAR" else f"cu{suffix}")
    ase.io.write(path, atoms, format=fmt)
    (rec,) = list(read_ase(path, "mine", "EMT", format=fmt))
    assert rec.input == "crystal" and rec.num_atoms == 8
    from ase import Atoms

    back = Atoms(rec.numbers, rec.positions, cell=rec.cell, pbc=rec.pbc)
    np.testing.assert_allclose(back.cell.cellpar(), atoms.cell.cellpar(), atol=1e-4)  # CIF may rotate the cell
    np.testing.assert_allclose(np.sort(back.get_all_distances(mic=True).ravel()),
                               np.sort(atoms.get_all_distances(mic=True).ravel()), atol=1e-4)
    if fmt == "extxyz":  # the only one of the three that stores calculator results
        assert rec.labels["energy"].unit == "eV"
        np.testing.assert_allclose(rec.labels["forces"].value, atoms.get_forces(), atol=1e-8)
        assert rec.labels["stress"].value.shape == (3, 3)
        assert rec.labels["stress"].value[0, 0] == pytest.approx(atoms.get_stress()[0])


def test_molecule_from_xyz_and_unreadable_file(tmp_path):
    import ase.io

    ase.io.write(tmp_path / "w.xyz", molecule("H2O"))
    (rec,) = list(read_ase(tmp_path / "w.xyz", "m", "none"))
    assert rec.input == "molecule" and rec.cell is None
    (tmp_path / "junk.cif").write_text("this is not a cif\n")
    (err,) = list(read_ase(tmp_path / "junk.cif", "m", "none"))
    assert isinstance(err, RecordError) and "junk.cif" in str(err)


def test_ase_db_rows(tmp_path):
    import ase.db

    with ase.db.connect(str(tmp_path / "x.db")) as db:
        db.write(_cu(3.55), band_gap=0.0)
        db.write(_cu(3.65), band_gap=0.0)
    recs = list(read_ase_db(tmp_path / "x.db", "db", "EMT"))
    assert len(recs) == 2 and all(r.labels["band_gap"].value == 0 for r in recs)
    assert recs[0].labels["energy"].value != recs[1].labels["energy"].value


def test_mptrj_layout_units_and_sign(tmp_path):
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = _cu(3.5)  # compressed: ase stress negative
    s = AseAtomsAdaptor.get_structure(atoms)
    vasp_kbar = (-atoms.get_stress(voigt=False) / KBAR_EV_A3).tolist()  # VASP/MPtrj sign and unit
    frame = {"structure": s.as_dict(), "uncorrected_total_energy": float(atoms.get_potential_energy()),
             "force": atoms.get_forces().tolist(), "stress": vasp_kbar, "bandgap": 0.0}
    data = {"mp-30": {"mp-30-0-0": frame, "mp-30-0-1": {"structure": "broken"}}}
    (tmp_path / "mptrj.json").write_text(json.dumps(data))
    good, bad = list(read_mptrj(tmp_path / "mptrj.json"))
    np.testing.assert_allclose(good.labels["stress"].value, atoms.get_stress(voigt=False), atol=1e-10)
    assert good.labels["stress"].unit == "eV/A^3" and good.meta["mp_id"] == "mp-30"
    assert isinstance(bad, RecordError) and "mp-30-0-1" in str(bad)


def test_computed_structure_entries(tmp_path):
    from pymatgen.entries.computed_entries import ComputedStructureEntry
    from pymatgen.io.ase import AseAtomsAdaptor

    s = AseAtomsAdaptor.get_structure(_cu())
    e = ComputedStructureEntry(s, -30.5, entry_id="mp-x")
    (tmp_path / "e.json").write_text(json.dumps([e.as_dict()]))
    (rec,) = list(read_computed_entries(tmp_path / "e.json", "mp", "PBE"))
    assert rec.labels["energy"].value == -30.5 and rec.key.endswith("mp-x")
