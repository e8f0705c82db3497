"""What a phase launcher does: the shards step, then build the trainer, train, export, end the phase
(evaluate, or post-training's test)."""

from __future__ import annotations

import json

from mpa_dist.train import distributed as dist


def run_phase(cfg, on_eval=None) -> dict:
    from mpa_dist.train import phases, plan
    from mpa_dist.train.trainer import Trainer

    phases.phase_of(cfg).configure(cfg)  # e.g. post-training's sources from finetune.task
    plan.prepare_shards(cfg)  # the shards step: written once, before the trainer reads them
    trainer = Trainer(cfg, on_eval)
    speed = trainer.train()
    path = trainer.export()
    result = {"phase": cfg.phase, "run_dir": str(trainer.run_dir), "model": str(path), "step": trainer.step,
              "speed": speed}
    result.update(trainer.phase.end(trainer))
    if dist.is_main():
        (trainer.run_dir / "result.json").write_text(json.dumps(result, indent=1))
        print(json.dumps({k: v for k, v in result.items() if k != "val"} | {"val": result.get("val")}, indent=1))
    return result
