"""A training run's configuration: nested dataclasses, saved resolved as the run's config.json.

Each default lives here once; `fgsgl-train train`'s options take theirs from these classes.
`TrainConfig.resolved(world_size)` fills in what depends on the preset and the launch: the
learning rate, the gradient accumulation that keeps the paper's global batch, absolute paths.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fgtext.errors import FgTextError

DS_CONFIG_DIR = Path(__file__).parent / "ds_configs"
FG_TEXT_CHOICES = ("fg-text", "class-level")
# L_fg's forms (training.losses.fine_grained_loss): the paper's Eq. 1 first, the default
FG_LOSS_MODES = ("paper", "symmetric", "multi-positive")
NO_SPLIT = "none"  # --val-split none: no validation split, the last epoch is kept


@dataclass(frozen=True)
class Preset:
    """The paper's optimisation per dataset (Sec. IV-A): its learning rate at its global batch
    of 2 GPUs x 8 clips x 4 accumulation steps = 64."""

    lr: float
    global_batch: int = 64


PRESETS: dict[str, Preset] = {"smg": Preset(lr=4e-5), "imigue": Preset(lr=1e-4)}


@dataclass
class ModelConfig:
    """The model's hyper-parameters (the run's config.json keeps them)."""

    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    mid_layer: int | None = None  # vision layer of f_mid; None: the middle one
    fg_loss: str = "paper"  # L_fg's form: paper (Eq. 1), symmetric or multi-positive (losses.py)
    logit_scale_init: float = 1 / 0.07  # CLIP's initial temperature
    logit_scale_max: float = 100.0  # CLIP's clamp
    activation_checkpointing: bool = False  # recompute the tower's layers in backward: less memory

    def __post_init__(self) -> None:
        if self.fg_loss not in FG_LOSS_MODES:
            raise FgTextError(
                f"unknown L_fg mode {self.fg_loss!r}; expected one of {', '.join(FG_LOSS_MODES)}"
            )
        if self.lora_rank < 1:
            raise FgTextError(f"LoRA rank must be at least 1, got {self.lora_rank}")


@dataclass
class DataConfig:
    dataset: str = ""
    text_cache: str | None = None  # None: the cache embed-text wrote for this dataset and model
    num_frames: int = 8
    image_size: int | None = None  # None: the backbone's
    train_split: str = "train"
    # None: "validation" where the dataset has one, else none; "none": no validation split (the
    # last epoch is kept, as iMiGUE's protocol needs)
    val_split: str | None = None
    test_split: str = "test"
    workers: int = 4  # DataLoader workers (decoding is the bottleneck)


@dataclass
class LossConfig:
    """The loss terms and ML-CO; the switches reproduce the paper's Tables II-III."""

    lambda_fg: float = 1.0
    lambda_cp: float = 1.0
    stage1_epochs: int = 5  # ML-CO stage 1 (L_cls + L_cp); L_fg joins after it
    fg_sa: bool = True  # False: --no-fg-sa, no L_fg ever
    cp_a: bool = True  # False: --no-cp-a, no L_cp
    mlco: bool = True  # False: --no-mlco, every term from epoch 0
    fg_text: str = "fg-text"  # "class-level": L_fg against T_c of the clip's class

    def weights(self):
        from training.losses import LossWeights  # torch: not needed to read a config

        return LossWeights(
            fg=self.lambda_fg if self.fg_sa else 0.0, cp=self.lambda_cp if self.cp_a else 0.0
        )

    def fg_from_epoch(self) -> int:
        return self.stage1_epochs if self.mlco else 0


@dataclass
class OptimConfig:
    """AdamW + cosine with the paper's defaults (Sec. IV-A)."""

    preset: str = "smg"
    lr: float | None = None  # None: the preset's
    epochs: int = 15
    batch_size: int = 8  # per device
    # The global batch is batch_size x grad_accum x processes. With grad_accum None it is the
    # preset's (64), or global_batch when given: accumulation follows from the world size.
    global_batch: int | None = None
    grad_accum: int | None = None
    eval_batch_size: int | None = None  # None: batch_size
    weight_decay: float = 0.05
    warmup_ratio: float = 0.03
    max_grad_norm: float = 1.0
    bf16: bool | None = None  # None: where the GPU supports it
    seed: int = 0
    full_determinism: bool = False  # deterministic GPU kernels (slower); see README
    logging_steps: int = 10
    deepspeed: str | None = None  # a JSON path or a shipped name (zero2)
    stop_after_epochs: int | None = None  # end early (schedule unchanged); --resume continues
    world_size: int | None = None  # recorded by resolved(): the processes of the run


