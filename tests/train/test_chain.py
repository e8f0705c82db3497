"""The whole chain of an experiment (mpa_dist/chain.py): its steps, and a restart that skips what is done."""

import json

import pytest

from mpa_dist import chain


def test_the_every_task_chain_mid_trains_on_each_scheme_the_sweep_scores():
    steps = chain.plan(["experiment=every_task", "name=et"])
    assert [s.command for s in steps] == ["catalog", "pretrain", "midtrain", "midtrain", "posttrain"]
    assert [str(s.done) for s in steps[1:]] == ["runs/et/pretrain/result.json", "runs/et/midtrain-random/result.json",
                                                "runs/et/midtrain-ood/result.json", "runs/et/sweep/report.md"]
    assert "data.scheme=ood" in steps[3].overrides and "sweep=every_task" not in steps[3].overrides
    assert {"sweep=every_task", "sweep.resume=true"} <= set(steps[4].overrides)
    with pytest.raises(ValueError, match="experiment"):
        chain.plan(["name=et"])


def test_a_restart_runs_only_the_steps_without_a_result(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    steps = chain.plan(["experiment=smoke", "name=c", "sweep=smoke", "seed=1"])
    for s in steps[1:3]:  # pre- and mid-training finished before the interruption
        s.done.parent.mkdir(parents=True)
        s.done.write_text("{}")
    calls = []
    monkeypatch.setattr(chain.subprocess, "call", lambda cmd: calls.append(cmd[3:]) or 0)
    chain.run(["experiment=smoke", "name=c", "sweep=smoke", "seed=1"])
    assert [c[0] for c in calls] == ["catalog", "posttrain"]  # the catalogue is cheap and idempotent
    assert "seed=1" in calls[1] and "sweep.resume=true" in calls[1]
    assert capsys.readouterr().out.count("not run again") == 2
    timing = json.loads((tmp_path / "runs" / "c" / "chain.json").read_text())
    assert set(timing["steps"]) == {"catalogue", "post-training sweep (random)"}
    assert all(v["starts"] == 1 and v["finished"] for v in timing["steps"].values())
    monkeypatch.setattr(chain.subprocess, "call", lambda cmd: 3)
    with pytest.raises(SystemExit, match=r"chain \[1/4\] catalogue: exited with 3"):
        chain.run(["experiment=smoke", "name=c", "sweep=smoke"])


def test_the_fit_clock_of_a_resumed_sweep_adds_this_start_to_the_seconds_saved_before(tmp_path):
    import pickle
    import time

    from mpa_dist.tune.progress import FitClock

    clock = FitClock(tmp_path)
    clock.start -= 100  # a first start that fitted for 100 s
    assert 100 <= clock.save() < 101
    copy = pickle.loads(pickle.dumps(clock))  # as Tune restores its callbacks on a resume
    assert copy.before == pytest.approx(clock.total(), abs=1) and time.time() - copy.start < 1
    assert 100 <= copy.save() < 101
