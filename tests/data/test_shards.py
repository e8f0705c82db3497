import hashlib
import json
import tarfile

import pytest

from mpa_dist.data.shards import decode_sample, make_shards


def test_manifest_accounts_for_every_input(qm9_shards):
    m = json.loads((qm9_shards / "manifest.json").read_text())
    assert m["num_input"] == 1200 == m["num_written"] + m["num_rejected"]
    assert sum(s["num_samples"] for s in m["shards"]) == m["num_written"]
    assert {s["split"] for s in m["shards"]} == {"train", "val", "test"}
    for s in m["shards"]:
        assert hashlib.sha256((qm9_shards / s["name"]).read_bytes()).hexdigest() == s["sha256"]
    st = m["splits"]["train"]["stats"]["u0"]
    assert st["unit"] == "eV" and st["count"] == m["splits"]["train"]["num_written"]
    assert -17.5 < st["element_refs"]["1"] < -15.5  # H atom reference near -16.4 eV at this level
    assert st["residual_std"] < 0.05 * st["std"]  # element references explain most of the energy


def test_samples_decode_to_records_with_units(qm9_shards):
    with tarfile.open(qm9_shards / "train-00000.tar") as t:
        member = t.getmembers()[0]
        recs = decode_sample(t.extractfile(member).read())
    assert recs[0].labels["u0"].unit == "eV" and recs[0].source == "qm9"
    assert recs[0].labels["mulliken_charges"].value.shape == (recs[0].num_atoms,)


def test_splits_saved_and_disjoint(qm9_shards):
    splits = json.loads((qm9_shards / "splits.json").read_text())
    sets = {k: set(v) for k, v in splits.items()}
    assert not (sets["train"] & sets["val"]) and not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])
    assert sum(map(len, sets.values())) == 1200


def test_bad_rows_go_to_rejects_and_resume_rewrites_only_missing(tmp_path):
    csv = tmp_path / "mols.csv"
    csv.write_text("smiles,boiling_point [K]\nCCO,351.4\nC1CC,300\nCCCC,272.7\nCCN,290\n[Na+].[Cl-],1686\nCCCl,285.4\n")
    out = tmp_path / "sh"
    m = make_shards(str(csv), out, min_shards=2, workers=1, progress=False)
    assert m["num_input"] == 6 and m["num_written"] == 4 and m["num_rejected"] == 2
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert {r["key"] for r in rejects} == {"mols/1", "mols/4"}
    assert any("unparseable SMILES" in r["reason"] for r in rejects)
    assert any("fragments" in r["reason"] for r in rejects)
    # simulate a run killed after some shards: remove one, keep the others' files untouched
    victim = m["shards"][0]["name"]
    (out / victim).unlink()
    others = {s["name"]: (out / s["name"]).stat().st_mtime_ns for s in m["shards"][1:]}
    m2 = make_shards(str(csv), out, min_shards=2, workers=1, progress=False)
    assert (out / victim).exists()
    assert {n: (out / n).stat().st_mtime_ns for n in others} == others
    assert m2["num_written"] == 4 and m2["shards"] == m["shards"]


def test_shards_written_by_other_code_are_rewritten(tmp_path, monkeypatch):
    from mpa_dist.data import shards

    csv = tmp_path / "f.csv"
    csv.write_text("formula,gap [eV]\nNaCl,8.5\nGaAs,1.4\nSi,1.1\n")
    m1 = make_shards(str(csv), tmp_path / "sh", min_shards=1, workers=1, progress=False)
    monkeypatch.setattr(shards, "code_version", lambda: "another-version")
    t = (tmp_path / "sh" / m1["shards"][0]["name"]).stat().st_mtime_ns
    m2 = make_shards(str(csv), tmp_path / "sh", min_shards=1, workers=1, progress=False)
    assert m2["version"] == "another-version" != m1["version"]
    assert (tmp_path / "sh" / m1["shards"][0]["name"]).stat().st_mtime_ns != t


@pytest.mark.slow
@pytest.mark.multiprocess
def test_one_worker_pool_serves_every_dataset_of_a_shards_step(tmp_path):
    """Inside shared_workers, the datasets of a shards step convert on one pool started once (a spawned
    worker's imports cost seconds each), and write the bytes a single process writes."""
    from mpa_dist.data import shards

    csvs = []
    for name, body in (("a", "smiles,boiling_point [K]\nCCO,351.4\nCCCC,272.7\nCCN,290\nCCCl,285.4\n"),
                       ("b", "formula,gap [eV]\nNaCl,8.5\nGaAs,1.4\nSi,1.1\nMgO,7.8\n")):
        (tmp_path / f"{name}.csv").write_text(body)
        csvs.append(str(tmp_path / f"{name}.csv"))
    pools = []
    with shards.shared_workers(2):
        for i, csv in enumerate(csvs):
            make_shards(csv, tmp_path / f"pooled{i}", min_shards=2, workers=2, progress=False)
            pools.append(shards._shared.pool)
    assert pools[0] is not None and pools[0] is pools[1] and shards._shared is None
    for i, csv in enumerate(csvs):
        alone = make_shards(csv, tmp_path / f"alone{i}", min_shards=2, workers=1, progress=False)
        pooled = json.loads((tmp_path / f"pooled{i}" / "manifest.json").read_text())
        assert [s["sha256"] for s in pooled["shards"]] == [s["sha256"] for s in alone["shards"]]
