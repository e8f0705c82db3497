"""The sweep driver: shards once, Ray (local or an existing cluster), one Tune run over
task x arm x scheme x seed x configuration with ASHA per group, then for each group the
best trial on validation scored once on test, and the report.

    python launch/posttrain.py sweep=demo experiment=demo name=demo
"""

from __future__ import annotations

import json
import math
import os
import pickle
import time
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from mpa_dist.data import location
from mpa_dist.train import checkpoint, plan
from mpa_dist.tune.config import cells, check
from mpa_dist.tune.scheduler import GroupedASHA
from mpa_dist.tune.space import GROUP, draw, flat, param_space


def _abs(path: str | None) -> str | None:
    return None if path is None else str(Path(path).resolve())


def base_config(cfg) -> dict:
    """The resolved post-training config every trial starts from, with absolute paths (a trial
    runs in its own process and working directory, possibly on another machine)."""
    base = OmegaConf.to_container(cfg, resolve=True)
    sw = OmegaConf.to_container(check(base["sweep"]))
    sw["out"] = _abs(sw["out"])
    sw["arms"] = {a: _abs(p) for a, p in sw["arms"].items()}
    base["sweep"] = sw
    if not location.is_remote(base["data"]["shards_root"]):
        base["data"]["shards_root"] = _abs(base["data"]["shards_root"])
    return base


def prepare(base: dict) -> None:
    """Shards of every task and scheme written here, once, before any trial reads them; every
    arm's starting model must exist."""
    sw = base["sweep"]
    for scheme in sw["schemes"]:
        data = OmegaConf.create(base["data"])
        data.scheme = scheme
        for task in sw["tasks"]:
            plan.ensure_shards(data, task, base["size"]["expt"])
        for arm, init in sw["arms"].items():
            if init and not checkpoint.exists(init.format(scheme=scheme)):
                raise FileNotFoundError(f"sweep arm {arm!r}: no exported model at {init.format(scheme=scheme)} "
                                        f"(run the phase that writes it, with data.scheme={scheme})")
            if init:
                checkpoint.load_exported(init.format(scheme=scheme))  # damaged or foreign: fail before any trial


def start_ray(sw: dict):
    import ray

    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    if sw["address"]:
        try:
            ray.init(address=sw["address"], log_to_driver=False)
        except ConnectionError as e:
            mode = os.environ.get("RAY_AUTH_MODE", "unset")
            raise ConnectionError(f"sweep.address={sw['address']}: could not join that Ray cluster ({e}). A cluster "
                                  f"started with `ray start` uses token authentication by default; join it with "
                                  f"RAY_AUTH_MODE=token and its token in ~/.ray/auth_token or RAY_AUTH_TOKEN "
                                  f"(RAY_AUTH_MODE is {mode} here)") from e
    else:
        # address="local": a Ray of its own, never the last cluster `ray start` left on this machine
        ray.init(address="local", num_cpus=sw["num_cpus"], include_dashboard=sw["dashboard"],
                 dashboard_host=sw["dashboard_host"], log_to_driver=False, configure_logging=False)
        if sw["dashboard"]:
            print(f"Ray dashboard: http://{sw['dashboard_host']}:8265 (token: ~/.ray/auth_token, or run with "
                  f"RAY_AUTH_MODE=disabled on a machine only you use)", flush=True)
    return ray


