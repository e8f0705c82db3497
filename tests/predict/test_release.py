"""The release: a sweep's selected MPA models merged into one export (one backbone, a head per property)
with release.json and the model card; loaded by Predictor.pretrained() and `mpa-predict` without ckpt=.

Fast tests build a sweep folder of small random post-trained-like exports (one shared backbone, the
production exporter); the slow ones build the release from a real smoke sweep (cached-feature
post-training on the smoke chain, tests/conftest.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import ROOT, TASKS, VOCAB, tiny_config
from launching import clean_env
from mpa_dist.data.offline import sha256_file
from mpa_dist.model import build_model
from mpa_dist.predict import Predictor
from mpa_dist.predict import release as rl
from mpa_dist.train import checkpoint

# (task, label, readout): the label differs from the task, as a post-trained head is named by its label
SWEEP_TASKS = [("boiling_point", "bp", "attention"), ("expt_gap", "expt_gap", "mean")]
ELEMENTS = {"boiling_point": [1, 6, 7, 8], "expt_gap": [3, 8, 11, 17, 26]}  # each task's training data
CHAIN = [{"phase": "pretrain", "scheme": "random", "elements": [1, 3, 6, 7, 8, 9],
          "sources": [{"dataset": "qm9", "path": "/x/qm9", "kind": "computed", "input": "molecule",
                       "labels": ["gap"]}]},
         {"phase": "midtrain", "scheme": "random", "elements": [1, 3, 6, 7, 8, 11, 14, 17, 26],
          "sources": [{"dataset": t, "path": f"/x/{t}", "kind": "experimental", "input": "molecule", "labels": [t]}
                      for t, _, _ in SWEEP_TASKS]}]


def _backbone(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model = build_model(tiny_config(), [])
    torch.nn.init.normal_(model.backbone.embedding.source.weight)
    return {k: v.detach().float() for k, v in model.state_dict().items()}


def post_export(path: Path, task: str, label: str, readout: str, backbone: dict, seed: int) -> Path:
    """A post-trained-like export: the given backbone and a random head for `task`, exported as training does."""
    torch.manual_seed(100 + seed)
    model = build_model(tiny_config(), [{"name": label, "readout": readout}])
    model.load_state_dict(backbone, strict=False)
    for h in model.heads.values():
        h.norm.scale.fill_(2.0)
        h.norm.shift.fill_(3.0)
    state = {k: v.detach().float() for k, v in model.state_dict().items()}
    task_info = {**TASKS.get(label, {}), "label": label, "name": task, "property": task.replace("_", " "),
                 "input": "molecule" if task == "boiling_point" else "composition",
                 "unit": "K" if task == "boiling_point" else "eV", "transform": "none"}
    lineage = [*CHAIN, {"phase": "posttrain", "scheme": "random", "elements": ELEMENTS[task],
                        "sources": [{"dataset": task, "path": f"/x/{task}", "kind": "experimental",
                                     "input": task_info["input"], "labels": [label]}]}]
    meta = {"model": tiny_config(), "heads": [{"name": label, "readout": readout}], "source_vocab": VOCAB,
            "phase": "posttrain", "tasks": {label: task_info}, "transforms": {}, "split_scheme": "random",
            "data": [task], "eval_schemes": ["random", "ood"],
            "elements": sorted(set().union(*(phase["elements"] for phase in lineage))),
            "init": {"path": "/x/midtrain/model", "sha256": "f" * 64}, "lineage": lineage}
    checkpoint.export(state, meta, path / "model")
    return path / "model"


def make_sweep(out: Path, backbones: dict | None = None) -> Path:
    """A finished sweep's folder as run_sweep leaves it: best/<task>-<arm>-random-s0/model.*, results.csv,
    exposure.json, sweep.json. backbones: task -> its model's backbone weights (default: one shared)."""
    shared = _backbone()
    rows, exposure = [], []
    for i, (task, label, readout) in enumerate(SWEEP_TASKS):
        name = f"{task}-mpa-random-s0"
        post_export(out / "best" / name, task, label, readout, (backbones or {}).get(task, shared), i)
        unit = "K" if task == "boiling_point" else "eV"
        scale = 30.0 if task == "boiling_point" else 0.5
        rows += [{"task": task, "arm": "mpa", "split": "random", "seed": 0, "mae": scale, "accuracy": None,
                  "n_test": 20 + i, "unit": unit, "val_score": 1.1 * scale, "model": f"best/{name}/model",
                  "hp:optim.lr": 1e-3, "n_train": None},
                 {"task": task, "arm": "mpa", "split": "random", "seed": 1, "mae": 9.0, "accuracy": None,
                  "n_test": 20 + i, "unit": unit, "val_score": 9.0, "model": f"best/{task}-mpa-random-s1/model",
                  "hp:optim.lr": 1e-3, "n_train": None},
                 {"task": task, "arm": "rf", "split": "random", "seed": 0, "mae": 1.2 * scale, "accuracy": None,
                  "n_test": 20 + i, "unit": unit, "val_score": 1.3 * scale, "model": None, "n_train": 160 + i},
                 {"task": task, "arm": "dummy", "split": "random", "seed": 0, "mae": 2 * scale, "accuracy": None,
                  "n_test": 20 + i, "unit": unit, "val_score": 2 * scale, "model": None, "n_train": 160 + i}]
        if task == "boiling_point":  # Chemprop: molecular tasks only
            rows.append({"task": task, "arm": "chemprop", "split": "random", "seed": 0, "mae": 0.9 * scale,
                         "accuracy": None, "n_test": 20, "unit": unit, "val_score": scale, "model": None,
                         "n_train": 160})
        exposure.append({"task": task, "arm": "mpa", "scheme": "random", "seed": 0, "exposed": 0,
                         "evaluation_compounds": 40 + i, "unknown_phases": [], "by_source": []})
    pd.DataFrame(rows).to_csv(out / "results.csv", index=False)
    (out / "exposure.json").write_text(json.dumps(exposure))
    (out / "sweep.json").write_text(json.dumps({"trials": 8, "failed": 0, "wall_s": 10.0, "exposed": 0}))
    return out


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return make_sweep(tmp_path_factory.mktemp("sweep"))


