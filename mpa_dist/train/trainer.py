"""The training engine shared by the three phases, under DeepSpeed (ZeRO 0-3) on one code path:
the Trainer builds its parts (run folder, sources, heads, model, budget, engine, resume), then
trains with validation, checkpoints and exports. What each phase does differently lives in
mpa_dist/train/phases.py; the shards it reads are made before it starts (plan.prepare_shards).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from mpa_dist.data.loader import build_loader
from mpa_dist.model import build_model
from mpa_dist.model.outputs import label_of
from mpa_dist.train import checkpoint, distributed as dist, finetune, lineage, phases, plan, resolvers, rng, schedule
from mpa_dist.train.evaluate import evaluate
from mpa_dist.train.logger import RunLogger
from mpa_dist.train.losses import output_losses
from mpa_dist.train.norms import apply_transforms, fit_norms
from mpa_dist.train.schema import validate


class BadLossError(RuntimeError):
    pass


class Trainer:
    """One phase's training, built from small parts in order (each a method below): the run folder,
    the sources (shards made before, by plan.prepare_shards), the heads and vocabulary, the model,
    the budget, the DeepSpeed engine, the resume. What differs between phases is self.phase
    (mpa_dist/train/phases.py)."""

    def __init__(self, cfg, on_eval=None):
        """on_eval(step, val_metrics, score, best): called after each validation pass (a sweep reports it);
        best is the run's best validation score so far, restored on resume."""
        self.cfg = cfg = validate(cfg)
        self.on_eval, self.phase = on_eval, phases.phase_of(cfg)
        self.device = dist.init(cfg.cluster.backend)
        rng.threads_and_seed(cfg)
        init_state, init_meta = checkpoint.load_exported(cfg.init_from) if cfg.init_from else ({}, None)
        lineage.check_parent(cfg, init_meta)
        self.parent = lineage.parent_of(cfg, init_meta)
        self.run_dir = self._run_folder()
        self.srcs, self.dft = self._sources()
        self.model_cfg = self.phase.model_config(init_meta.model if init_meta else
                                                 OmegaConf.to_container(cfg.model, resolve=True))
        self.cutoff, self.max_z = float(self.model_cfg["cutoff"]), int(self.model_cfg.get("max_z", 118))
        self.vocab = plan.extend_vocab(init_meta.source_vocab if init_meta else {}, self.srcs + self.dft,
                                       self.model_cfg.get("num_sources", 64))
        self.tasks = {**plan.task_specs(self.dft), **plan.task_specs(self.srcs)}
        self.transforms = {t["label"]: t["transform"] for t in self.tasks.values() if t["transform"] != "none"}
        self.heads = self.phase.heads(self.tasks, self.srcs, self.dft)
        model = self._model(init_state, init_meta)
        self.total, self.eval_every, self.probe = self.phase.budget(self, model, init_meta)
        if cfg.finetune.strategy == "lora":
            finetune.add_lora(model, cfg.finetune.lora_rank, cfg.finetune.lora_alpha)
        self.model = model
        self.engine, self.optimizer = self._engine(model)
        self.dtype = torch.float32  # inputs, labels and evaluation stay float32 (bf16 is autocast)
        self.ema = _ema(self.engine, cfg.ema_decay)
        self._resume()

    # ---- the parts, in the order __init__ builds them ---------------------------------
    def _run_folder(self) -> Path:
        """The run folder: refused if it holds a checkpoint of another config; its config and parent."""
        run_dir = Path(self.cfg.run_dir)
        lineage.check_resumable(run_dir, self.cfg, self.parent)
        if dist.is_main():
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(self.cfg))
            lineage.write_parent(run_dir, self.parent)
        return run_dir

    def _sources(self) -> tuple[list, list]:
        """The phase's sources and first-principles sources, read from shards that must exist."""
        d = self.cfg.data
        dft = plan.sources(plan.with_sources(d, d.dft_sources), write=False) if d.dft_sources else []
        return plan.sources(d, write=False), dft

    def _model(self, init_state: dict, init_meta):
        """The model with every matching weight of the checkpoint, the phase's carried-over weights,
        and the normalisation of the heads that start fresh (fitted on training data)."""
        model = build_model(self.model_cfg, self.heads)
        self.loaded = checkpoint.load_matching(model, init_state)
        self.loaded += self.phase.start(model, self.heads, init_state, init_meta)
        fresh = [h["name"] for h in self.heads if not any(k.startswith(f"heads.{h['name']}.") for k in self.loaded)]
        fit_norms(model, fresh, self._loader("train", "epoch", workers=0, all_ranks=True), self.transforms,
                  self.cfg.data.norm_samples, self.vocab)
        dist.broadcast_buffers(model)  # rank 0's statistics everywhere: DeepSpeed broadcasts parameters only
        return model

    def _engine(self, model):
        import deepspeed

        c = self.cfg
        groups = finetune.param_groups(model, c.finetune, c.optim.lr, c.optim.weight_decay, max(self.total, 1))
        opt = torch.optim.AdamW(groups, lr=c.optim.lr, betas=tuple(c.optim.betas))
        engine, optimizer, _, _ = deepspeed.initialize(model=model, optimizer=opt, config=self._ds_config())
        return engine, optimizer

    def _resume(self) -> None:
        """From the run folder's last checkpoint if there is one; else a fitted head (lp, lp_ft) is the
        model to beat: fine-tuning replaces it only if better on validation."""
        self.step, self.bad_in_row, self.bad_total, self.best, self.since_best = 0, 0, 0, math.inf, 0
        client = checkpoint.resume(self.engine, self.run_dir)
        if client:
            self._restore(client)
        elif self.probe:
            self.best = self.probe["score"]
            self.export(self.run_dir / "best")

    # ---- used by the phases ------------------------------------------------------------
    def fit_probe(self, model, init_meta) -> dict:
        """lp / lp_ft: the head fitted on the frozen backbone's cached features (mpa_dist/train/probe.py)."""
        from mpa_dist.train import probe

        c = self.cfg
        sha = init_meta.sha256 if init_meta else f"scratch-seed{c.seed}"  # a random backbone is never cached
        loader_of = lambda split: self._loader(split, "epoch", workers=0, all_ranks=True)
        feats = {split: probe.cached_features(model.backbone, loader_of, sha, [s.path for s in self.srcs], split,
                                              self.cutoff, write=init_meta is not None and dist.is_main(),
                                              readout_layers=model.backbone.readout_layers)
                 for split in ("train", "val")}
        score, epochs = probe.fit_head(model, feats["train"], feats["val"], self.vocab, self.transforms, c.finetune,
                                       c.loss, c.optim.weight_decay, c.seed, self.score)
        if dist.is_main():
            print(f"lp: head fitted on cached features in {epochs} epochs, validation score {score:.4g}", flush=True)
        return {"score": score, "epochs": epochs, "steps_per_epoch": len(feats["train"])}

    def train_batches_per_epoch(self) -> int:
        return sum(1 for _ in self._loader("train", "epoch", workers=0))

    def _ds_config(self) -> dict:
        c = self.cfg
        ds = {"train_micro_batch_size_per_gpu": 1, "gradient_accumulation_steps": c.optim.grad_accum,
              "gradient_clipping": c.optim.grad_clip, "steps_per_print": 10**9, "wall_clock_breakdown": False,
              "zero_optimization": {"stage": c.deepspeed.zero_stage},
              "zero_allow_untested_optimizer": True}
        if c.precision == "bf16":
            # bf16 autocast over fp32 weights (DeepSpeed's torch_autocast): e3nn's generated code keeps
            # float32 constants, so weights cast to bf16 ("bf16": enabled) would not run; autocast
            # casts per op, and the model keeps its readouts and derivatives in float32.
            ds["torch_autocast"] = {"enabled": True, "dtype": "bfloat16"}
        if c.deepspeed.offload_optimizer:
            ds["zero_optimization"]["offload_optimizer"] = {"device": "cpu"}
        ds.update(OmegaConf.to_container(c.deepspeed.extra))
        return ds

    def _weights(self, progress: float) -> list[float | None]:
        """Mixing weights: experimental and first-principles groups by the dft_share schedule."""
        srcs = self.srcs + self.dft
        if not self.dft:
            return [s.weight for s in srcs]
        start, end = self.cfg.data.dft_share
        stages = max(self.cfg.data.dft_stages, 1)
        share = start + (end - start) * min(int(progress * stages) / max(stages - 1, 1), 1.0)
        t = self.cfg.data.temperature

        def group(ss, total):
            sizes = [s.manifest["splits"]["train"]["num_written"] ** (1 / t) for s in ss]
            return [total * x / sum(sizes) for x in sizes]

        return group(self.srcs, 1 - share) + group(self.dft, share)

    def _loader(self, split: str, mode: str, workers: int | None = None, all_ranks: bool = False, seed: int = 0,
                weights: list | None = None):
        srcs = self.srcs + self.dft if split == "train" else self.srcs
        lc = plan.loader_config(self.cfg.data, srcs, split, mode, self.vocab, self.cutoff, seed, workers,
                                max_z=self.max_z)
        if weights is not None:
            for sc, w in zip(lc.sources, weights):
                sc.weight = w
        lc.split_nodes = not all_ranks
        return build_loader(lc)

    # ---- the loop -------------------------------------------------------------------
    def train(self) -> dict:
        c, total = self.cfg, self.total
        if self.probe and self.on_eval is not None:
            self.on_eval(self.step, {}, self.probe["score"], min(self.best, self.probe["score"]))
        if total == 0:
            return {}
        deadline = time.time() + c.finetune.max_seconds if c.finetune.max_seconds else math.inf
        log = RunLogger(self.run_dir, total, self.step, c.progress, list(self.model.output_kinds()))
        inv = {v: k for k, v in self.vocab.items()}
        it, metrics, resume = None, {}, self._data_resume()
        self.stage = None
        while self.step < total:
            s = int(self.step / total * max(c.data.dft_stages, 1)) if self.dft else 0
            if s != self.stage:  # a new loader when the mixture changes, or on (re)start
                exact = resume is not None and resume["stage"] == s
                self.stage, self.stage_start = s, resume["stage_start"] if exact else self.step
                it = iter(self._loader("train", "stream", seed=c.seed * 100003 + self.stage_start,
                                       weights=self._weights(self.stage_start / total)))
                self.consumed = 0
                for _ in range(resume["consumed"] if exact else 0):  # the batches drawn before the restart
                    next(it)
                    self.consumed += 1
                resume = None
            batch = next(it).to(self.device, self.dtype)
            self.consumed += 1
            apply_transforms(batch, self.transforms)
            self.engine.train()
            # forces and stress only for a batch that trains them: they cost a second backward through all of it
            out = self.engine(batch, derivatives=any(label_of(k) in batch.labels for k in self.model.derivative_of))
            loss, parts = output_losses(self.model, out, batch, self.vocab, c.loss.type, c.loss.delta,
                                        {"forces": c.loss.force_weight, "stress": c.loss.stress_weight})
            loss = loss + 0.0 * sum(v.sum() for v in out.values())  # every rank backpropagates through every head
            if dist.any_true(not bool(torch.isfinite(loss)), self.device):
                self._bad_step()
                continue
            self.bad_in_row = 0
            lr = schedule.apply(self.optimizer, self.step, total, c.optim)
            boundary = self.engine.is_gradient_accumulation_boundary()
            self.engine.backward(loss)
            self.engine.step()
            if boundary and self.ema is not None:
                self.ema.update_parameters(self.engine.module)
            self.step += 1
            log.batch(batch, parts, inv)
            log.bar.update(1)
            if self.step % c.log_every == 0 or self.step == total:
                gn = self.engine.get_global_grad_norm()
                metrics.update(log.flush(self.step, lr, None if gn is None else float(gn), self.device,
                                         self.bad_total, float(loss.detach())))
            late = time.time() > deadline
            if self.step % self.eval_every == 0 or self.step == total or late:
                val = self.evaluate("val")
                self.last_val = (self.step, val)
                log.scalars("val", val, self.step)
                stop = self._early_stop(val)
                if self.on_eval is not None:
                    self.on_eval(self.step, val, self.score(val), self.best)
                if stop or late:
                    break
            if self.step % c.ckpt_every == 0 or self.step == total:
                checkpoint.save(self.engine, self.run_dir, self.step, self._client_state())
        log.close()
        return metrics

    def _data_resume(self) -> dict | None:
        """Where the data stream stood at the checkpoint, if this run can continue it exactly: the same
        ranks and loader workers (each reads its own part of the stream)."""
        pos = getattr(self, "data_position", None)
        if not pos:
            return None
        now = {"world": dist.world(), "workers": self.cfg.data.num_workers}
        if {k: pos[k] for k in now} == now:
            return pos
        note = (f"resumed with {now['world']} rank(s) x {now['workers']} loader worker(s) where the checkpoint was "
                f"written with {pos['world']} x {pos['workers']}: the data position cannot be restored exactly, so "
                f"the stream restarts from a new seed at step {self.step} (stream mode resamples shards with "
                f"replacement: no epoch is cut short or repeated, but the batches differ from an uninterrupted run)")
        if dist.is_main():
            print(note, flush=True)
            with open(self.run_dir / "resume.log", "a") as f:
                f.write(note + "\n")
        return None

    def _bad_step(self):
        self.bad_in_row += 1
        self.bad_total += 1
        if self.bad_in_row >= self.cfg.max_bad_steps:
            checkpoint.save(self.engine, self.run_dir, self.step, self._client_state())
            raise BadLossError(f"{self.bad_in_row} non-finite losses in a row at step {self.step}; the last good "
                               f"state is saved in {self.run_dir / checkpoint.CKPT_DIR}")

    @staticmethod
    def score(val: dict) -> float:
        """Lower is better: the mean validation MAE (training units), or minus the accuracy."""
        maes = [v for k, v in val.items() if k.startswith("mae/")]
        accs = [v for k, v in val.items() if k.startswith("accuracy/")]
        return float(np.mean(maes)) if maes else -float(np.mean(accs)) if accs else math.inf

    def _early_stop(self, val: dict) -> bool:
        """Post-training keeps the best validation model and stops after `patience` evaluations without gain."""
        if not self.phase.selects_on_validation:
            return False
        score = self.score(val)
        if score < self.best:
            self.best, self.since_best = score, 0
            self.export(self.run_dir / "best")
            return False
        self.since_best += 1
        return self.since_best >= self.cfg.finetune.patience

    def evaluate(self, split: str) -> dict:
        module = self.ema.module if self.ema is not None else self.engine.module
        return evaluate(module, self._loader(split, "epoch"), self.device, self.dtype, self.vocab, self.transforms,
                        self.phase.eval_batches())

    # ---- state ----------------------------------------------------------------------
    def _client_state(self) -> dict:
        return {"step": self.step, "bad_total": self.bad_total, "best": self.best, "since_best": self.since_best,
                "vocab": self.vocab, "rng": rng.state(),
                "data": {"stage": getattr(self, "stage", None), "stage_start": getattr(self, "stage_start", 0),
                         "consumed": getattr(self, "consumed", 0), "world": dist.world(),
                         "workers": self.cfg.data.num_workers},
                "ema": None if self.ema is None else {k: v.cpu() for k, v in self.ema.state_dict().items()}}

    def _restore(self, client: dict):
        self.step, self.bad_total = client["step"], client["bad_total"]
        self.best, self.since_best = client["best"], client["since_best"]
        rng.set_state(client["rng"])
        self.data_position = client.get("data")
        if self.ema is not None and client.get("ema"):
            self.ema.load_state_dict(client["ema"])
        if dist.is_main():
            pos = client.get("data") or {}
            print(f"resumed {self.cfg.phase} from step {self.step} in {self.run_dir}; the data stream continues after "
                  f"the {pos.get('consumed', '?')} batches its loader had drawn since step {pos.get('stage_start', '?')}",
                  flush=True)

    def finish(self) -> dict:
        """Post-training: the best model on validation, rebuilt from its export without DeepSpeed,
        evaluated once on the test split (unless finetune.test=false: a sweep's trials, whose
        best is tested once after the sweep); the row is appended to finetune.results."""
        best = self.run_dir / "best"
        model, _ = checkpoint.load_model(best if checkpoint.exists(best) else self.run_dir / "model", self.device)
        ev = lambda split: evaluate(model, self._loader(split, "epoch"), self.device, torch.float32, self.vocab,
                                    self.transforms)
        task = self.heads[0]["name"]
        out = {"task": task, "unit": self.tasks[task]["unit"], "transform": self.tasks[task]["transform"],
               "init_from": self.cfg.init_from, "arm": resolvers.arm_of(self.cfg.init_from),
               "run_dir": str(self.run_dir), "strategy": self.cfg.finetune.strategy,
               "readout": self.heads[0]["readout"], "scheme": self.cfg.data.scheme, "seed": self.cfg.seed,
               "steps": self.step, "best_val_score": self.best, "val": ev("val")}
        if self.cfg.finetune.test:
            out["test"] = ev("test")
        if self.cfg.finetune.results and dist.is_main():
            with open(self.cfg.finetune.results, "a") as f:
                f.write(json.dumps(out) + "\n")
        return out

    def export(self, path: Path | None = None) -> Path:
        """The consolidated fp32 model (EMA weights if enabled), loadable without DeepSpeed."""
        path = path or self.run_dir / "model"
        if self.ema is not None:
            state = ema_state(self.ema, self.engine.module)
        else:
            state = checkpoint.consolidated_state(self.engine, self.run_dir)
        if self.cfg.finetune.strategy == "lora":
            state = finetune.merge_lora(self.engine.module)
        meta = {"model": self.model_cfg, "heads": self.heads, "source_vocab": self.vocab, "phase": self.cfg.phase,
                "step": self.step, "tasks": self.tasks, "transforms": self.transforms,
                "split_scheme": self.cfg.data.scheme, "data": [s.dataset for s in self.srcs + self.dft],
                **lineage.export_fields(self.cfg, self.parent, self.srcs + self.dft)}
        checkpoint.export(state, meta, path)
        dist.barrier()
        return path


