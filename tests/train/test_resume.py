"""A run killed with SIGKILL and restarted continues from its last checkpoint with the batches the
uninterrupted run drew (the data position is part of the checkpoint), so its per-step losses are
the uninterrupted run's, bit for bit.

One thread per process: with two, some CPU kernels reduce in a thread-dependent order, and two
uninterrupted runs already differ by 1e-7 to 1e-5 relative within a few steps (measured), which
would hide a resume that restores almost, but not exactly, the state it saved."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from launching import ROOT, clean_env, launch, result, smoke

STEPS = ["cluster.threads=1", "steps=24", "ckpt_every=6", "eval_every=24", "log_every=1"]


def _losses(run_dir) -> dict[int, dict]:
    """step -> per-output training losses (the last line for a step: a restart logs it again)."""
    lines = (run_dir / "losses.jsonl").read_text().splitlines()
    return {r["step"]: r["losses"] for r in map(json.loads, lines)}


def _mean_mae(run_dir):
    val = result(run_dir)["val"]
    return np.mean([v for k, v in val.items() if k.startswith("mae/") and "@qm9" in k and "tensor" not in k])


DEEPSPEED = [sys.executable, "-m", "deepspeed.launcher.runner", "--num_gpus", "2", "--master_port", "29547"]


@pytest.mark.slow
# the one-process variant is heavy (make test-all): the two-rank one restores the same state plus each
# rank's data position, and CI runs it
@pytest.mark.parametrize("launcher", [pytest.param(None, marks=pytest.mark.heavy),
                                      pytest.param(DEEPSPEED, marks=pytest.mark.multiprocess)],
                         ids=["one-process", "deepspeed-2-ranks"])
def test_sigkill_then_restart_resumes_and_matches(tmp_path, launcher):
    launch("pretrain.py", *smoke(tmp_path / "a", "pretrain", *STEPS), launcher=launcher)
    args = (launcher or [sys.executable]) + [str(ROOT / "launch" / "pretrain.py"),
                                             *smoke(tmp_path / "b", "pretrain", *STEPS)]
    log = open(tmp_path / "killed_run.log", "w")
    p = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=clean_env(),
                         start_new_session=True)
    latest = tmp_path / "b" / "pretrain" / "checkpoints" / "latest"
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None:
        if latest.exists() and latest.read_text().strip() >= "step000000012":
            break
        time.sleep(0.2)
    assert p.poll() is None, "the run ended before it could be killed:\n" + (tmp_path / "killed_run.log").read_text()[-3000:]
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    killed_at = int(latest.read_text().strip().removeprefix("step"))
    assert 12 <= killed_at < 24
    out = launch("pretrain.py", *smoke(tmp_path / "b", "pretrain", *STEPS), launcher=launcher)
    assert f"resumed pretrain from step {killed_at}" in out.stdout + out.stderr
    assert result(tmp_path / "b" / "pretrain")["step"] == 24
    la, lb = _losses(tmp_path / "a" / "pretrain"), _losses(tmp_path / "b" / "pretrain")
    after = [s for s in range(killed_at + 1, 25)]
    assert set(after) <= set(la) and set(after) <= set(lb)
    for s in after:  # the same batches after the restart: the same losses, output by output
        assert la[s].keys() == lb[s].keys()
        for name, v in la[s].items():
            assert lb[s][name] == v, (s, name, v, lb[s][name])
    a, b = _mean_mae(tmp_path / "a" / "pretrain"), _mean_mae(tmp_path / "b" / "pretrain")
    assert b == a


class _Crash(RuntimeError):
    pass


@pytest.mark.slow
def test_a_retried_sweep_trial_ends_with_its_uninterrupted_twins_validation_error(midtrained, tmp_path,
                                                                                   monkeypatch):
    """Tune retries a failed trial (sweep.max_failures) by calling the trial function again in the
    same trial folder: it resumes the trial's checkpoint, and ends where the uninterrupted trial ends."""
    from hydra import compose, initialize_config_dir
    from ray import tune

    import mpa_dist.train.resolvers  # noqa: F401
    from mpa_dist.tune import sweep, trial

    overrides = smoke(tmp_path, "posttrain", "sweep=smoke", f"sweep.out={tmp_path / 'sweep'}",
                      f"sweep.arms.mpa={midtrained / 'midtrain' / 'model'}", "steps=30", "eval_every=10",
                      "ckpt_every=10", "finetune.patience=10")
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        base = sweep.base_config(compose("posttrain", overrides=overrides))
    config = {"task": "boiling_point", "arm": "mpa", "scheme": "random", "seed": 0, "hp": {"optim.lr": 1e-3}}

    def run(name: str, crash_at: int | None = None) -> list[dict]:
        reports = []

        def report(metrics):
            if crash_at is not None and metrics["step"] == crash_at and not metrics.get("done"):
                raise _Crash(f"killed at step {crash_at}")
            reports.append(metrics)

        monkeypatch.setattr(tune, "get_context", lambda: type("Ctx", (), {"get_trial_name": lambda self: name})())
        monkeypatch.setattr(tune, "report", report)
        trial.run_trial(config, base)
        return reports

    twin = run("twin")
    with pytest.raises(_Crash):  # after its step-10 checkpoint, before the one at step 20
        run("retried", crash_at=20)
    retried = run("retried")
    trials = tmp_path / "sweep" / "trials"
    assert (trials / "retried" / "checkpoints").is_dir()
    assert [r["step"] for r in twin] == [10, 20, 30, 30] and [r["step"] for r in retried] == [20, 30, 30]
    for a, b in zip(twin[1:], retried):  # the same validation scores after the restart, and the same best
        assert b["score"] == pytest.approx(a["score"], rel=1e-5), (a, b)
        assert b["best_score"] == pytest.approx(a["best_score"], rel=1e-5), (a, b)
    va, vb = result(trials / "twin")["val"], result(trials / "retried")["val"]
    assert va.keys() == vb.keys() and any(k.startswith("mae/") for k in va)
    for k, v in va.items():
        assert vb[k] == pytest.approx(v, rel=1e-5), k


