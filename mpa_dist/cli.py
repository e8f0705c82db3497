"""The console commands (`mpa-pretrain`, `mpa-predict`, ...), each a Hydra app over the configs
shipped inside the package (mpa_dist/configs). `launch/<name>.py` are thin scripts over the same
functions, so `deepspeed launch/pretrain.py ...` and `mpa-pretrain ...` run one code path.

Every command takes Hydra overrides (`key=value`, `group=option`), `--cfg job` (print the composed
config), `--config-dir <dir>` (your own configs searched first) and `--help` (what it does, its
groups, keys and examples). A required key left out is a one-line error naming it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

CONFIGS = Path(str(resources.files("mpa_dist") / "configs"))


@dataclass(frozen=True)
class Command:
    config: str  # the primary config in mpa_dist/configs
    about: str
    examples: tuple[str, ...]


COMMANDS = {
    "catalog": Command("catalog", "Print the catalogue of datasets and tasks (sources, licences, counts, units), or "
                       "one task in detail.", ("mpa-catalog", "mpa-catalog task=boiling_point",
                                           "mpa-catalog kind=experimental input=composition format=json")),
    "make_shards": Command("make_shards", "Write a catalogue dataset, or your own file, to WebDataset shards per "
                           "split.", ("mpa-make-shards dataset=qm9 limit=2000 out=shards/qm9-2k",
                                      "mpa-make-shards dataset=my_data.csv scheme=ood conformers=2")),
    "pretrain": Command("pretrain", "Pre-training on first-principles data (energies, forces, stresses, computed "
                        "properties).", ("mpa-pretrain experiment=smoke",
                                         "mpa-pretrain experiment=demo name=demo",
                                         "deepspeed --num_gpus 8 launch/pretrain.py experiment=full deepspeed=zero2")),
    "midtrain": Command("midtrain", "Mid-training: the experimental tasks' training splits aligned with a growing "
                        "share of first-principles data, one head per source.",
                        ("mpa-midtrain experiment=demo name=demo",
                         "mpa-midtrain experiment=smoke init_from=runs/x/pretrain/model")),
    "posttrain": Command("posttrain", "Post-training of one task (finetune.task=) from a checkpoint, or a sweep "
                         "over tasks x arms x seeds with Ray Tune (sweep=).",
                         ("mpa-posttrain experiment=demo name=demo finetune.task=boiling_point finetune=lp",
                          "mpa-posttrain experiment=demo name=demo finetune.task=my_data.csv",
                          "mpa-posttrain experiment=demo name=demo sweep=demo")),
    "predict": Command("predict", "Predictions of an exported model (or an ensemble) for SMILES, formulas or "
                       "structure files, written as CSV with one row per input.",
                       ("mpa-predict ckpt=runs/demo/sweep/best/boiling_point-mpa-random-s0 smiles=[CCO,c1ccccc1O]",
                        "mpa-predict ckpt=<model> input=mols.csv smiles_column=SMILES output=pred.csv",
                        "mpa-predict ckpt=[runs/a/model,runs/b/model] input='cifs/*.cif' device=auto")),
    "release": Command("release", "The shipped model: a finished sweep's selected MPA models (one per task, on one "
                       "frozen backbone) merged into one export, with per-property errors, licences and the model "
                       "card.",
                       ("mpa-release sweep_dir=runs/every_task/sweep out=mpa_dist/pretrained",
                        "mpa-release sweep_dir=runs/demo/sweep out=my_release card=null",
                        "mpa-release sweep_dir=runs/demo/sweep out=my_release tasks=[boiling_point,expt_gap]")),
    "audit": Command("audit", "The exposure audit: evaluation compounds of a model's task found in the training data "
                     "of its whole chain, by phase, source and label.",
                     ("mpa-audit ckpt=runs/demo/sweep/best/boiling_point-mpa-random-s0/model",
                      "mpa-audit ckpt=runs/demo/midtrain-random/model eval=shards/boiling_point-random/n2000/k2")),
    "scaling": Command("scaling", "The scaling study: MPA's gain over direct fine-tuning against the first-principles "
                       "data aligned in mid-training.", ("mpa-scaling name=scaling pretrained=runs/demo/pretrain/model",
                                                         "mpa-scaling name=scaling budget=steps", "mpa-scaling study=gpu name=scaling_gpu")),
}


def _prog(name: str) -> str:
    arg0 = Path(sys.argv[0]).name
    return arg0 if arg0.startswith("mpa-") or arg0.endswith(".py") else f"mpa-{name.replace('_', '-')}"


def _defaults(path: Path) -> list[str]:
    """The config groups a primary config selects (its own defaults list and the files it includes)."""
    import yaml

    groups = []
    for item in (yaml.safe_load(path.read_text()) or {}).get("defaults", []):
        if isinstance(item, str):
            if not item.startswith("_self_") and (CONFIGS / f"{item}.yaml").is_file():
                groups += _defaults(CONFIGS / f"{item}.yaml")
            continue
        (key, _), = item.items()
        if not key.startswith("override ") and (CONFIGS / key).is_dir():
            groups.append(key)
    return groups


def _own_keys(path: Path) -> list[str]:
    """A config file's lines without its defaults list and hydra node: its keys with their comments."""
    out, skip = [], False
    for line in path.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            skip = line.split(":")[0] in ("defaults", "hydra")
        if not skip and line.strip():
            out.append("  " + line)
    return out


