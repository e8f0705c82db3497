"""What a phase launcher does: build the trainer, train, export, evaluate, tear down."""

from __future__ import annotations

import json

from omegaconf import open_dict

from mpa_dist.train import distributed as dist


def run_phase(cfg, on_eval=None) -> dict:
    from mpa_dist.train.trainer import Trainer

    if cfg.phase == "posttrain":
        if not cfg.finetune.task:
            raise ValueError("post-training needs finetune.task=<catalogue task>")
        with open_dict(cfg):
            cfg.data.sources = {cfg.finetune.task: {"limit": cfg.size.expt}}
    trainer = Trainer(cfg, on_eval)
    speed = trainer.train()
    path = trainer.export()
    result = {"phase": cfg.phase, "run_dir": str(trainer.run_dir), "model": str(path), "step": trainer.step,
              "speed": speed}
    if cfg.phase == "posttrain":
        result.update(trainer.finish())
    else:
        result["val"] = trainer.evaluate("val")
    if dist.is_main():
        (trainer.run_dir / "result.json").write_text(json.dumps(result, indent=1))
        print(json.dumps({k: v for k, v in result.items() if k != "val"} | {"val": result.get("val")}, indent=1))
    return result