def _ema(engine, decay: float):
    if not decay:
        return None
    if engine.zero_optimization_stage() == 3:
        raise ValueError("ema_decay needs the full weights on every rank: use ZeRO stage <= 2")
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    ema = AveragedModel(engine.module, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=False)
    # AveragedModel deep-copies the model and pairs its tensors with the model's by position. e3nn's
    # code-generated modules (the lmax-1 polarizability head's TensorSquare) are copied through pickle, and
    # torch.fx's unpickling registers their tensor constants as buffers that the original holds as plain
    # attributes: made attributes again, or the pairing shifts (a shape error at the first update, or a
    # silent mix where the shapes agree)
    own = dict(engine.module.named_modules())
    for name, m in ema.module.named_modules():
        for extra in [b for b in m._buffers if b not in own[name]._buffers]:
            setattr(m, extra, m._buffers.pop(extra))
    names = lambda mod: [n for n, _ in mod.named_parameters()] + [n for n, _ in mod.named_buffers()]
    if names(ema.module) != names(engine.module):
        raise RuntimeError("the EMA's copy of the model lists other tensors than the model: "
                           f"{sorted(set(names(ema.module)) ^ set(names(engine.module)))[:5]}")
    return ema


def ema_state(ema, module) -> dict:
    """The model's state (float32, on the CPU) with each parameter replaced by its average, by name."""
    avg = dict(ema.module.named_parameters())
    return {k: avg.get(k, v).detach().float().cpu() for k, v in module.state_dict().items()}