@pytest.fixture(scope="module")
def built(sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    return out, rl.build_release(sweep, out)


# ---- building ----------------------------------------------------------------------------------------
def test_the_release_is_one_backbone_with_every_tasks_head(sweep, built):
    out, rel = built
    state = load_file(str(out / "model.safetensors"))
    meta = checkpoint.read_meta(out)
    assert [h["name"] for h in meta.heads] == ["bp@boiling_point", "expt_gap@expt_gap"]
    assert meta.phase == "midtrain" and meta.split_scheme == "random"  # post-training from it is the MPA arm
    for task, label, _ in SWEEP_TASKS:
        one = load_file(str(sweep / "best" / f"{task}-mpa-random-s0" / "model.safetensors"))
        for k, v in one.items():  # every tensor of every model is in the release, once
            merged = k if not k.startswith("heads.") else k.replace(f"heads.{label}.", f"heads.{label}@{task}.", 1)
            assert torch.equal(state[merged], v), k
    assert {k.split(".")[1] for k in state if k.startswith("heads.")} == {"bp@boiling_point", "expt_gap@expt_gap"}
    # the chain's lineage, then the heads' training data (each task's training split)
    assert [p["phase"] for p in meta.lineage] == ["pretrain", "midtrain", "posttrain"]
    assert {s["dataset"] for s in meta.lineage[-1]["sources"]} == {"boiling_point", "expt_gap"}
    assert not list(out.glob(".release.tmp*"))


def test_release_json_records_units_errors_licences_and_the_sha256(sweep, built):
    import mpa_dist

    out, rel = built
    assert json.loads((out / rl.RELEASE_FILE).read_text()) == rel
    bp, gap = rel["heads"]
    assert (bp["task"], bp["unit"], bp["input"], bp["metric"]) == ("boiling_point", "K", "molecule", "mae")
    assert (gap["task"], gap["unit"], gap["input"]) == ("expt_gap", "eV", "composition")
    # the seed-0 random-split rows of results.csv: the model, the rf and the dummy on the same split
    assert bp["test_mae"] == 30.0 and bp["rf_test_mae"] == 36.0 and bp["dummy_test_mae"] == 60.0
    assert bp["val"] == pytest.approx(33.0) and bp["n_train"] == 160 and bp["n_test"] == 20
    assert bp["chemprop_test_mae"] == 27.0 and gap["chemprop_test_mae"] is None
    assert gap["test_mae"] == 0.5 and gap["n_train"] == 161 and gap["hyperparameters"] == {"optim.lr": 1e-3}
    assert bp["elements"] == ELEMENTS["boiling_point"] and bp["exposed"] == 0 and bp["evaluation_compounds"] == 40
    assert rel["exposure"] == {"audited": 2, "of": 2, "exposed": 0, "evaluation_compounds": 81, "unknown_phases": [],
                               "privileged": False}
    # every dataset of the chain with its phases and the catalogue's licences
    data = {d["dataset"]: d for d in rel["training_data"]}
    assert set(data) == {"qm9", "boiling_point", "expt_gap"}
    assert data["boiling_point"]["phases"] == ["midtrain", "posttrain"] and data["qm9"]["phases"] == ["pretrain"]
    assert any("CC0" in s["licence"] for s in data["qm9"]["sources"])
    assert any(s["licence"] == "CC BY-NC 4.0" for s in data["boiling_point"]["sources"])
    assert rel["mpa_dist_version"] == mpa_dist.__version__ and "commit" in rel and rel["sweep"]["trials"] == 8
    # the weights match the sha256 recorded in release.json and model.json
    assert rel["weights"]["sha256"] == sha256_file(out / "model.safetensors") == checkpoint.read_meta(out).sha256
    assert rel["weights"]["bytes"] == (out / "model.safetensors").stat().st_size
    assert rl.verify(out) == rel
    assert rel["reproduce"] == ["make every-task",
                                "mpa-release sweep_dir=runs/every_task/sweep out=mpa_dist/pretrained"]


def test_modified_weights_fail_the_sha256(built, tmp_path):
    out, _ = built
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in ("model.safetensors", "model.json", rl.RELEASE_FILE):
        (copy / f).write_bytes((out / f).read_bytes())
    state = load_file(str(copy / "model.safetensors"))
    key = next(k for k in state if k.startswith("heads.bp@"))
    state[key] = state[key] + 1.0
    save_file(state, str(copy / "model.safetensors"), metadata={"format": "mpa_dist"})
    with pytest.raises(checkpoint.CheckpointError, match="does not match the sha256"):
        rl.verify(copy)
    with pytest.raises(checkpoint.CheckpointError, match="does not match the sha256"):
        Predictor.load(copy)


def test_a_different_backbone_is_refused_naming_the_tensor(tmp_path):
    other = _backbone()
    key = "backbone.embedding.atom.weight"
    other[key] = other[key].clone()
    other[key][6, 0] += 1e-3
    sweep = make_sweep(tmp_path / "sweep", backbones={"expt_gap": other})
    with pytest.raises(rl.ReleaseError, match=rf"backbone tensor '{key}' differs between expt_gap and "
                                              rf"boiling_point \(max \|difference\| 0\.001\).*finetune\.strategy lp"):
        rl.build_release(sweep, tmp_path / "out")
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_another_architecture_or_start_is_refused(tmp_path):
    sweep = make_sweep(tmp_path / "sweep")
    js = sweep / "best" / "expt_gap-mpa-random-s0" / "model.json"
    meta = json.loads(js.read_text())
    js.write_text(json.dumps({**meta, "init": {"path": "/y/other", "sha256": "0" * 64}}))
    with pytest.raises(rl.ReleaseError, match="started from different exports"):
        rl.build_release(sweep, tmp_path / "out")
    js.write_text(json.dumps({**meta, "model": {**meta["model"], "cutoff": 6.0}}))
    with pytest.raises(rl.ReleaseError, match=r"different architectures \(model\.cutoff \(6\.0 vs 5\.0\)\)"):
        rl.build_release(sweep, tmp_path / "out")


def test_what_to_merge_comes_from_results_csv(sweep, tmp_path):
    with pytest.raises(rl.ReleaseError, match="no direct model on the random split with seed 0.*mpa/random/s1"):
        rl.build_release(sweep, tmp_path / "out", arm="direct")
    with pytest.raises(rl.ReleaseError, match="for melting_point"):
        rl.build_release(sweep, tmp_path / "out", tasks=["boiling_point", "melting_point"])
    with pytest.raises(rl.ReleaseError, match="results.csv not found"):
        rl.build_release(tmp_path, tmp_path / "out")
    with pytest.raises(rl.ReleaseError, match="is not there"):  # seed 1's rows name models the sweep did not keep
        rl.build_release(sweep, tmp_path / "out", seed=1)
    one = rl.build_release(sweep, tmp_path / "one", tasks=["expt_gap"])
    assert [h["name"] for h in one["heads"]] == ["expt_gap@expt_gap"] and one["left_out"] == []
    # a task the sweep scored without an MPA model (a failed trial) is left out, and said so
    res = pd.read_csv(sweep / "results.csv")
    failed = tmp_path / "failed"
    shutil.copytree(sweep, failed)
    res[~((res["task"] == "boiling_point") & (res["arm"] == "mpa"))].to_csv(failed / "results.csv", index=False)
    rel = rl.build_release(failed, tmp_path / "two")
    assert [h["task"] for h in rel["heads"]] == ["expt_gap"] and rel["left_out"] == ["boiling_point"]
    assert "not in the release (the sweep has no mpa model for them): boiling_point" in rl.properties_text(rel)
    assert "Not in the release (the sweep has no mpa model for them): boiling_point." in rl.model_card(rel)


def test_a_release_over_its_size_budget_is_refused_and_nothing_is_written(sweep, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(rl.ReleaseError, match=r"the release is [\d.]+ MB, over its 0\.01 MB budget \(max_mb\)"):
        rl.build_release(sweep, out, max_mb=0.01)
    assert sorted(p.name for p in out.iterdir()) == []
    assert rl.MAX_MB == 20.0


# ---- using it ----------------------------------------------------------------------------------------
def test_predictor_gives_every_property_of_the_input_kind_with_per_property_warnings(sweep, built):
    out, rel = built
    p = Predictor.load(out)
    assert p.release == rel
    mols = p.predict(smiles=["CCO", "c1ccccc1O", "CCCl", "[Na+].[Cl-]"])
    # a SMILES gets the molecular properties only, each in its unit with its spread over conformers
    assert [c for c in mols.columns if "@" in c] == ["bp@boiling_point [K]", "bp@boiling_point std [K]"]
    assert mols["bp@boiling_point [K]"].notna().tolist() == [True, True, True, False]
    assert mols["error"].tolist()[:3] == ["", "", ""] and "several fragments" in mols["error"][3]
    # Cl is in the chain's training data but not in boiling_point's: a warning names the property
    assert mols["warning"].tolist()[:2] == ["", ""]
    assert mols["warning"][2] == ("element(s) Cl not in the training data of bp (1 of 1 properties): extrapolations")
    # each head predicts what its own post-trained model predicts
    alone = Predictor.load(sweep / "best" / "boiling_point-mpa-random-s0").predict(smiles=["CCO", "c1ccccc1O", "CCCl"])
    assert mols["bp@boiling_point [K]"][:3].tolist() == pytest.approx(alone["bp [K]"].tolist(), rel=1e-5)
    comps = p.predict(formulas=["NaCl", "Fe2O3", "SiO2"])
    assert [c for c in comps.columns if "@" in c] == ["expt_gap@expt_gap [eV]", "expt_gap@expt_gap std [eV]"]
    assert comps["expt_gap@expt_gap [eV]"].notna().all()
    assert comps["warning"].tolist() == ["", "", "element(s) Si not in the training data of expt_gap (1 of 1 "
                                                "properties): extrapolations"]
    alone = Predictor.load(sweep / "best" / "expt_gap-mpa-random-s0").predict(formulas=["NaCl", "Fe2O3", "SiO2"])
    assert comps["expt_gap@expt_gap [eV]"].tolist() == pytest.approx(alone["expt_gap [eV]"].tolist(), rel=1e-5)
    # an element no phase trained on stays an error (the predictor's limits)
    assert "element(s) K never seen in training" in p.predict(formulas=["K2O"])["error"][0]
    props = p.properties()
    assert props["property"].tolist() == ["boiling_point", "expt_gap"] and props["test"].tolist() == [30.0, 0.5]
    assert props["rf"].tolist() == [36.0, 0.6] and props["n_train"].tolist() == [160, 161]


def test_pretrained_loads_the_shipped_release_or_names_the_command(built, tmp_path, monkeypatch):
    from mpa_dist import pretrained

    out, rel = built
    monkeypatch.setenv(pretrained.ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"mpa-release sweep_dir=runs/every_task/sweep out=mpa_dist/pretrained"):
        Predictor.pretrained()
    monkeypatch.setenv(pretrained.ENV, str(out))
    p = Predictor.pretrained(device="cpu")
    assert p.release == rel and [h.name for h in p.heads] == ["bp@boiling_point", "expt_gap@expt_gap"]
    monkeypatch.delenv(pretrained.ENV)
    assert pretrained.folder() == ROOT / "mpa_dist" / "pretrained"


def test_the_package_declares_the_release_folder_as_package_data():
    try:
        import tomllib
    except ImportError:
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = project["tool"]["setuptools"]["package-data"]
    assert set(data["mpa_dist.pretrained"]) >= {"*.safetensors", "*.json"}
    assert project["project"]["scripts"]["mpa-release"] == "mpa_dist.cli:release"
    assert (ROOT / "mpa_dist" / "pretrained" / "__init__.py").is_file()  # a package, so that its data ships
    from mpa_dist import pretrained

    if not pretrained.available():  # no weights in the tree until a real release is built
        assert not list((ROOT / "mpa_dist" / "pretrained").glob("*.safetensors"))


def test_predict_cli_without_ckpt_uses_the_shipped_model(built, predict_cli, tmp_path, monkeypatch, capsys):
    from mpa_dist import pretrained

    out, rel = built
    monkeypatch.setenv(pretrained.ENV, str(out))
    predict_cli("smiles=[CCO,c1ccccc1O]", f"output={tmp_path / 'p.csv'}")
    table = pd.read_csv(tmp_path / "p.csv")
    assert table["bp@boiling_point [K]"].notna().all() and "expt_gap@expt_gap [eV]" not in table
    printed = capsys.readouterr().out
    assert "predicted 2, failed 0" in printed and "1 properties of 2 take this input (molecules)" in printed
    predict_cli("formulas=[NaCl,SiO2]", f"output={tmp_path / 'f.csv'}")
    table = pd.read_csv(tmp_path / "f.csv")
    assert table["expt_gap@expt_gap [eV]"].notna().all() and table["warning"].isna().tolist() == [True, False]
    assert "1 rows with a warning" in capsys.readouterr().out
    predict_cli("list=true")
    listed = capsys.readouterr().out
    assert "2 properties (random split, seed 0" in listed
    assert all(t in listed for t in ("boiling_point", "expt_gap", "MAE [K]", "MAE [eV]", "160", "161"))
    predict_cli("card=true")
    assert capsys.readouterr().out.strip() == rl.model_card(rel).strip()
    monkeypatch.setenv(pretrained.ENV, str(tmp_path / "none"))
    with pytest.raises(SystemExit, match=r"error: no model is shipped in .*none.*mpa-release sweep_dir="):
        predict_cli("smiles=[CCO]")


def test_card_and_list_of_a_plain_export(sweep, predict_cli, capsys):
    plain = sweep / "best" / "boiling_point-mpa-random-s0"
    predict_cli(f"ckpt={plain}", "list=true")
    assert "1 heads of" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="a plain export, not a release"):
        predict_cli(f"ckpt={plain}", "card=true")


def test_the_model_card_lists_every_property_with_its_baselines_and_the_command(built):
    out, rel = built
    card = rl.model_card(rel)
    for h in rel["heads"]:
        row = next(line for line in card.splitlines() if line.startswith(f"| {h['task']} |"))
        assert f"| {h['unit']} |" in row and rl._fmt(h["test_mae"]) in row and rl._fmt(h["rf_test_mae"]) in row
        assert rl._fmt(h["dummy_test_mae"]) in row and f"| {h['n_train']} |" in row
    assert "ahead of the rf on 2 of 2 regression properties" in card
    assert "| test | rf | dummy | Chemprop |" in card and "| 60 | 27 | yes |" in card and "| 1 | - | yes |" in card
    assert "0 of 81 evaluation compounds" in card and "Splits by compound" in card
    assert "CC BY-NC 4.0" in card and "## Intended use and limits" in card
    assert "make every-task\nmpa-release sweep_dir=runs/every_task/sweep out=mpa_dist/pretrained" in card
    assert rel["weights"]["sha256"] in card


def test_docs_model_card_is_the_shipped_releases():
    """docs/model_card.md is generated from the shipped release.json; with none shipped it says how to build one."""
    doc = (ROOT / "docs" / "model_card.md").read_text()
    shipped = ROOT / "mpa_dist" / "pretrained"
    if (shipped / rl.RELEASE_FILE).is_file():
        assert doc == rl.model_card(rl.read_release(shipped)), "docs/model_card.md is stale: run mpa-release again"
    else:
        assert all(line in doc for line in rl.REPRODUCE) and "no release" in doc.lower()


@pytest.mark.slow
def test_a_wheel_ships_the_release_and_predicts_from_outside_the_checkout(built, tmp_path):
    """The package built as a wheel with a release in mpa_dist/pretrained carries it as package data, and
    `mpa-predict` without ckpt= uses it from the unpacked wheel, in a folder outside the checkout."""
    import shutil
    import zipfile

    out, rel = built
    src = tmp_path / "src"
    shutil.copytree(ROOT / "mpa_dist", src / "mpa_dist", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.safetensors", "release.json",
                                                  "model.json"))
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    for f in ("model.safetensors", "model.json", rl.RELEASE_FILE):
        shutil.copy(out / f, src / "mpa_dist" / "pretrained" / f)
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                        str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    wheel, = (tmp_path / "dist").glob("mpa_dist-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"mpa_dist/pretrained/{f}" for f in ("model.safetensors", "model.json", "release.json")} <= set(names)
    site, work = tmp_path / "site", tmp_path / "work"
    zipfile.ZipFile(wheel).extractall(site)
    work.mkdir()
    code = (f"import sys; sys.path.insert(0, {str(site)!r}); import mpa_dist; "
            f"assert mpa_dist.__file__.startswith({str(site)!r}), mpa_dist.__file__; "
            "from mpa_dist.cli import predict; sys.argv = ['mpa-predict', 'smiles=[CCO]', 'output=p.csv']; predict()")
    env = {k: v for k, v in clean_env().items() if k != "MPA_PRETRAINED"}
    p = subprocess.run([sys.executable, "-I", "-c", code], cwd=work, capture_output=True, text=True, timeout=300,
                       env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    table = pd.read_csv(work / "p.csv")
    assert table["bp@boiling_point [K]"].notna().all() and "1 properties of 2 take this input" in p.stdout


# ---- post-training from it -----------------------------------------------------------------------
def test_posttrain_starts_from_the_shipped_model_when_the_runs_own_is_absent(built, tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir

    import mpa_dist.train.resolvers  # noqa: F401
    from mpa_dist import pretrained

    out, _ = built
    monkeypatch.chdir(tmp_path)
    overrides = ["experiment=smoke", "name=mine", "finetune.task=my_assay.csv"]

    def composed(*extra):
        with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
            return compose("posttrain", overrides=[*overrides, *extra])

    monkeypatch.setenv(pretrained.ENV, str(tmp_path / "none"))  # no release: the run's own path, as before
    cfg = composed()
    assert cfg.init_from == "runs/mine/midtrain-random/model"
    monkeypatch.setenv(pretrained.ENV, str(out))  # a release, and no mid-trained model of this run
    cfg = composed()
    assert cfg.init_from == str(out / "model") and cfg.run_dir == "runs/mine/posttrain/my_assay-mpa-random-s0"
    own = tmp_path / "runs" / "mine" / "midtrain-random"
    checkpoint.copy_export(out, own)  # the run's own mid-trained model wins
    assert composed().init_from == "runs/mine/midtrain-random/model"
    assert composed("init_from=/x/pretrain/model").init_from == "/x/pretrain/model"  # the direct arm: one override
    assert pretrained.init_from("pretrained") == str(out / "model") and pretrained.init_from("/a/b") == "/a/b"


def test_init_from_pretrained_without_a_release_is_a_one_line_error(tmp_path):
    env = clean_env(MPA_PRETRAINED=str(tmp_path / "none"))
    p = subprocess.run([sys.executable, "-m", "mpa_dist", "posttrain", "experiment=smoke", "init_from=pretrained",
                        "finetune.task=boiling_point"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env=env)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert "init_from=pretrained: no model is shipped in" in p.stderr and "or give init_from=<export>" in p.stderr


# ---- from a real smoke sweep -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smoke_release(lp_sweep, tmp_path_factory):
    """`mpa-release` on the smoke sweep, as users run it (its model card written beside it)."""
    from launching import launch

    out = tmp_path_factory.mktemp("smoke_release")
    p = launch("release.py", f"sweep_dir={lp_sweep}", f"out={out / 'release'}", f"card={out / 'model_card.md'}")
    return out, p.stdout


@pytest.mark.slow
@pytest.mark.multiprocess
def test_mpa_release_merges_a_smoke_sweeps_mpa_models(lp_sweep, smoke_release):
    out, printed = smoke_release
    rel = rl.verify(out / "release")  # the weights match their sha256
    res = pd.read_csv(lp_sweep / "results.csv")
    assert [h["task"] for h in rel["heads"]] == ["boiling_point", "expt_gap"]
    for h in rel["heads"]:
        row = lambda arm: res[(res["task"] == h["task"]) & (res["arm"] == arm) & (res["split"] == "random")
                              & (res["seed"] == 0)].iloc[0]
        assert h["test_mae"] == pytest.approx(row("mpa")["mae"]) and h["val"] == pytest.approx(row("mpa")["val_score"])
        assert h["rf_test_mae"] == pytest.approx(row("rf")["mae"])
        assert h["dummy_test_mae"] == pytest.approx(row("dummy")["mae"])
        assert h["n_train"] == row("rf")["n_train"] > 0 and h["n_test"] == row("mpa")["n_test"] > 0
        assert h["unit"] == {"boiling_point": "K", "expt_gap": "eV"}[h["task"]] and h["exposed"] == 0
    assert rel["exposure"]["exposed"] == 0 and rel["exposure"]["evaluation_compounds"] > 0
    # the smoke chain's datasets with their licences (QM9 in pre- and mid-training, the tasks in mid and post)
    data = {d["dataset"]: d for d in rel["training_data"]}
    assert {"qm9", "boiling_point", "expt_gap"} <= set(data) and data["qm9"]["phases"] == ["pretrain", "midtrain"]
    assert all(s["licence"] for d in data.values() for s in d["sources"])
    assert (out / "model_card.md").read_text() == rl.model_card(rel)
    assert "2 properties (random split, seed 0" in printed and "release: 2 heads on one backbone" in printed
    # each head predicts exactly what the sweep's selected model predicts
    p = Predictor.load(out / "release")
    mols = p.predict(smiles=["CCO", "c1ccccc1O", "CCCCCCCC"])
    alone = Predictor.load(lp_sweep / "best" / "boiling_point-mpa-random-s0").predict(smiles=["CCO", "c1ccccc1O",
                                                                                             "CCCCCCCC"])
    assert mols["boiling_point@boiling_point [K]"].tolist() == pytest.approx(alone["boiling_point [K]"].tolist(),
                                                                            rel=1e-5)
    assert mols["error"].eq("").all() and "expt_gap@expt_gap [eV]" not in mols
    comps = p.predict(formulas=["NaCl", "Fe2O3", "LiCoO2"])
    alone = Predictor.load(lp_sweep / "best" / "expt_gap-mpa-random-s0").predict(formulas=["NaCl", "Fe2O3", "LiCoO2"])
    assert comps["expt_gap@expt_gap [eV]"].tolist() == pytest.approx(alone["expt_gap [eV]"].tolist(), rel=1e-5,
                                                                     abs=1e-6)
    # the direct arm's backbone is the pre-trained one (its source vocabulary too): merging it with an MPA model
    # is refused (a tensor that differs is named by the fast test above)
    mixed = out / "mixed"
    (mixed / "best").mkdir(parents=True)
    for name in ("boiling_point-mpa-random-s0", "expt_gap-direct-random-s0"):
        checkpoint.copy_export(lp_sweep / "best" / name, mixed / "best" / name.replace("direct", "mpa"))
    (mixed / "results.csv").write_text(res.to_csv(index=False))
    with pytest.raises(rl.ReleaseError, match=r"expt_gap and boiling_point have different source vocabularies: a "
                                              r"release holds one backbone"):
        rl.build_release(mixed, out / "mixed_release")


@pytest.mark.slow
@pytest.mark.multiprocess
def test_own_assay_posttrains_from_the_shipped_model_by_default(smoke_release, tmp_path):
    """`mpa-posttrain finetune.task=my_assay.csv` with no init_from and no mid-trained model of its own starts
    from the shipped model (the MPA arm), and its export predicts with ckpt=."""
    from launching import launch, result

    out, _ = smoke_release
    csv = tmp_path / "my_assay.csv"
    csv.write_text("".join((ROOT / "examples" / "boiling_points.csv").read_text().splitlines(True)[:41]))
    run = tmp_path / "run"
    p = launch("posttrain.py", "experiment=smoke", "name=own_assay_from_release", f"run_dir={run}",
               f"data.shards_root={tmp_path / 'shards'}", "finetune=lp", f"finetune.task={csv}",
               env={"MPA_PRETRAINED": str(out / "release")})
    assert "starting from the model shipped inside the package" in p.stdout
    r = result(run)
    assert r["arm"] == "mpa" and r["init_from"] == str(out / "release" / "model")
    assert r["test"]["count/boiling_point"] > 0
    meta = checkpoint.read_meta(run / "model")
    assert meta.init["sha256"] == rl.read_release(out / "release")["weights"]["sha256"]
    pred = Predictor.load(run / "model").predict(smiles=["CCO", "CCCCO"])
    assert pred["boiling_point [K]"].notna().all()
