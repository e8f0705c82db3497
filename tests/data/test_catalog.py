"""The catalogue as users see it (launch/catalog.py) and its leak-free splits, on the real tables."""

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def catalog_json():
    out = subprocess.run([sys.executable, "launch/catalog.py", "format=json"], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=900)
    return json.loads(out.stdout)


@pytest.mark.slow
def test_catalog_json_lists_every_task_with_required_fields(catalog_json):
    for item in catalog_json:
        assert item["kind"] in ("experimental", "computed") and item["input"] in ("molecule", "crystal", "composition")
        assert item["unit"] and isinstance(item["num_entries"], int) and item["name"]
    names = [i["name"] for i in catalog_json]
    assert len(names) == len(set(names))
    exp = [i for i in catalog_json if i["kind"] == "experimental"]
    big = [i for i in exp if i["num_entries"] >= 200]
    assert len(big) >= 40
    assert {i["input"] for i in big} == {"molecule", "composition"}
    qm9 = [i for i in catalog_json if i["dataset"] == "qm9"]
    assert all(i["num_entries"] == 130831 for i in qm9) and len(qm9) >= 12
    for i in exp:
        assert all(s["licence"] for s in i["sources"]), i["name"]


@pytest.mark.slow
def test_no_held_out_entry_trains_any_task_with_the_same_property(catalog_json):
    from mpa_dist.data.catalog import registry

    from rdkit import Chem
    from rdkit.Chem.rdMolDescriptors import CalcMolFormula

    from mpa_dist.data.readers.formula import reduced_formula

    by_salt = defaultdict(list)
    for ds in registry.datasets().values():
        if ds.kind == "experimental":
            by_salt[ds.tasks[0].split_salt].append((ds.input, ds.entries()))
    shared = 0
    for salt, tables in by_salt.items():
        for scheme in ("split_random", "split_ood"):
            train = set().union(*[{(k, g) for g in t.loc[t[scheme] == "train", "group"]} for k, t in tables])
            held = set().union(*[{(k, g) for g in t.loc[t[scheme] != "train", "group"]} for k, t in tables])
            assert not train & held, (salt, scheme, sorted(train & held)[:5])
        kinds = {k for k, _ in tables}
        if kinds == {"molecule", "composition"}:  # one substance, two spellings: only one may remain
            mol = {reduced_formula(CalcMolFormula(Chem.MolFromSmiles(g))) for k, t in tables if k == "molecule"
                   for g in t["group"]}
            comp = {g for k, t in tables if k == "composition" for g in t["group"]}
            assert not mol & comp, (salt, sorted(mol & comp)[:5])
        shared += len(tables) > 1
    assert shared >= 4  # the rule is exercised: some properties have several tasks, across input kinds too


@pytest.mark.slow
def test_estimated_values_are_never_held_out():
    from mpa_dist.data.catalog import registry

    for ds in registry.datasets().values():
        if ds.kind == "experimental":
            t = ds.entries()
            est = t[t["estimated"]]
            assert (est["split_random"] == "train").all() and (est["split_ood"] == "train").all(), ds.name


def test_unknown_dataset_names_the_known_ones():
    from mpa_dist.data.catalog import registry

    with pytest.raises(KeyError, match="unknown dataset 'qm10'.*qm9"):
        registry.get("qm10")


def test_misspelt_option_is_an_error():
    out = subprocess.run([sys.executable, "launch/catalog.py", "formt=json"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and "formt" in out.stderr
