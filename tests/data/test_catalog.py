"""The catalogue as users see it (launch/catalog.py) and its leak-free splits, on the real tables."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
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
    assert len(exp) == 56 and len(big) == 55  # as docs/data.md states
    assert {i["input"] for i in big} == {"molecule", "composition"}
    qm9 = [i for i in catalog_json if i["dataset"] == "qm9"]
    assert all(i["num_entries"] == 130831 for i in qm9) and len(qm9) >= 12
    for i in exp:
        assert all(s["licence"] for s in i["sources"]), i["name"]


@pytest.fixture(scope="module")
def tables(catalog_json):
    from mpa_dist.data.catalog import registry

    return {ds.name: ds.entries() for ds in registry.datasets().values() if ds.kind == "experimental"}


@pytest.mark.slow
def test_no_evaluation_compound_trains_any_task_under_any_scheme(tables):
    """The leak the per-property splits had (66% of random test compounds were training entries of
    another task): one compound, one split, in every task."""
    from mpa_dist.data.exposure import SCHEMES

    for scheme in SCHEMES:
        col = f"split_{scheme}"
        train = set().union(*[set(t.loc[t[col] == "train", "compound"]) for t in tables.values()])
        held = set().union(*[set(t.loc[t[col].isin(["val", "test"]), "compound"]) for t in tables.values()])
        assert held and not train & held, (scheme, sorted(train & held)[:5])
    # ood: a test scaffold (or chemical system) is a test scaffold in every task
    groups = pd.concat([t[["ood_group", "split_ood"]] for t in tables.values()])
    assert (groups.groupby("ood_group")["split_ood"].nunique() == 1).all()


@pytest.mark.slow
def test_zero_cross_task_exposure_by_the_audits_rule_in_every_task_and_scheme(tables):
    """What a mid-training over every experimental task would train on, audited as the exposure audit does
    (the same compound, or the same formula where either side is known only by its formula): no training entry
    of any task exposes a validation or test compound of any task, under any scheme."""
    from mpa_dist.data.exposure import SCHEMES, evaluation_compounds

    assert len(tables) >= 56
    for scheme in SCHEMES:
        ev = evaluation_compounds(tables, (scheme,))
        assert len(ev.compounds) > 1000, scheme
        hits = [(name, c, ev.hit(c, k, f)) for name, t in tables.items()
                for c, k, f in t.loc[t[f"split_{scheme}"] == "train", ["compound", "compound_kind",
                                                                           "compound_formula"]].itertuples(index=False)
                if ev.hit(c, k, f)]
        assert not hits, (scheme, len(hits), hits[:5])


@pytest.mark.slow
def test_a_name_spelt_alike_in_smiles_and_in_formulas_is_two_compounds_and_never_a_leak(tables):
    """`group` is each table's own spelling: "Br" is hydrogen bromide as SMILES and bromine as a formula. Where
    one spelling has several splits, the entries are different substances (their identities and formulas
    differ), and a substance has one split wherever it is measured."""
    rows = pd.concat([t[["group", "compound", "compound_formula", "split_random", "split_ood"]].assign(task=n)
                      for n, t in tables.items()], ignore_index=True)
    for col in ("split_random", "split_ood"):
        mixed = rows.groupby("group")[col].nunique()
        mixed = rows[rows["group"].isin(mixed[mixed > 1].index)]
        assert {"Br", "B"} <= set(mixed["group"]), col  # the real cases: HBr / bromine, BH3 / boron
        for _, g in mixed.groupby("group"):
            assert (g.groupby("compound")[col].nunique() == 1).all()  # one substance, one split
            assert g.groupby(col)["compound_formula"].agg(frozenset).pipe(
                lambda s: len(frozenset.intersection(*s)) == 0), g  # different splits: different substances
    bromine = rows[(rows["group"] == "Br")].set_index("task")
    assert bromine.loc["crc_density", "compound"] == "BrBr" and bromine.loc["boiling_point", "compound_formula"] == "HBr"


@pytest.mark.slow
def test_a_substance_spelt_as_smiles_and_as_formula_is_one_compound(tables):
    from mpa_dist.data.catalog.registry import molecule_formula

    mols = pd.concat([t for t in tables.values() if (t["compound_kind"] == "molecule").all() and "smiles" in t])
    comps = pd.concat([t for n, t in tables.items() if "formula" in t])
    linked = comps[comps["compound_kind"] == "molecule"]
    assert len(linked) > 10  # water, ammonia, CCl4... measured in inorganic tables too
    for c, f in zip(linked["compound"][:50], linked["group"][:50]):
        assert molecule_formula(c) == f
    split = dict(zip(mols["compound"], mols["split_random"]))
    assert all(split.get(c, s) == s for c, s in zip(linked["compound"], linked["split_random"]))


# the first-principles entries left out under the default schemes (random, ood): what shards' manifests
# count as num_excluded; a change to the catalogue's tables or splits changes them, and should be seen
EXCLUDED = {"qm9": (684, 130831), "oqmd_formation_enthalpy": (1772, 341700), "mp_gap": (3769, 106113),
            "mlearn": (802, 1566)}


@pytest.mark.slow
def test_first_principles_data_leaves_out_every_evaluation_compound():
    """QM9 molecules (and composition-level DFT entries, and crystals) that experimental tasks evaluate are
    excluded from the shards, with the reason."""
    from mpa_dist.data import exposure
    from mpa_dist.data.catalog import registry

    ev = exposure.catalogue_evaluation_set()
    for name, (n_excluded, n_entries) in EXCLUDED.items():
        ds = registry.get(name)
        entries = exposure.with_identity(ds, ds.entries())
        kept, excluded = exposure.split_exposed(ds, entries, ev)
        assert (len(excluded), len(entries)) == (n_excluded, n_entries), name
        assert len(kept) + len(excluded) == len(entries)
        assert set(kept["key"]).isdisjoint(e["key"] for e in excluded)
        assert all("evaluation compound" in e["reason"] for e in excluded), name
        assert not set(kept["compound"]) & set(ev.compounds), name
        if name == "qm9":
            water = entries[entries["compound"] == "O"]  # QM9 holds water; an experimental task evaluates it?
            assert water.empty or (ev.hit("O", "molecule", "H2O") is None) == ("O" in set(kept["compound"]))


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


@pytest.mark.slow
def test_one_task_in_full_by_its_full_name(catalog_json):
    long = max((i["name"] for i in catalog_json), key=len)
    assert len(long) > 28  # names are never cut: they are what finetune.task= takes
    table = subprocess.run([sys.executable, "launch/catalog.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert long in table.stdout
    out = subprocess.run([sys.executable, "launch/catalog.py", f"task={long}"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert long in out and "sources:" in out and "fold4" in out and "random " in out


@pytest.mark.multiprocess
def test_identities_on_several_workers_are_those_of_one_process():
    """A large first-principles set's compound identities are computed on every core, in order."""
    from mpa_dist.data import exposure
    from mpa_dist.data.catalog import registry

    groups = list(registry.get("qm9").entries()["group"][:400]) + ["not a smiles ((", "C1CC"]
    one = exposure._identities("molecule", groups, per_worker=10**9)
    assert exposure._identities("molecule", groups, per_worker=100) == one
    assert one[0][1] == "molecule" and one[-1][1] == "unreadable" and len(one) == len(groups)


