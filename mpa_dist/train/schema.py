"""Typed schemas of every config group, and the single source of their defaults: each group's
yaml files start from `<group>/_schema` (registered in Hydra's ConfigStore by `register()`) and
set only what differs. `validate` merges the composed config into the phase schema, so a
misspelt or unknown key anywhere is an error before anything runs, and every key that exists
is one the code reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf


SCHEMES = ("random", "ood", "fold0", "fold1", "fold2", "fold3", "fold4")  # foldK: matbench's fold K is test


@dataclass
class SourceSchema:
    weight: Optional[float] = None  # mixing share (0-1) of this source; None: the unset ones share the rest by temperature over sizes
    limit: Optional[int] = None  # first N entries of the dataset


@dataclass
class DataSchema:
    sources: dict = field(default_factory=dict)  # dataset name -> SourceSchema
    dft_sources: dict = field(default_factory=dict)  # mid-training: first-principles sources aligned in
    dft_share: list = field(default_factory=lambda: [0.0, 0.0])  # share of dft_sources: [start, end] of training
    dft_stages: int = 1  # the share changes in this many steps (the loader is rebuilt at each)
    scheme: str = "random"  # split scheme: random | ood | fold0..fold4 (matbench folds; others random)
    shards_root: str = "shards"
    min_shards: int = 4
    shard_workers: int = 2
    conformers: int = 1  # K conformers per SMILES
    conformer_sampling: str = "all"  # all: K graphs per molecule per step | random: one of them
    max_atoms: int = 1024
    max_edges: int = 32768
    max_graphs: int = 256
    temperature: float = 1.0
    shuffle_buffer: int = 1000
    num_workers: int = 2
    on_error: str = "skip"
    norm_samples: int = 20000  # training samples read to fit target normalisation
    # true: keep first-principles entries of evaluation compounds (privileged information; for a
    # study of that effect only, and every report built on it says so in its first line)
    privileged: bool = False
    # the split schemes whose evaluation compounds first-principles data leaves out: every scheme
    # this checkpoint (and the ones trained from it) will be evaluated on
    eval_schemes: list = field(default_factory=lambda: ["random", "ood"])


@dataclass
class OptimSchema:
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: list = field(default_factory=lambda: [0.9, 0.999])
    schedule: str = "cosine"  # cosine | constant
    warmup_steps: int = 100
    min_lr_ratio: float = 0.01
    grad_clip: float = 10.0
    grad_accum: int = 1


@dataclass
class DeepSpeedSchema:
    zero_stage: int = 0
    offload_optimizer: bool = False
    extra: dict = field(default_factory=dict)  # passed verbatim into the DeepSpeed config


@dataclass
class ClusterSchema:
    backend: Optional[str] = None  # gloo | nccl; None: nccl on GPU, gloo on CPU
    threads: int = 0  # torch intra-op threads per rank; 0: cores / local ranks


@dataclass
class LossSchema:
    type: str = "huber"
    delta: float = 1.0
    force_weight: float = 10.0
    stress_weight: float = 1.0


@dataclass
class FinetuneSchema:
    task: Optional[str] = None  # post-training: the catalogue task
    strategy: str = "full"  # full | frozen | lora | llrd | lp (head on cached features) | lp_ft (lp, then full)
    readout: Optional[str] = None  # None: the catalogue's readout for the task
    head: str = "carry"  # carry: start from the checkpoint's head for this task if it has one | fresh
    readout_layers: Optional[str] = None  # all: the head reads every layer's features | last | None: the checkpoint's
    unfreeze_at: float = 0.5  # frozen: fraction of steps after which the backbone trains too
    lora_rank: int = 8
    lora_alpha: float = 16.0
    llrd: float = 0.8  # layer-wise learning-rate decay factor per layer from the top
    patience: int = 5  # early stopping: evaluations without improvement on validation
    epochs: Optional[int] = None  # the budget in epochs over the training split, one evaluation each (null: `steps`)
    max_seconds: Optional[float] = None  # a wall-clock cap per run: it stops, keeping the best so far
    lp_epochs: int = 300  # lp / lp_ft: epochs of head fitting on cached features (early-stopped)
    lp_lr: float = 3e-3
    lp_patience: int = 20
    lp_batch_graphs: int = 256  # graphs per head-fitting batch (cached batches are joined up to it)
    ensemble: int = 1  # K > 1: a deep ensemble of K heads averaged (mpa_dist/model/ensemble.py); lp fits each alone
    results: Optional[str] = None  # a results file to append the test metrics to (JSON lines)
    test: bool = True  # evaluate the test split at the end (a sweep's trials: false, tested once after)


@dataclass
class PhaseSchema:
    phase: str = "pretrain"
    name: str = "default"
    run_dir: str = "runs/default/pretrain"
    init_from: Optional[str] = None
    seed: int = 0
    steps: int = 1000
    eval_every: int = 200
    eval_batches: int = 0  # 0: the whole validation split
    log_every: int = 20
    ckpt_every: int = 500
    max_bad_steps: int = 10
    precision: str = "fp32"  # fp32 | bf16
    ema_decay: float = 0.0  # 0 disables the EMA of the weights
    progress: bool = True
    model: Any = None
    size: Any = None  # the data-volume group, read through interpolations
    data: DataSchema = field(default_factory=DataSchema)
    optim: OptimSchema = field(default_factory=OptimSchema)
    deepspeed: DeepSpeedSchema = field(default_factory=DeepSpeedSchema)
    cluster: ClusterSchema = field(default_factory=ClusterSchema)
    loss: LossSchema = field(default_factory=LossSchema)
    finetune: FinetuneSchema = field(default_factory=FinetuneSchema)
    sweep: Any = None  # post-training over many tasks with Ray Tune (mpa_dist/tune), checked there


def validate(cfg: DictConfig) -> DictConfig:
    """The config merged into the schema: unknown keys raise, missing ones take defaults."""
    base = OmegaConf.structured(PhaseSchema)
    merged = OmegaConf.merge(base, OmegaConf.to_container(cfg, resolve=True))
    for group in (merged.data.sources, merged.data.dft_sources):
        for name in list(group):
            group[name] = OmegaConf.merge(OmegaConf.structured(SourceSchema), group[name] or {})
    for key, allowed in (("phase", ("pretrain", "midtrain", "posttrain")), ("precision", ("fp32", "bf16")),
                         ("data.scheme", SCHEMES), ("finetune.strategy", ("full", "frozen", "lora", "llrd", "lp", "lp_ft")),
                         ("finetune.head", ("carry", "fresh")), ("finetune.readout_layers", (None, "last", "all")),
                         ("optim.schedule", ("cosine", "constant"))):
        if OmegaConf.select(merged, key) not in allowed:
            raise ValueError(f"{key} must be one of {allowed}, not {OmegaConf.select(merged, key)!r}")
    if merged.finetune.ensemble < 1:
        raise ValueError(f"finetune.ensemble must be >= 1 (heads in the ensemble), not {merged.finetune.ensemble}")
    bad = [s for s in merged.data.eval_schemes if s not in SCHEMES]
    if bad:
        raise ValueError(f"data.eval_schemes: {bad} not among {SCHEMES}")
    # phases that read first-principles data must leave out their own scheme's evaluation compounds;
    # post-training reads none (its parent's schemes are checked when it loads it)
    if merged.phase != "posttrain" and merged.data.scheme not in merged.data.eval_schemes and not merged.data.privileged:
        raise ValueError(f"data.scheme={merged.data.scheme} is not in data.eval_schemes={list(merged.data.eval_schemes)}: "
                         f"first-principles data would keep that scheme's evaluation compounds; add it, e.g. "
                         f"data.eval_schemes=[{', '.join([*merged.data.eval_schemes, merged.data.scheme])}]")
    return merged


GROUP_SCHEMAS = {"data": DataSchema, "optim": OptimSchema, "deepspeed": DeepSpeedSchema, "cluster": ClusterSchema,
                 "loss": LossSchema, "finetune": FinetuneSchema}


def register() -> None:
    """Each group's schema as `<group>/_schema` in Hydra's ConfigStore (the yaml files' first default)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    for group, schema in GROUP_SCHEMAS.items():
        cs.store(group=group, name="_schema", node=schema)