def help_text(name: str) -> str:
    cmd = COMMANDS[name]
    prog = _prog(name)
    primary = CONFIGS / f"{cmd.config}.yaml"
    lines = [f"{prog}: {cmd.about}", "", "Usage: " + f"{prog} [key=value ...] [group=option ...]", "", "Examples:"]
    lines += [f"  {e}" for e in cmd.examples]
    groups = _defaults(primary)
    if groups:
        lines += ["", "Config groups (group=option; `group.key=value` sets one key of it):"]
        for g in groups:
            options = sorted(p.stem for p in (CONFIGS / g).glob("*.yaml") if not p.stem.startswith("_"))
            lines.append(f"  {g:<11} {' | '.join(options)}")
    includes = [CONFIGS / f"{i}.yaml" for i in ("_phase",) if groups and (CONFIGS / f"{i}.yaml").is_file()]
    lines += ["", f"Keys (mpa_dist/configs/{primary.name}" + "".join(f", {p.name}" for p in includes) + "):"]
    for p in [primary, *includes]:
        lines += _own_keys(p)
    lines += ["", f"`{prog} --cfg job` prints the whole composed config; `--config-dir <dir>` searches your own "
                  "configs first; `--hydra-help` lists Hydra's own flags."]
    return "\n".join(lines)


def _require(cfg, prog: str) -> None:
    """A required key (`???`) left out: one line naming it, not a traceback."""
    from omegaconf import OmegaConf

    missing = sorted(k for k in OmegaConf.missing_keys(cfg) if not k.startswith("hydra"))
    if missing:
        raise SystemExit(f"{prog}: missing required key{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(k + '=' for k in missing)} ({prog} --help shows the keys and examples)")


def _app(name: str, run) -> None:
    import hydra

    import mpa_dist.train.resolvers  # noqa: F401  (config resolvers, registered before Hydra resolves)
    from mpa_dist.train.distributed import strip_launcher_args

    strip_launcher_args()  # --local_rank=N from the deepspeed launcher is not a Hydra override
    if any(a in ("--help", "-h") for a in sys.argv[1:]):
        print(help_text(name))
        return
    prog = _prog(name)

    @hydra.main(config_path="configs", config_name=COMMANDS[name].config, version_base="1.3")
    def main(cfg):
        _require(cfg, prog)
        return run(cfg)

    main()


def _phase(cfg):
    from mpa_dist import pretrained
    from mpa_dist.train.run import run_phase

    init = cfg.get("init_from")
    if init is not None:
        if str(init) == pretrained.NAME:  # init_from=pretrained: the shipped model
            try:
                cfg.init_from = pretrained.init_from(init)
            except FileNotFoundError as e:
                raise SystemExit(f"{_prog(cfg.phase)}: {e}") from None
        if cfg.init_from == pretrained.model_path() and not cfg.get("sweep"):
            print(f"{cfg.phase}: starting from the model shipped inside the package, {cfg.init_from} (mid-trained: "
                  f"the MPA arm); init_from=<export> starts from another", flush=True)

    if cfg.phase == "posttrain" and cfg.get("sweep"):
        from mpa_dist.tune.sweep import run_sweep

        return run_sweep(cfg)
    return run_phase(cfg)