def test_a_changed_molecular_table_rebuilds_the_composition_tables(monkeypatch):
    """A composition table links its compounds to the molecular tables' (water as "H2O" is the molecule "O"),
    so its cache version follows theirs: a molecular table built by other code makes it stale, and leaves the
    other molecular tables as they were. (Seen: crc_melting_point kept links to molecules the boiling-point
    table no longer held, in a catalogue cached before that table changed.)"""
    import functools

    from mpa_dist.data.catalog import registry

    ds = registry.datasets()
    comp = next(d for d in ds.values() if d.kind == "experimental" and d.input == "composition")
    mols = [d for d in ds.values() if d.kind == "experimental" and d.input == "molecule"]
    version = lambda d: registry._version(d.tasks[0], d.builder)
    before = {d.name: version(d) for d in (comp, *mols)}
    registry._molecular_versions.cache_clear()
    real = registry._version
    monkeypatch.setattr(registry, "_version", lambda spec, builder: real(spec, builder) + (
        "-changed" if spec.name == mols[0].name else ""))
    monkeypatch.setattr(registry, "_molecular_versions", functools.cache(registry._molecular_versions.__wrapped__))
    assert real(comp.tasks[0], comp.builder) != before[comp.name]
    assert all(real(d.tasks[0], d.builder) == before[d.name] for d in mols)