class _FirstBatch(Exception):
    pass


def _restart(tmp_path, monkeypatch, position: dict, workers: int, step: int = 10, seed: int = 3):
    """The training loop of a trainer restored at `step` with the checkpoint's data `position`, up to its
    first batch: (the seeds of the stream loaders it built, the batches it drew, the trainer)."""
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from mpa_dist.train import trainer as trainer_mod

    t = trainer_mod.Trainer.__new__(trainer_mod.Trainer)  # the parts the loop reads, without a model or engine
    t.cfg = OmegaConf.create({"seed": seed, "progress": False, "finetune": {"max_seconds": None},
                              "data": {"num_workers": workers, "dft_stages": 1}})
    t.run_dir, t.step, t.total, t.probe, t.on_eval, t.dft, t.srcs, t.vocab = tmp_path, step, 24, None, None, [], [], {}
    t.model, t.device, t.dtype, t.data_position = SimpleNamespace(output_kinds=dict), "cpu", None, position
    seeds, drawn = [], []

    class Batch:
        def to(self, *a):
            raise _FirstBatch  # the first batch this run trains on

    def loader(split, mode, seed=0, weights=None, **kw):
        assert (split, mode) == ("train", "stream")
        seeds.append(seed)
        return iter(lambda: drawn.append(1) or Batch(), None)

    t._loader, t._weights = loader, lambda progress: None
    monkeypatch.setattr(trainer_mod, "RunLogger", lambda *a, **k: None)
    with pytest.raises(_FirstBatch):
        t.train()
    return seeds, len(drawn), t


def test_a_resume_on_other_ranks_or_workers_logs_it_and_takes_a_new_seed(tmp_path, monkeypatch):
    """The data position is each rank's and worker's own part of the stream: restored only with the same
    ranks and workers; otherwise the stream restarts from a seed of the resume step, said in resume.log."""
    pos = {"world": 1, "workers": 2, "stage": 0, "stage_start": 6, "consumed": 4}
    seeds, drawn, t = _restart(tmp_path, monkeypatch, pos, workers=2)
    # the same layout: the checkpoint's stream (seeded at its stage start), after the 4 batches it had drawn
    assert seeds == [3 * 100003 + 6] and drawn == 5 and t.stage_start == 6
    assert not (tmp_path / "resume.log").exists()
    seeds, drawn, t = _restart(tmp_path, monkeypatch, pos, workers=1)  # one loader worker where there were 2
    assert seeds == [3 * 100003 + 10] and drawn == 1 and t.stage_start == 10  # a new seed: that of step 10
    log = (tmp_path / "resume.log").read_text().splitlines()
    assert len(log) == 1 and log[0].startswith("resumed with 1 rank(s) x 1 loader worker(s) where the checkpoint "
                                               "was written with 1 x 2: the data position cannot be restored exactly")
    assert "restarts from a new seed at step 10" in log[0]
    seeds, drawn, _ = _restart(tmp_path, monkeypatch, {**pos, "world": 2}, workers=2)  # 1 rank where there were 2
    assert seeds == [3 * 100003 + 10] and drawn == 1
    log = (tmp_path / "resume.log").read_text().splitlines()
    assert len(log) == 2
    assert "resumed with 1 rank(s) x 2 loader worker(s) where the checkpoint was written with 2 x 2" in log[1]
