"""MPACalculator: forces and stress are the derivatives of its energy (central finite
differences in float64), an optimiser lowers the energy, and a wrong head is a clear error."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.optimize import BFGS

from mpa_dist.data.sources import mlearn
from mpa_dist.predict import MPACalculator


def fd_forces(atoms, h=1e-4):
    """-dE/dr by central differences."""
    out = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for k in range(3):
            e = []
            for step in (h, -h):
                moved = atoms.copy()
                moved.calc = atoms.calc
                moved.positions[i, k] += step
                e.append(moved.get_potential_energy())
            out[i, k] = -(e[0] - e[1]) / (2 * h)
    return out


def fd_stress(atoms, h=1e-4):
    """(1/V) dE/d(strain) by central differences of a symmetric strain, atoms moving with the cell."""
    out = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            e = []
            for sign in (1, -1):
                eps = np.zeros((3, 3))
                eps[i, j] += sign * h / 2
                eps[j, i] += sign * h / 2
                strained = atoms.copy()
                strained.calc = atoms.calc
                strained.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
                e.append(strained.get_potential_energy())
            out[i, j] = (e[0] - e[1]) / (2 * h) / atoms.get_volume()
    return out


def smallest_mlearn_cell(elements=None) -> Atoms:
    """The smallest mlearn cell (of elements the model saw in training, when given)."""
    rows = mlearn.entries()
    if elements is not None:
        rows = rows[rows["atoms"].map(lambda a: all(el in elements for el in a["elements"]))]
    row = rows.loc[rows["atoms"].map(lambda a: len(a["elements"])).idxmin()].to_dict()
    (rec,) = mlearn.to_records(row)
    return Atoms(rec.numbers, rec.positions, cell=rec.cell, pbc=True)


def test_derivatives_of_a_small_model(multi_export):
    atoms = bulk("Cu", "fcc", a=3.6).repeat((2, 1, 1))
    atoms.rattle(0.05, seed=1)
    atoms.calc = MPACalculator(multi_export)  # the first energy head: energy@mlearn
    assert atoms.calc.head == "energy@mlearn"
    np.testing.assert_allclose(atoms.get_forces(), fd_forces(atoms), atol=1e-6)
    np.testing.assert_allclose(atoms.get_stress(voigt=False), fd_stress(atoms), atol=1e-7)


def test_a_head_that_is_not_an_energy_is_refused(multi_export, ensemble_exports):
    with pytest.raises(ValueError, match="readout 'attention'.*bp@boiling_point"):
        MPACalculator(multi_export, head="bp@boiling_point")
    with pytest.raises(ValueError, match="no head named 'nope'.*energy@mlearn \\(energy\\)"):
        MPACalculator(multi_export, head="nope")
    with pytest.raises(ValueError, match="no head with readout 'energy'.*bp \\(attention\\)"):
        MPACalculator(ensemble_exports[0])
    water = molecule("H2O")
    water.calc = MPACalculator(multi_export)
    with pytest.raises(ValueError, match="trained on crystal inputs and these atoms are a molecule"):
        water.get_potential_energy()


@pytest.mark.slow
def test_relaxing_a_qm9_molecule(pretrained_export, qm9_records):
    """u0@qm9 (eV) was trained on energies alone (QM9 has no forces): its forces are the exact
    gradient of that energy, which is what an optimiser needs, physical or not. A smoke-trained
    energy need not have a minimum near the molecule (its forces may grow as it relaxes), but
    every optimiser step along them must lower it."""
    rec = qm9_records[0]
    atoms = Atoms(rec.numbers, rec.positions)
    atoms.calc = MPACalculator(pretrained_export)
    assert atoms.calc.head == "u0@qm9"
    np.testing.assert_allclose(atoms.get_forces(), fd_forces(atoms), atol=1e-6)
    energies = []
    for _ in BFGS(atoms, logfile=None, maxstep=0.05).irun(fmax=1e-4, steps=4):
        energies.append(atoms.get_potential_energy())
    assert len(energies) == 5 and (np.diff(energies) < 0).all(), energies


@pytest.mark.slow
def test_stress_of_an_mlearn_cell(pretrained_export):
    from ase.data import chemical_symbols

    from mpa_dist.train.checkpoint import read_meta

    seen = [chemical_symbols[z] for z in read_meta(pretrained_export).elements]
    atoms = smallest_mlearn_cell(seen)
    atoms.calc = MPACalculator(pretrained_export, head="energy@mlearn")
    stress = atoms.get_stress(voigt=False)
    np.testing.assert_allclose(stress, fd_stress(atoms), atol=1e-7)
    assert np.abs(stress).max() > 1e-5  # a non-trivial check
