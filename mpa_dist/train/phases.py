"""What differs between the three phases, one object each: the data a phase reads, the heads it
builds, how it starts from its checkpoint, its budget, how it validates and what it returns at
the end. The Trainer (mpa_dist/train/trainer.py) runs any of them on one code path.

Pre-training: first-principles labels, one head per (label, source). Mid-training: the
training splits of the experimental tasks plus a share of first-principles data that may grow
on a schedule, one head per (label, source). Post-training: one head for one task on a chosen
checkpoint (carried over from the mid-trained head of the same task where there is one, else
fresh), with a fine-tuning strategy, early stopping on validation and the test split scored once.
"""

from __future__ import annotations

from omegaconf import open_dict

from mpa_dist.train import plan


class Phase:
    """Pre- and mid-training: every (label, source) of the phase's sources, a fixed step budget,
    validation on `eval_batches` batches, the last model kept."""

    selects_on_validation = False  # keeps the best model on validation and stops early

    def __init__(self, cfg):
        self.cfg = cfg

    def configure(self, cfg) -> None:
        """Config the phase derives from other keys, before validation and the shards step."""

    def model_config(self, model_cfg: dict) -> dict:
        """The backbone's config: the checkpoint's (or the phase's own when it starts from nothing)."""
        return model_cfg

    def heads(self, tasks: dict, srcs: list, dft: list) -> list[dict]:
        return plan.heads_for(dft + srcs)

    def start(self, model, heads: list[dict], init_state: dict, init_meta) -> list[str]:
        """Weights the phase carries over beyond those whose names match (their keys)."""
        return []

    def budget(self, trainer, model, init_meta) -> tuple[int, int, dict | None]:
        """(total steps, steps between validations, the fitted head of lp/lp_ft or None)."""
        return self.cfg.steps, self.cfg.eval_every, None

    def eval_batches(self) -> int:
        return self.cfg.eval_batches

    def end(self, trainer) -> dict:
        """The validation metrics of the last model: those of the loop's pass at the last step (the same
        model and batches: a second pass cost ~5-10 s a phase in the demo), else a pass now."""
        step, val = getattr(trainer, "last_val", (None, None))
        return {"val": val if step == trainer.step else trainer.evaluate("val")}


class Posttrain(Phase):
    """One task: its head, a strategy, up to `finetune.epochs` (or `steps`) with early stopping on
    the whole validation split, the best model on validation scored once on test."""

    selects_on_validation = True

    def configure(self, cfg) -> None:
        if not cfg.finetune.task:
            raise ValueError("post-training needs finetune.task=<catalogue task or your CSV>")
        with open_dict(cfg):
            cfg.data.sources = {cfg.finetune.task: {"limit": cfg.size.expt}}

    def model_config(self, model_cfg: dict) -> dict:
        """finetune.readout_layers: the task's head reads every layer's features, or the last layer's
        (mpa_dist/model/backbone.py); unset, the checkpoint's choice."""
        layers = self.cfg.finetune.readout_layers
        return {**model_cfg, "readout_layers": layers} if layers else model_cfg

    def heads(self, tasks: dict, srcs: list, dft: list) -> list[dict]:
        ft = self.cfg.finetune
        task = ft.task
        if task not in tasks:  # a user file: its one labelled column is the task
            mine = [t["label"] for t in srcs[0].manifest["tasks"]]
            if len(mine) != 1:
                raise ValueError(f"finetune.task={task}: post-training needs one label, and this file has "
                                 f"{len(mine)} ({', '.join(mine) or 'none'}): keep one label column")
            task = mine[0]
        h = {"name": tasks[task]["label"], "readout": ft.readout or tasks[task]["readout"]}
        h.update(plan.head_range({**tasks[task], "readout": h["readout"]}))
        if h["readout"] == "classification":
            h["num_classes"] = 2
        if ft.ensemble > 1:
            h["ensemble"] = ft.ensemble
        return [h]

    def start(self, model, heads: list[dict], init_state: dict, init_meta) -> list[str]:
        if self.cfg.finetune.head != "carry" or init_meta is None:
            return []
        return _carry_head(model, init_state, init_meta.heads, heads[0], self.cfg.finetune.task)

    def budget(self, trainer, model, init_meta) -> tuple[int, int, dict | None]:
        ft = self.cfg.finetune
        total, every = self.cfg.steps, self.cfg.eval_every
        probe = trainer.fit_probe(model, init_meta) if ft.strategy in ("lp", "lp_ft") else None
        if ft.epochs:
            per_epoch = probe["steps_per_epoch"] if probe else trainer.train_batches_per_epoch()
            total, every = ft.epochs * per_epoch, per_epoch
        if ft.strategy == "lp":
            total = 0
        return total, every, probe

    def eval_batches(self) -> int:
        return 0  # it selects and stops on validation: always the whole split, never a few batches

    def end(self, trainer) -> dict:
        return trainer.finish()


def phase_of(cfg) -> Phase:
    return Posttrain(cfg) if cfg.phase == "posttrain" else Phase(cfg)


def _carry_head(model, state: dict, init_heads: list[dict], head: dict, task: str) -> list[str]:
    """Post-training's head starts from the checkpoint's head for the same task and source
    (`label@task`, which mid-training trained on this task's training split) when it has one
    with the same readout; otherwise it stays fresh (direct fine-tuning, from scratch). An ensemble
    head carries it into every member (they then differ by the order they see the data in)."""
    name = f"{head['name']}@{task}"
    if not any(h["name"] == name and h.get("readout") == head["readout"] for h in init_heads):
        return []
    src, dst = f"heads.{name}.", f"heads.{head['name']}."
    own = model.state_dict()
    carried = {k[len(src):]: v for k, v in state.items() if k.startswith(src)}
    if head.get("ensemble", 1) > 1:
        carried = {(k if k.startswith("norm.") else f"members.{i}.{k}"): v
                   for i in range(head["ensemble"]) for k, v in carried.items()}
    carry = {dst + k: v for k, v in carried.items()}
    if not carry or any(k not in own or own[k].shape != v.shape for k, v in carry.items()):
        return []
    model.load_state_dict(carry, strict=False)
    return sorted(carry)
