import numpy as np
import pytest

from mpa_dist.data.readers.formula import composition_record
from mpa_dist.data.record import Label, Record, RecordError
from mpa_dist.data.validate import validate


def _mol(**kw):
    base = dict(key="m1", input="molecule", numbers=[8, 1, 1],
                positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]], source="s", theory="t")
    base.update(kw)
    return Record(**base)


def test_good_molecule_passes():
    assert validate(_mol()).key == "m1"


@pytest.mark.parametrize("kw, reason", [
    (dict(numbers=[8, 1, 130]), "unknown element"),
    (dict(positions=[[0, 0, 0], [0.1, 0, 0], [-0.24, 0.93, 0]]), "overlapping atoms"),
    (dict(labels={"u0": Label(np.nan, "eV")}), "NaN"),
    (dict(labels={"forces": Label(np.zeros((2, 3)), "eV/A", per_atom=True)}), "2 rows for 3 atoms"),
    (dict(input="crystal"), "missing cell"),
    (dict(input="crystal", cell=np.zeros((3, 3)), pbc=[True] * 3), "degenerate"),
    (dict(positions=None), "positions missing"),
])
def test_bad_records_are_named_with_their_cause(kw, reason):
    with pytest.raises(RecordError, match=reason) as e:
        validate(_mol(**kw))
    assert "'m1'" in str(e.value)


def test_overlap_found_across_periodic_boundary():
    r = Record(key="p", input="crystal", numbers=[14, 14], positions=[[0.05, 0, 0], [4.95, 0, 0]],
               cell=np.eye(3) * 5.0, pbc=[True] * 3, source="s", theory="t")
    with pytest.raises(RecordError, match="overlapping"):
        validate(r)
    r.pbc = np.array([False, True, True])  # no image along x: 4.9 A apart
    assert validate(r) is r


def test_composition_checks():
    r = composition_record("c", "Fe4O6", "s", "experimental")
    assert validate(r) is r  # passed as it is: reduced to Fe2O3, one amount per element
    assert r.numbers.tolist() == [8, 26] and r.amounts.tolist() == [3.0, 2.0] and r.group == "Fe2O3"
    with pytest.raises(RecordError, match="unknown element"):
        composition_record("c", "Xx2O", "s", "experimental")
    comp = lambda **kw: Record(**{"key": "c", "input": "composition", "numbers": [11, 17], "amounts": [1.0, 1.0],
                                  "source": "s", "theory": "t", **kw})
    for kw, reason in [(dict(amounts=None), "one amount per element"), (dict(amounts=[1.0]), "one amount per element"),
                       (dict(amounts=[1.0, 0.0]), "positive and finite"), (dict(amounts=[1.0, np.inf]), "positive"),
                       (dict(numbers=[11, 11]), "element twice")]:
        with pytest.raises(RecordError, match=reason):
            validate(comp(**kw))
