"""The post-training sweep: Ray Tune over tasks x arms with the same configurations per arm,
ASHA within groups, best on validation, test scored once, and the report."""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from omegaconf import OmegaConf
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from launching import clean_env, launch, smoke
from mpa_dist.tune.config import check
from mpa_dist.tune.scheduler import GroupedASHA
from mpa_dist.tune.space import draw, param_space


def _sweep(**kw):
    return OmegaConf.to_container(check({"tasks": ["a", "b"], "arms": {"mpa": "x", "direct": "y"}, **kw}))


def test_every_arm_gets_the_same_configurations():
    sw = _sweep(num_samples=3, seeds=[0, 1], space={"optim.lr": {"loguniform": [1e-4, 1e-2]},
                                                      "finetune.strategy": {"choice": ["full", "llrd"]}})
    space = param_space(sw)
    configs = space["hp"]["grid_search"]
    assert len(configs) == 3 and len({c["optim.lr"] for c in configs}) == 3
    assert all(1e-4 <= c["optim.lr"] <= 1e-2 and c["finetune.strategy"] in ("full", "llrd") for c in configs)
    # the grid crosses arms with the configurations: every arm runs every configuration
    assert space["arm"]["grid_search"] == ["mpa", "direct"] and space["seed"]["grid_search"] == [0, 1]
    assert draw(sw["space"], 3, seed=0) == configs and draw(sw["space"], 3, seed=1) != configs


def test_bad_sweep_config_is_an_error():
    with pytest.raises(ValueError, match="loguniform"):
        draw({"optim.lr": [1e-4, 1e-2]}, 2)
    with pytest.raises(ValueError, match="schemes"):
        _sweep(schemes=["scaffold"])
    with pytest.raises(Exception, match="tasks_typo"):
        check({"tasks_typo": ["a"], "tasks": ["a"], "arms": {"mpa": "x"}})


def _trial(tid, task, arm):
    return SimpleNamespace(trial_id=tid, config={"task": task, "arm": arm, "scheme": "random", "seed": 0})


def _decisions(scheduler, results):
    return [scheduler.on_trial_result(None, t, {"training_iteration": 1, "score": s}) for t, s in results]


def test_asha_compares_trials_only_within_their_group():
    """Band-gap errors (eV) must not be ranked against boiling-point errors (K)."""
    trials = [_trial("a1", "boiling_point", "mpa"), _trial("a2", "boiling_point", "mpa"),
              _trial("b1", "expt_gap", "mpa"), _trial("b2", "expt_gap", "mpa")]
    results = [(trials[0], 100.0), (trials[1], 150.0), (trials[2], 1.0), (trials[3], 2.0)]
    grouped = GroupedASHA("score", "min", max_t=4, grace_period=1, reduction_factor=2)
    plain = ASHAScheduler(metric="score", mode="min", max_t=4, grace_period=1, reduction_factor=2)
    for s in (grouped, plain):
        for t in trials:
            s.on_trial_add(None, t)
    got, base = _decisions(grouped, results), _decisions(plain, results)
    # within its group b2 (2 eV) is the worse of two and stops; a single ASHA lets it run
    # because it looks excellent next to errors of 100 K
    assert got == [TrialScheduler.CONTINUE, TrialScheduler.STOP, TrialScheduler.CONTINUE, TrialScheduler.STOP]
    assert base[3] == TrialScheduler.CONTINUE
    assert len(grouped.groups) == 2


