import numpy as np
import pytest

from mpa_dist.data.readers.smiles import ConformerCache, canonical_smiles, embed, molecule_records
from mpa_dist.data.record import Label, RecordError
from mpa_dist.data.validate import validate


def test_conformers_are_seeded_reproducible_and_distinct():
    n1, c1 = embed("CCCCCCO", k=3, seed=7)
    n2, c2 = embed("CCCCCCO", k=3, seed=7)
    assert len(c1) == 3 and n1.tolist() == n2.tolist()
    np.testing.assert_allclose(np.stack(c1), np.stack(c2))
    d01 = np.linalg.norm(c1[0][:, None] - c1[0][None], axis=-1) - np.linalg.norm(c1[1][:, None] - c1[1][None], axis=-1)
    assert np.abs(d01).max() > 0.1  # different shapes, not just rotated copies
    assert (n1 == 1).sum() == 14  # hydrogens added: C6H14O


def test_relaxed_geometry_is_chemical():
    numbers, (pos,) = embed("CCO", k=1, seed=0)
    d = np.linalg.norm(pos[0] - pos[1])
    assert 1.45 < d < 1.58  # a C-C single bond, in Angstrom


def test_cache_returns_the_same_geometry(tmp_path):
    cache = ConformerCache(tmp_path / "c.sqlite")
    a = molecule_records("k", "c1ccccc1O", "s", "experimental", {"y": Label(1.0, "K")}, k=2, seed=1, cache=cache)
    b = molecule_records("k", "c1ccccc1O", "s", "experimental", {"y": Label(1.0, "K")}, k=2, seed=1, cache=cache)
    assert [r.key for r in a] == ["k/c0", "k/c1"] and all(r.group == "c1ccccc1O" for r in a)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.positions, y.positions)
        validate(x)


@pytest.mark.parametrize("smiles, reason", [("C1CC", "unparseable"), ("[Na+].[Cl-]", "several fragments")])
def test_bad_smiles_named(smiles, reason):
    with pytest.raises(RecordError, match=reason):
        embed(smiles, key="row7")


def test_canonical_merges_spellings_and_stereo():
    assert canonical_smiles("OCC") == canonical_smiles("C(O)C") == "CCO"
    assert canonical_smiles("C[C@H](N)C(=O)O") == canonical_smiles("C[C@@H](N)C(=O)O")
    assert canonical_smiles("C[C@H](N)C(=O)O", isomeric=True) != canonical_smiles("C[C@@H](N)C(=O)O", isomeric=True)
    for key in ("row1", "row2"):  # parsed once a process, yet each bad record is named by its own key
        with pytest.raises(RecordError, match=rf"record '{key}': unparseable SMILES 'C1CC'"):
            canonical_smiles("C1CC", key)


def test_an_unembeddable_molecule_gives_up_after_the_attempt_cap(monkeypatch):
    """A cyclophane ETKDG never embeds: RDKit's default of 10 x atoms attempts spends ~64 s of CPU on
    it; the cap (a count, so every machine gives the same result) rejects it in well under a second
    here, with a reason that says what was tried."""
    import time

    import mpa_dist.data.readers.smiles as smiles

    monkeypatch.setattr(smiles, "MAX_EMBED_ATTEMPTS", 5)
    t = time.perf_counter()
    with pytest.raises(RecordError, match=r"could not embed .* \(5 ETKDG attempts"):
        embed("C1CC2=CC3=C(CCC4=CC=C1C=C4)C=C2CCC5=CC=CC(=C5)CC3", k=2, key="cyclophane")
    assert time.perf_counter() - t < 20  # uncapped: ~64 s on 2 cores
