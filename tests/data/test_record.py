import numpy as np
import pytest

from mpa_dist.data.readers.formula import composition_record
from mpa_dist.data.record import Label, Record, RecordError


def test_roundtrip_keeps_every_field_and_unit(qm9_records):
    r = qm9_records[42]
    r.conditions["temperature_K"] = 298.15
    back = Record.from_bytes(r.to_bytes())
    assert back.key == r.key and back.group == r.group and back.theory == r.theory
    np.testing.assert_array_equal(back.numbers, r.numbers)
    np.testing.assert_array_equal(back.positions, r.positions)
    assert back.conditions == {"temperature_K": 298.15}
    assert set(back.labels) == set(r.labels)
    for k, lab in r.labels.items():
        assert back.labels[k].unit == lab.unit and back.labels[k].per_atom == lab.per_atom
        np.testing.assert_array_equal(back.labels[k].value, lab.value)
        assert back.labels[k].value.shape == lab.value.shape


def test_crystal_and_composition_roundtrip():
    cry = Record(key="c", input="crystal", numbers=[14, 14], positions=np.zeros((2, 3)) + [[0, 0, 0], [1.35, 1.35, 1.35]],
                 cell=np.eye(3) * 5.43, pbc=[True, True, True], source="s", theory="PBE",
                 labels={"stress": Label(np.eye(3), "eV/A^3")})
    back = Record.from_bytes(cry.to_bytes())
    np.testing.assert_array_equal(back.cell, cry.cell)
    assert back.periodic and back.labels["stress"].value.shape == (3, 3)
    comp = composition_record("k", "Fe2O3", "expt", "experimental", {"gap": Label(2.1, "eV")})
    back = Record.from_bytes(comp.to_bytes())
    assert back.input == "composition" and back.positions is None
    np.testing.assert_array_equal(back.atom_weights, [3.0, 2.0])  # O3 Fe2, sorted by Z


def test_unknown_input_kind_is_named():
    with pytest.raises(RecordError, match="'bad'.*input kind"):
        Record(key="bad", input="liquid", numbers=[1], source="s", theory="t")