@pytest.fixture
def ray_cluster():
    """A Ray cluster started as users start one (`ray start --head`, here in the foreground with
    --block so that stopping it touches no other Ray on the machine), for `sweep.address`.
    Local Ray (no address) is what the scaling test's sweep uses."""
    ray = str(Path(sys.executable).parent / "ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # `ray start` turns token authentication on (token in ~/.ray/auth_token); clients say RAY_AUTH_MODE=token
    # a token of its own: a fresh machine has no ~/.ray/auth_token, and `ray start` refuses to run without one
    address, env = f"127.0.0.1:{port}", clean_env(RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO="0", RAY_AUTH_MODE="token",
                                                  RAY_AUTH_TOKEN=secrets.token_hex(32))
    head = subprocess.Popen([ray, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
                             "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while subprocess.run([ray, "status", f"--address={address}"], env=env, capture_output=True).returncode:
            assert head.poll() is None and time.time() < deadline, "the Ray head did not come up"
            time.sleep(2)
        yield address, env
    finally:
        # after a job, `ray start --block` takes ~33 s to stop on SIGTERM (measured); its processes all
        # share the head's process group, so what has not stopped after a grace period is killed
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=60)
        # `ray start` records its cluster for `ray.init(address="auto")`; a stopped one must not stay there
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if current.exists() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()


@pytest.mark.slow
@pytest.mark.multiprocess
def test_smoke_sweep_on_a_running_ray_cluster_writes_the_report(midtrained, ray_cluster, tmp_path):
    tmp, (address, env) = midtrained, ray_cluster
    out = tmp_path / "sweep"
    launch("posttrain.py", *smoke(tmp_path, "posttrain", "sweep=smoke", f"sweep.out={out}",
                                  f"sweep.arms.mpa={tmp / 'midtrain' / 'model'}",
                                  f"sweep.arms.direct={tmp / 'pretrain' / 'model'}", "+sweep.arms.scratch=null",
                                  "sweep.num_samples=2", f"sweep.address={address}"), timeout=300, env=env)
    res = pd.read_csv(out / "results.csv")
    assert sorted(zip(res["task"], res["arm"])) == [(t, a) for t in ("boiling_point", "expt_gap")
                                                    for a in ("direct", "dummy", "mpa", "rf", "scratch")]
    # the baselines are scored on the very test entries the model arms are
    assert (res.groupby("task")["n_test"].nunique() == 1).all()
    models = res[~res["arm"].isin(["dummy", "rf"])]
    assert (models["exposed"] == 0).all() and (models["eval_compounds"] > 0).all()
    assert {"task", "arm", "split", "seed", "mae", "accuracy", "unit"} <= set(res.columns)
    assert (res["mae"] > 0).all() and (res["n_test"] > 0).all()
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 12  # 2 tasks x 3 arms x 2 configurations
    res = models
    for (task, arm), g in trials.groupby(["task", "arm"]):  # the reported trial is the best on validation
        chosen = res[(res["task"] == task) & (res["arm"] == arm)].iloc[0]
        assert chosen["val_score"] == pytest.approx(g["best_score"].min())
        assert sorted(g["hp:optim.lr"]) == sorted(trials[trials["arm"] == "mpa"].groupby("task")
                                                  .get_group(task)["hp:optim.lr"])
    for d in map(Path, trials["trial_dir"]):  # no trial evaluated the test split
        cfg = OmegaConf.load(d / "config.yaml")
        assert cfg.finetune.test is False
        if (d / "result.json").exists():  # trials stopped early by ASHA have none
            assert "test" not in json.loads((d / "result.json").read_text())
    scratch = [OmegaConf.load(d / "config.yaml").init_from for d, a in zip(map(Path, trials["trial_dir"]),
                                                                            trials["arm"]) if a == "scratch"]
    assert len(scratch) == 4 and all(i is None for i in scratch)  # from scratch: no checkpoint at all
    report = (out / "report.md").read_text()
    assert "| boiling_point" in report and "MPA vs direct" in report and "wall x slots" in report
    assert "**0** evaluation compounds" in report and "the random forest beats it on" in report
    assert "MPA vs best baseline %" in report and len(json.loads((out / "exposure.json").read_text())) == 6
    # the model arms' and the baselines' test entries were matched by key: each task has both intervals
    rows = [line for line in report.splitlines() if line.startswith(("| boiling_point", "| expt_gap"))]
    assert len(rows) == 2 and all(len(re.findall(r"\[[+-][\d.]+, [+-][\d.]+\]", r)) == 2 for r in rows), rows
    # the selected models by name, as the README's prediction example uses them
    from mpa_dist.predict import Predictor

    assert set(models["model"]) == {f"best/{t}-{a}-random-s0/model" for t in ("boiling_point", "expt_gap")
                                    for a in ("mpa", "direct", "scratch")}
    pred = Predictor.load(out / "best" / "boiling_point-mpa-random-s0").predict(smiles=["CCO", "c1ccccc1O"])
    assert pred["error"].fillna("").eq("").all() and pred.filter(like="boiling_point").notna().all().all()
    assert (out / "change.png").stat().st_size > 5000 and (out / "parity.png").stat().st_size > 5000
    info = json.loads((out / "sweep.json").read_text())
    assert info["trials"] == 12 and 0 < info["utilisation"] <= 1.0
    # the trials ran on the cluster started above (which names itself by its node address), not a local one
    assert info["ray_address"].endswith(f":{address.split(':')[1]}")


def test_matbench_section_sits_beside_the_leaderboard():
    from mpa_dist.report.sweep_report import matbench

    res = pd.DataFrame({"task": ["expt_gap"] * 4, "arm": ["mpa", "mpa", "direct", "direct"],
                        "split": ["fold0", "fold1", "fold0", "fold1"], "mae": [0.30, 0.40, 0.5, 0.5],
                        "accuracy": [float("nan")] * 4, "n_test": [10, 11, 10, 11]})
    text = "\n".join(matbench(res))
    assert "expt_gap, mpa: mae 0.35" in text and "on 2 of 5 folds (21 of 4604 entries tested" in text
    full = pd.DataFrame({"task": ["expt_gap"] * 5, "arm": ["mpa"] * 5, "split": [f"fold{k}" for k in range(5)],
                         "seed": [0] * 5, "mae": [0.3] * 5, "accuracy": [float("nan")] * 5,
                         "n_test": [921, 921, 921, 921, 920]})
    assert "all 4604 entries tested once, as on the leaderboard" in "\n".join(matbench(full))
    assert "Darwin: MAE 0.2865" in text
    assert matbench(res.assign(split="random")) == []


def test_full_sweep_config_covers_every_experimental_task():
    from hydra import compose, initialize_config_dir

    from launching import ROOT
    import mpa_dist.train.resolvers  # noqa: F401

    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("posttrain", overrides=["experiment=full", "sweep=full"])
    sw = OmegaConf.to_container(check(OmegaConf.to_container(cfg, resolve=True)["sweep"]))
    assert len(sw["tasks"]) == 56 and set(sw["arms"]) == {"mpa", "direct", "scratch"}
    assert sw["schemes"] == ["random", "ood"] and len(sw["seeds"]) == 3


def test_trial_config_applies_arm_scheme_and_configuration(tmp_path):
    from mpa_dist.tune.trial import trial_config

    base = {"sweep": {"arms": {"mpa": "/r/midtrain-{scheme}/model", "scratch": None}, "cpus_per_trial": 1},
            "finetune": {"task": None, "test": True, "results": "x", "strategy": "full"},
            "data": {"scheme": "random", "sources": {}, "num_workers": 2}, "optim": {"lr": 1e-3},
            "size": {"expt": 50}, "cluster": {"threads": 0}, "seed": 0, "init_from": None, "run_dir": "r",
            "progress": True}
    cfg = trial_config(base, {"task": "expt_gap", "arm": "mpa", "scheme": "ood", "seed": 2,
                              "hp": {"optim.lr": 3e-4, "finetune.strategy": "llrd"}}, tmp_path)
    assert cfg.init_from == "/r/midtrain-ood/model" and cfg.data.scheme == "ood" and cfg.seed == 2
    assert cfg.optim.lr == 3e-4 and cfg.finetune.strategy == "llrd" and cfg.finetune.test is False
    assert cfg.data.sources == {"expt_gap": {"limit": 50}} and "sweep" not in cfg
    scratch = trial_config(base, {"task": "expt_gap", "arm": "scratch", "scheme": "random", "seed": 0, "hp": {}},
                           tmp_path)
    assert scratch.init_from is None
    with pytest.raises(ValueError, match="optim.lrr"):
        trial_config(base, {"task": "t", "arm": "mpa", "scheme": "random", "seed": 0, "hp": {"optim.lrr": 1}},
                     tmp_path)


def test_seeds_per_scheme_are_one_grid_of_cells_and_chemprop_only_where_asked():
    from mpa_dist.tune.space import flat, group_of
    from mpa_dist.tune.sweep import baseline_cells

    sw = _sweep(schemes=["random", "ood"], seeds_by_scheme={"random": [0, 1, 2], "ood": [0]},
                baselines=["dummy", "rf"], chemprop_cells={"random": [0]})
    space = param_space(sw)
    cells = space["cell"]["grid_search"]
    assert "seed" not in space and "scheme" not in space
    assert cells == [{"scheme": "random", "seed": 0}, {"scheme": "random", "seed": 1},
                     {"scheme": "random", "seed": 2}, {"scheme": "ood", "seed": 0}]
    trial = {"task": "a", "arm": "mpa", "hp": {}, "cell": cells[3]}
    assert flat(trial) == {"task": "a", "arm": "mpa", "hp": {}, "scheme": "ood", "seed": 0}
    assert group_of(trial) == ("a", "mpa", "ood", 0)
    with pytest.raises(ValueError, match="seeds_by_scheme"):
        _sweep(schemes=["random", "ood"], seeds_by_scheme={"random": [0]})
    with pytest.raises(ValueError, match="chemprop_cells"):
        _sweep(schemes=["random"], chemprop_cells={"ood": [0]})
    # Chemprop in the named cells of molecular tasks only; the other baselines in every group
    best = [{"task": t, "scheme": c["scheme"], "seed": c["seed"]} for t in ("boiling_point", "expt_gap") for c in cells]
    todo = baseline_cells({**sw, "baselines": ["dummy", "rf", "chemprop"]}, best)
    assert [x for x in todo if x[0] == "chemprop"] == [("chemprop", "boiling_point", "random", 0)]
    assert sum(x[0] == "rf" for x in todo) == 8 and sum(x[0] == "dummy" for x in todo) == 8


def test_a_result_computed_once_is_read_back_by_a_resumed_sweep(tmp_path):
    from mpa_dist.tune.sweep import once

    calls = []
    fn = lambda x: calls.append(x) or {"y": x * 2}
    assert once(str(tmp_path / "a" / "r.pkl"), fn, 3) == {"y": 6}
    assert once(str(tmp_path / "a" / "r.pkl"), fn, 4) == {"y": 6} and calls == [3]  # not computed again
    assert not list((tmp_path / "a").glob("*.tmp"))


def test_every_task_sweep_covers_each_experimental_task_with_200_entries_or_more():
    """The every-task experiment's list is written out in configs/size/every_task.yaml: it must be the
    catalogue's experimental tasks with at least 200 entries, each at 1,000 entries or all of a smaller table."""
    from hydra import compose, initialize_config_dir

    from launching import ROOT
    import mpa_dist.train.resolvers  # noqa: F401
    from mpa_dist.data.catalog import registry
    from mpa_dist.tune.config import cells

    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("posttrain", overrides=["experiment=every_task", "sweep=every_task"])
    c = OmegaConf.to_container(cfg, resolve=True)
    sw = OmegaConf.to_container(check(c["sweep"]))
    big = {ds.name for ds in registry.datasets().values() if ds.kind == "experimental" and len(ds.entries()) >= 200}
    assert len(big) == 55 and set(sw["tasks"]) == big == set(c["size"]["expt_tasks"])
    assert c["size"]["expt"] == 1000 and all(v["limit"] == 1000 for v in c["size"]["expt_tasks"].values())
    assert cells(sw) == [("random", 0), ("random", 1), ("random", 2), ("ood", 0)]
    assert set(sw["arms"]) == {"mpa", "direct"} and sw["baselines"] == ["dummy", "rf", "chemprop"]


def test_a_refused_ray_connection_names_the_token_setting(monkeypatch):
    """A cluster started with `ray start` wants a token: joining it without one says how to pass it."""
    import ray

    from mpa_dist.tune.sweep import start_ray

    def refuse(**kw):
        raise ConnectionError("Authentication failed")

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setenv("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # start_ray sets it: restored after the test
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    with pytest.raises(ConnectionError) as e:
        start_ray({"address": "10.0.0.5:6379"})
    msg = str(e.value)
    assert msg.startswith("sweep.address=10.0.0.5:6379: could not join that Ray cluster (Authentication failed)")
    assert "RAY_AUTH_MODE=token and its token in ~/.ray/auth_token or RAY_AUTH_TOKEN" in msg
    assert msg.endswith("(RAY_AUTH_MODE is unset here)") and isinstance(e.value.__cause__, ConnectionError)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # set, and still refused: what is set is said
    with pytest.raises(ConnectionError, match=r"\(RAY_AUTH_MODE is token here\)$"):
        start_ray({"address": "10.0.0.5:6379"})


class _AfterFit(Exception):
    pass


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_resumed_sweep_runs_again_only_the_trials_that_did_not_finish(tmp_path, monkeypatch):
    """sweep.resume=true restores Tune's experiment in sweep.out: a finished trial is not run again, one that
    failed (as a sweep stopped mid-trial) is. The trials are stand-ins reporting at once; the rest of the sweep
    (scoring, baselines, report) is left out: the run stops after Tune's fit, with the trials it returned."""
    from hydra import compose, initialize_config_dir

    from launching import ROOT
    import mpa_dist.train.resolvers  # noqa: F401
    from mpa_dist.tune import sweep, trial

    out = tmp_path / "sweep"

    def stand_in(config, base):  # a trial: pickled by value to Ray's workers (a local function)
        import json
        from pathlib import Path

        from ray import tune

        from mpa_dist.tune.space import flat

        c, folder = flat(config), Path(base["sweep"]["out"])
        with open(folder / "calls.jsonl", "a") as f:
            f.write(json.dumps([c["task"], c["arm"]]) + "\n")
        if c["arm"] == "direct" and not (folder / "direct_may_finish").exists():
            raise RuntimeError("stopped mid-trial")
        tune.report({"score": 1.0, "best_score": 1.0, "step": 3, "seconds": 0.1, "done": True,
                     "trial_dir": str(folder / "trials" / tune.get_context().get_trial_name())})

    returned = []

    def after_fit(trials):
        returned.append(trials)
        raise _AfterFit

    monkeypatch.setattr(sweep, "prepare", lambda base: None)  # no shards or checkpoints: the trials need none
    monkeypatch.setattr(trial, "run_trial", stand_in)
    monkeypatch.setattr(sweep, "_best_per_group", after_fit)
    monkeypatch.setenv("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    overrides = smoke(tmp_path, "posttrain", "sweep=smoke", f"sweep.out={out}", "sweep.tasks=[boiling_point]",
                      "sweep.max_failures=0", "sweep.resume=true", "sweep.num_cpus=2")
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("posttrain", overrides=overrides)
    calls = lambda: [tuple(json.loads(x)) for x in (out / "calls.jsonl").read_text().splitlines()]
    with pytest.raises(_AfterFit):  # the first start: nothing to resume; direct's trial stops with an error
        sweep.run_sweep(cfg)
    first = returned[-1].set_index("arm")
    assert sorted(calls()) == [("boiling_point", "direct"), ("boiling_point", "mpa")]
    assert first.loc["mpa", "done"] and not first.loc["mpa", "error"] and first.loc["direct", "error"]
    (out / "direct_may_finish").touch()
    with pytest.raises(_AfterFit):  # the same command again
        sweep.run_sweep(cfg)
    assert sorted(calls()[2:]) == [("boiling_point", "direct")]  # mpa's finished trial was not run again
    again = returned[-1].set_index("arm")
    assert again["done"].all() and not again["error"].any() and len(again) == 2
    assert again.loc["mpa", "trial_dir"] == first.loc["mpa", "trial_dir"]  # its result, restored
