import pandas as pd

from mpa_dist.data.catalog.curate import curate
from mpa_dist.data.catalog.spec import TaskSpec
from mpa_dist.data.catalog.splits import assign_splits, drop_estimated_held_out, sample, scaffold, split_of

SPEC = TaskSpec(name="bp", property="boiling point", unit="K", input="molecule", kind="experimental",
                dataset="bp", label="bp", sanity=(0, 2000), tolerance=2.0, split="scaffold")


def _raw(rows):
    return pd.DataFrame(rows, columns=["smiles", "value", "source", "estimated", "ref"])


def test_every_raw_row_is_kept_or_rejected_with_a_reason():
    raw = _raw([
        ("CCO", 351.4, "A", False, "r1"), ("OCC", 351.6, "B", False, "r2"),  # agree: averaged
        ("CCCO", 370.0, "A", False, "r3"), ("CCCO", 390.0, "B", False, "r4"),  # conflict, no majority
        ("CCCCO", 390.8, "A", False, "r5"), ("CCCCO", 391.0, "B", False, "r6"), ("CCCCO", 420.0, "C", False, "r7"),
        ("c1ccccc1", 353.0, "Y", True, "r8"), ("c1ccccc1", 353.2, "A", False, "r9"),  # measured beats estimated
        ("C1CC", 300.0, "A", False, "r10"),  # unparseable
        ("CCCCCC", -5.0, "A", False, "r11"),  # outside the sanity range
    ])
    entries, rejects = curate(SPEC, raw)
    assert entries["n_values"].sum() + len(rejects) == len(raw)
    assert rejects["reason"].str.len().min() > 5
    by = entries.set_index("group")
    assert abs(by.loc["CCO", "value"] - 351.5) < 1e-9 and by.loc["CCO", "n_values"] == 2
    assert "CCCO" not in by.index and "conflicting" in rejects.set_index("ref").loc["r3", "reason"]
    assert abs(by.loc["CCCCO", "value"] - 390.9) < 1e-9
    assert "outlier" in rejects.set_index("ref").loc["r7", "reason"]
    assert by.loc["c1ccccc1", "value"] == 353.2 and not by.loc["c1ccccc1", "estimated"]
    assert "sanity" in rejects.set_index("ref").loc["r11", "reason"]


def _mols(groups):
    return pd.DataFrame({"group": groups, "compound": groups, "compound_kind": "molecule"})


def test_a_compound_has_one_split_per_scheme_whatever_the_task():
    groups = [f"C{'C' * i}O" for i in range(60)]
    a = assign_splits(_mols(groups))
    b = assign_splits(_mols(groups[::-1]))
    assert dict(zip(a.group, a.split_random)) == dict(zip(b.group, b.split_random))
    assert set(a.split_random) == {"train", "val", "test"}
    # the split is a function of (scheme, compound) alone: no task or property enters it
    assert split_of("random", "CCO") == assign_splits(_mols(["CCO"])).split_random[0]
    assert [split_of("random", g) for g in groups] != [split_of("ood", g) for g in groups]


def test_scaffold_split_keeps_a_scaffold_on_one_side():
    groups = ["c1ccccc1C", "c1ccccc1CC", "c1ccccc1CCC", "c1ccccc1O", "C1CCCCC1N", "C1CCCCC1O", "CCO", "CCN"]
    t = assign_splits(_mols(groups))
    for _, g in t.groupby("ood_group"):
        assert g.split_ood.nunique() == 1
    assert scaffold("CCO") == "acyclic:CCO" and scaffold("c1ccccc1CC") == "c1ccccc1"


def test_compositions_split_by_chemical_system_out_of_distribution():
    t = assign_splits(pd.DataFrame({"group": ["Fe2O3", "FeO", "Fe3O4", "NaCl"], "compound": ["Fe2O3", "FeO", "Fe3O4", "NaCl"],
                                    "compound_kind": "formula"}))
    assert t.loc[:2, "ood_group"].eq("Fe-O").all() and t.loc[:2, "split_ood"].nunique() == 1


def test_estimated_values_never_evaluate():
    t = assign_splits(_mols([f"C{'C' * i}O" for i in range(200)]))
    t["estimated"], t["refs"] = True, t["group"]
    kept, rejected = drop_estimated_held_out(t)
    assert (kept.split_random == "train").all() and (kept.split_ood == "train").all()
    assert len(kept) + len(rejected) == 200 and len(rejected) > 0


def test_limit_is_a_seeded_sample_not_the_first_rows():
    groups = sorted(f"C{'C' * i}{x}" for i in range(100) for x in "ON")
    t = _mols(groups)
    s = sample(t, 50, by="compound")
    assert len(s) == 50 and list(s.index) != list(range(50)) and s.index.is_monotonic_increasing
    assert list(sample(t, 50, by="compound").index) == list(s.index)  # deterministic
    assert set(sample(t, 20, by="compound").index) <= set(s.index)  # nested: smaller samples are part of larger
    assert sample(t, None) is t


def test_matbench_fold_schemes_test_on_the_official_fold():
    """Scheme foldK: expt_gap's official fold K is exactly the test set, its validation rows come
    from the other folds, and what any matbench task tests in fold K no task trains on."""
    from mpa_dist.data.catalog import registry

    gap = registry.get("expt_gap").entries()
    metal = registry.get("expt_is_metal").entries()
    assert gap["fold"].notna().all()
    for k in range(5):
        col = gap[f"split_fold{k}"]
        assert ((col == "test") == (gap["fold"] == k)).all()
        assert 0.08 < (col == "val").sum() / (gap["fold"] != k).sum() < 0.17
        # the two tasks measure the same compounds but matbench folds them differently: what one
        # tests in fold k, the other never trains or validates on under scheme fold{k}
        for a, b in ((gap, metal), (metal, gap)):
            tested = set(a.loc[a[f"split_fold{k}"] == "test", "compound"])
            seen = set(b.loc[b[f"split_fold{k}"].isin(["train", "val"]), "compound"])
            assert not tested & seen
        assert (metal[f"split_fold{k}"] == "held").sum() > 100
        fe = registry.get("formation_enthalpy_expt").entries()  # not a matbench task: no fold of its own
        assert not set(fe.loc[fe[f"split_fold{k}"] == "train", "compound"]) & set(gap.loc[gap["fold"] == k, "compound"])
        assert (fe[f"split_fold{k}"] != "test").all()