def run_sweep(cfg) -> dict:
    from ray import tune

    from mpa_dist.report.audit import audit_export
    from mpa_dist.report.sweep_report import write_report
    from mpa_dist.tune.progress import FitClock, Progress
    from mpa_dist.tune.trial import run_trial

    base = base_config(cfg)
    sw = base["sweep"]
    out = Path(sw["out"])
    out.mkdir(parents=True, exist_ok=True)
    prepare(base)
    ray = start_ray(sw)
    try:
        trainable = tune.with_resources(tune.with_parameters(run_trial, base=base),
                                        {"cpu": sw["cpus_per_trial"], "gpu": sw["gpus_per_trial"]})
        ft = base["finetune"]
        evals = (ft["epochs"] if ft["epochs"] else math.ceil(base["steps"] / base["eval_every"])) + 2  # + lp's report
        scheduler = GroupedASHA("score", "min", max_t=evals, grace_period=sw["grace_period"],
                                reduction_factor=sw["reduction_factor"])
        clock = FitClock(out)
        configs = len(draw(sw["space"], sw["num_samples"], sw["space_seed"]))
        progress = Progress(len(sw["arms"]) * len(cells(sw)) * configs, len(sw["tasks"]), clock)
        run_config = tune.RunConfig(name="tune", storage_path=str(out), verbose=0, callbacks=[progress],
                                    failure_config=tune.FailureConfig(max_failures=sw["max_failures"]))
        if sw["resume"] and tune.Tuner.can_restore(str(out / "tune")):
            tuner = tune.Tuner.restore(str(out / "tune"), trainable, resume_errored=True)
        else:
            tuner = tune.Tuner(trainable, param_space=param_space(sw), run_config=run_config,
                               tune_config=tune.TuneConfig(scheduler=scheduler, metric="score", mode="min",
                                                               reuse_actors=True))
        grid = tuner.fit()
        wall = clock.save()
        resources, address = ray.cluster_resources(), ray.get_runtime_context().gcs_address
        slots = int(resources.get("CPU", 1) // sw["cpus_per_trial"])
        if sw["gpus_per_trial"]:
            slots = min(slots, int(resources.get("GPU", 0) // sw["gpus_per_trial"]))
        trials = _trials(grid)
        best = _best_per_group(trials)
        scored, fitted = _score_and_fit_baselines(ray, base, out, best)
    finally:
        ray.shutdown()
    audits = [audit_export(b["model"]) for b in best]
    busy = float(trials["seconds"].sum())
    info = {"wall_s": wall, "slots": slots, "trial_seconds": busy, "utilisation": busy / (wall * slots),
            "trials": len(trials), "failed": int(trials["error"].sum()), "groups": len(best),
            "ray_address": address if sw["address"] else "local"}
    for b in best:  # found by name: sweep/best/<task>-<arm>-<scheme>-s<seed>/model.{safetensors,json}
        b["model"] = _publish(out, b)
    rows = [_row(b, s) | {"exposed": a["exposed"], "eval_compounds": a["evaluation_compounds"]}
            for b, s, a in zip(best, scored, audits)]
    rows += [f["row"] for f in fitted]
    parity = [s | b for b, s in zip(best, scored)] + [
        f | {"task": f["row"]["task"], "arm": f["row"]["arm"], "scheme": f["row"]["split"], "seed": f["row"]["seed"]}
        for f in fitted]
    _write_exposure(out, best, audits)
    info["exposed"] = sum(a["exposed"] for a in audits)
    info["privileged"] = bool(base["data"]["privileged"])
    report = write_report(out, rows, parity, trials, info, base)
    print(report, flush=True)
    print(f"\nsweep: {info['trials']} trials ({info['failed']} failed) in {wall:.0f} s of fitting on {slots} slots; "
          f"sum of trial times / (wall x slots) = {info['utilisation']:.2f}; report: {out / 'report.md'}", flush=True)
    (out / "sweep.json").write_text(json.dumps(info, indent=1))
    return info


def baseline_cells(sw: dict, best: list[dict]) -> list[tuple[str, str, str, int]]:
    """(baseline, task, scheme, seed) to fit: every baseline in every group the model arms have, Chemprop only on
    molecular tasks and, with sweep.chemprop_cells, only in those schemes and seeds."""
    from mpa_dist.baselines import applies

    groups = sorted({(b["task"], b["scheme"], b["seed"]) for b in best})
    chemprop = sw.get("chemprop_cells")
    return [(arm, t, sc, sd) for t, sc, sd in groups for arm in sw["baselines"] if applies(arm, t)
            and (arm != "chemprop" or chemprop is None or sd in chemprop.get(sc, []))]


def once(path: str, fn, *args):
    """fn(*args), computed once: kept at `path` (pickle, written whole) and read back by a resumed sweep."""
    p = Path(path)
    if p.exists():
        with open(p, "rb") as f:
            return pickle.load(f)
    value = fn(*args)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p.with_suffix(".tmp"), "wb") as f:
        pickle.dump(value, f)
    p.with_suffix(".tmp").replace(p)
    return value


def _score_and_fit_baselines(ray, base: dict, out: Path, best: list[dict]) -> tuple[list[dict], list[dict]]:
    """Every group's best model scored once on test, and the baselines fitted, in parallel on the Ray slots; each
    result kept under scored/ and baselines/ so that a resumed sweep does not compute it again."""
    from mpa_dist.baselines import run_baseline
    from mpa_dist.tune.testing import score_export

    sw = base["sweep"]
    remote = ray.remote(num_cpus=min(1, sw["cpus_per_trial"]))(once)
    # the scored model's trial folder is part of the name: a group whose best changed is scored again
    pending = [remote.remote(str(out / "scored" / f"{best_name(b['task'], b['arm'], b['scheme'], b['seed'])}-"
                                                  f"{Path(b['trial_dir']).name}.pkl"),
                             score_export, b["model"], base, b["task"], b["scheme"]) for b in best]
    todo = baseline_cells(sw, best)
    pending_baselines = [remote.remote(str(out / "baselines" / f"{best_name(t, a, sc, sd)}.pkl"), run_baseline, a,
                                       base, t, sc, sd) for a, t, sc, sd in todo]
    n, t0 = len(pending) + len(pending_baselines), time.time()
    left, done = list(pending + pending_baselines), 0
    while left:
        ready, left = ray.wait(left, num_returns=1)
        done += 1
        if done % 20 == 0 or not left:
            print(f"sweep: test scores and baselines {done} of {n} done ({time.time() - t0:.0f} s)", flush=True)
    return ray.get(pending), ray.get(pending_baselines)


def best_name(task: str, arm: str, scheme: str, seed: int) -> str:
    return f"{task}-{arm}-{scheme}-s{seed}"


def _publish(out: Path, b: dict) -> str:
    """The group's selected model copied to sweep/best/<name>/model.*; its path relative to the sweep
    folder (the folder can be moved)."""
    dst = checkpoint.copy_export(b["model"], out / "best" / best_name(b["task"], b["arm"], b["scheme"], b["seed"]))
    return str(dst.relative_to(out))


def _write_exposure(out: Path, best: list[dict], audits: list[dict]) -> None:
    """exposure.json: the audit of every selected model, by source and label."""
    items = [{"task": b["task"], "arm": b["arm"], "scheme": b["scheme"], "seed": b["seed"], **a}
             for b, a in zip(best, audits)]
    (out / "exposure.json").write_text(json.dumps(items, indent=1))


def _trials(grid) -> pd.DataFrame:
    rows = []
    for r in grid:
        c, m = flat(r.config), r.metrics or {}
        rows.append({"task": c["task"], "arm": c["arm"], "scheme": c["scheme"], "seed": c["seed"],
                     **{f"hp:{k}": v for k, v in c["hp"].items()},
                     "best_score": m.get("best_score", math.inf), "seconds": m.get("seconds", 0.0),
                     "step": m.get("step", 0), "done": bool(m.get("done")), "error": r.error is not None,
                     "trial_dir": m.get("trial_dir")})
    return pd.DataFrame(rows)


def _best_per_group(trials: pd.DataFrame) -> list[dict]:
    """The trial with the lowest validation score in each group; its best export."""
    best = []
    ok = trials[~trials["error"] & trials["trial_dir"].notna()]
    for _, g in ok.groupby(list(GROUP), sort=True):
        row = g.loc[g["best_score"].idxmin()].to_dict()
        d = Path(row["trial_dir"])
        row["model"] = str(d / "best" if checkpoint.exists(d / "best") else d / "model")
        best.append(row)
    return best


def _row(b: dict, s: dict) -> dict:
    m, name = s["metrics"], s["output"]
    row = {"task": b["task"], "arm": b["arm"], "split": b["scheme"], "seed": b["seed"],
           "mae": m.get(f"mae/{name}", math.nan), "rmse": m.get(f"rmse/{name}", math.nan),
           "accuracy": m.get(f"accuracy/{name}", math.nan), "n_test": m.get(f"count/{name}", 0),
           "unit": s["unit"], "val_score": b["best_score"], "steps": b["step"], "model": b["model"]}
    row.update({k: v for k, v in b.items() if k.startswith("hp:")})
    return row