def _catalog(cfg):
    import json
    import warnings

    from mpa_dist.data.catalog import registry
    from mpa_dist.data.catalog.format import table, task_detail

    warnings.filterwarnings("ignore", message="No Pauling electronegativity")  # pymatgen, noble gases
    if cfg.task:
        print(task_detail(cfg.task))
        return
    if cfg.format not in ("table", "json"):
        raise SystemExit(f"mpa-catalog: format must be 'table' or 'json', not {cfg.format!r}")
    items = [i for i in registry.catalog(rebuild=cfg.rebuild) if (cfg.kind is None or i["kind"] == cfg.kind)
             and (cfg.input is None or i["input"] == cfg.input)]
    print(json.dumps(items, indent=1) if cfg.format == "json" else table(items))


def _make_shards(cfg):
    import json

    from mpa_dist.data.shards import make_shards

    m = make_shards(cfg.dataset, cfg.out, limit=cfg.limit, scheme=cfg.scheme, maxcount=cfg.maxcount,
                    min_shards=cfg.min_shards, workers=cfg.workers, conformers=cfg.conformers, seed=cfg.seed,
                    progress=cfg.progress, privileged=cfg.privileged)
    summary = {k: m[k] for k in ("dataset", "num_input", "num_written", "num_rejected", "num_excluded",
                                  "num_held_out", "num_records", "seconds")}
    print(json.dumps(summary | {"shards": len(m["shards"]), "out": str(cfg.out)}))


def _predict(cfg):
    from mpa_dist.predict.run import run_predict  # torch, RDKit: only once Hydra has a config to run

    return run_predict(cfg)


def _release(cfg):
    from omegaconf import OmegaConf

    from mpa_dist.predict.release import ReleaseError, build_release, model_card, properties_text

    tasks = OmegaConf.to_container(cfg.tasks) if OmegaConf.is_list(cfg.tasks) else cfg.tasks
    try:
        rel = build_release(cfg.sweep_dir, cfg.out, cfg.arm, cfg.scheme, int(cfg.seed), tasks, float(cfg.max_mb))
    except ReleaseError as e:
        raise SystemExit(f"mpa-release: {e}") from None
    print(properties_text(rel))
    w = rel["weights"]
    print(f"release: {len(rel['heads'])} heads on one backbone, {w['bytes'] / 1e6:.2f} MB, sha256 {w['sha256'][:16]} "
          f"-> {cfg.out}")
    if cfg.card:
        card = Path(cfg.card)
        if card.parent.is_dir():
            card.write_text(model_card(rel))
            print(f"model card -> {card}")
        else:
            print(f"model card not written: {card.parent} is not a folder (`mpa-predict ckpt={cfg.out} card=true` "
                  f"prints it)")


def _audit(cfg):
    import json

    from mpa_dist.report.audit import audit_export, summary_line

    a = audit_export(cfg.ckpt, cfg.eval)
    print(json.dumps(a, indent=1))
    print(summary_line(a))
    if cfg.strict and a["exposed"]:
        raise SystemExit(1)


def _scaling(cfg):
    from mpa_dist.tune.scaling import run_scaling

    return run_scaling(cfg)


def catalog() -> None:
    _app("catalog", _catalog)


def make_shards() -> None:
    _app("make_shards", _make_shards)


def pretrain() -> None:
    _app("pretrain", _phase)


def midtrain() -> None:
    _app("midtrain", _phase)


def posttrain() -> None:
    _app("posttrain", _phase)


def predict() -> None:
    _app("predict", _predict)


def release() -> None:
    _app("release", _release)


def audit() -> None:
    _app("audit", _audit)


def scaling() -> None:
    _app("scaling", _scaling)


def main() -> None:
    """`python -m mpa_dist <command> [overrides]`: the same commands without the console scripts."""
    if len(sys.argv) < 2 or sys.argv[1].replace("-", "_") not in COMMANDS:
        raise SystemExit(f"usage: python -m mpa_dist <{'|'.join(COMMANDS)}> [overrides] (--help for one command)")
    name = sys.argv.pop(1).replace("-", "_")
    sys.argv[0] = f"mpa-{name.replace('_', '-')}"
    globals()[name]()