@dataclass
class TrainConfig:
    out: str = "runs/fgsgl"
    checkpoint: str = ""  # the InternVL checkpoint folder (native transformers format)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def resolved(self, world_size: int = 1) -> TrainConfig:
        """A copy with the preset's values, the batch arithmetic and paths filled in (what
        config.json records)."""
        if self.optim.preset not in PRESETS:
            raise FgTextError(
                f"unknown preset {self.optim.preset!r}; expected one of {', '.join(PRESETS)}"
            )
        if self.loss.fg_text not in FG_TEXT_CHOICES:
            raise FgTextError(
                f"unknown --fg-text {self.loss.fg_text!r}; expected one of "
                f"{', '.join(FG_TEXT_CHOICES)}"
            )
        preset = PRESETS[self.optim.preset]
        grad_accum, global_batch = resolve_batch(self.optim, world_size)
        optim = dataclasses.replace(
            self.optim,
            lr=self.optim.lr if self.optim.lr is not None else preset.lr,
            grad_accum=grad_accum,
            global_batch=global_batch,
            world_size=world_size,
            deepspeed=resolve_deepspeed_config(self.optim.deepspeed),
        )
        checkpoint = str(Path(self.checkpoint).resolve()) if self.checkpoint else ""
        data = dataclasses.replace(self.data, dataset=str(Path(self.data.dataset).resolve()))
        return dataclasses.replace(self, checkpoint=checkpoint, data=data, optim=optim)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TrainConfig:
        return cls(
            out=raw["out"],
            checkpoint=raw["checkpoint"],
            data=DataConfig(**raw["data"]),
            model=ModelConfig(**raw["model"]),
            loss=LossConfig(**raw["loss"]),
            optim=OptimConfig(**raw["optim"]),
        )


def resolve_batch(optim: OptimConfig, world_size: int) -> tuple[int, int]:
    """(gradient accumulation steps, global batch) for `world_size` processes.

    Without an explicit --grad-accum the global batch is held (the preset's 64, or
    --global-batch): 8 clips per device give accumulation 8 on one GPU, 4 on two, 2 on four."""
    per_step = optim.batch_size * world_size
    if optim.batch_size < 1:
        raise FgTextError(f"--batch-size must be at least 1 (got {optim.batch_size})")
    if optim.grad_accum is not None:
        if optim.grad_accum < 1:
            raise FgTextError(f"--grad-accum must be at least 1 (got {optim.grad_accum})")
        global_batch = per_step * optim.grad_accum
        if optim.global_batch is not None and optim.global_batch != global_batch:
            raise FgTextError(
                f"--global-batch {optim.global_batch} disagrees with --batch-size "
                f"{optim.batch_size} x --grad-accum {optim.grad_accum} x {world_size} "
                f"process(es) = {global_batch}; give one of --global-batch or --grad-accum"
            )
        return optim.grad_accum, global_batch
    target = optim.global_batch or PRESETS[optim.preset].global_batch
    if target < 1 or target % per_step:
        raise FgTextError(
            f"global batch {target} is not a multiple of {optim.batch_size} clips x "
            f"{world_size} process(es) = {per_step}; choose --batch-size, --global-batch or "
            "--grad-accum so that it is"
        )
    return target // per_step, target


def resolve_deepspeed_config(value: str | None) -> str | None:
    """A DeepSpeed JSON path, or the name of a shipped config (zero2)."""
    if not value:
        return None
    shipped = DS_CONFIG_DIR / f"{value}.json"
    if shipped.is_file():
        return str(shipped)
    path = Path(value)
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in DS_CONFIG_DIR.glob("*.json")))
        raise FgTextError(
            f"DeepSpeed config {value!r} is neither a file nor a shipped config ({names})"
        )
    return str(path.resolve())
