"""Training FG-SGL with the Hugging Face Trainer (and its DeepSpeed integration).

`TrainConfig` (nested dataclasses, saved as the run's config.json) says everything about a run;
`train(config)` runs it: data → model → `FgSglTrainer` → best checkpoint → test evaluation →
outputs. A run folder holds:

```
config.json          the resolved config (reproduce a run from its folder)
train.log            the log; log.jsonl: every logged dict (losses and their terms, lr, stage)
checkpoints/         the Trainer's per-epoch checkpoints (resume from them)
weights.safetensors  the trained weights: LoRA, projector, heads — not the frozen tower
metrics.json         validation and test top-1/top-5, per-class accuracy, loss terms, skips
confusion_matrix.png, learning_curves.png
```
ML-CO: stage 1 trains L_cls + L_cp for `stage1_epochs`, then stage 2 adds L_fg
(`MlcoCallback`). The ablations are loss switches (`LossConfig`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from fgtext.errors import FgTextError
from training.losses import LossWeights
from training.metrics import classification_report, top_k_accuracy
from training.model import (
    FgSglModel,
    ModelConfig,
    load_trainable_state,
    load_vision_backbone,
    saved_names,
    trainable_state_dict,
)

log = logging.getLogger("fgsgl")

DS_CONFIG_DIR = Path(__file__).parent / "ds_configs"
CONFIG_FILE = "config.json"
CLASSES_FILE = "classes.json"  # [{"id", "name", "text"}]: what the classifier's outputs are
WEIGHTS_FILE = "weights.safetensors"
METRICS_FILE = "metrics.json"
LOG_FILE = "log.jsonl"
CHECKPOINTS = "checkpoints"

# The paper's learning rates per dataset (Sec. IV-A); everything else is shared.
PRESETS: dict[str, dict[str, float]] = {"smg": {"lr": 4e-5}, "imigue": {"lr": 1e-4}}
FG_TEXT_CHOICES = ("fg-text", "class-level")


# -- configuration -------------------------------------------------------------------------------


@dataclass
class DataConfig:
    dataset: str = ""
    text_cache: str | None = None  # None: the cache embed-text wrote for this dataset and model
    num_frames: int = 8
    image_size: int | None = None  # None: the backbone's
    train_split: str = "train"
    val_split: str = "validation"
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

    def weights(self) -> LossWeights:
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
    eval_batch_size: int | None = None  # None: batch_size
    grad_accum: int = 4
    weight_decay: float = 0.05
    warmup_ratio: float = 0.03
    max_grad_norm: float = 1.0
    bf16: bool | None = None  # None: where the GPU supports it
    seed: int = 0
    logging_steps: int = 10
    deepspeed: str | None = None  # a JSON path or a shipped name (zero2)
    stop_after_epochs: int | None = None  # end early (schedule unchanged); --resume continues


@dataclass
class TrainConfig:
    out: str = "runs/fgsgl"
    checkpoint: str = ""  # the InternVL checkpoint folder (native transformers format)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def resolved(self) -> TrainConfig:
        """A copy with the preset's values and paths filled in (what config.json records)."""
        if self.optim.preset not in PRESETS:
            raise FgTextError(
                f"unknown preset {self.optim.preset!r}; expected one of {', '.join(PRESETS)}"
            )
        if self.loss.fg_text not in FG_TEXT_CHOICES:
            raise FgTextError(
                f"unknown --fg-text {self.loss.fg_text!r}; expected one of "
                f"{', '.join(FG_TEXT_CHOICES)}"
            )
        optim = dataclasses.replace(
            self.optim,
            lr=self.optim.lr if self.optim.lr is not None else PRESETS[self.optim.preset]["lr"],
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


# -- data: the text embeddings join the batch ----------------------------------------------------


class ClipBatchCollator:
    """collate_clips, plus each clip's cached text embedding (T_fg, or T_c in class-level mode).

    The texts themselves do not go to the model: identical texts have identical embeddings,
    which is how L_fg finds its positives."""

    def __init__(self, text_cache) -> None:
        self.text_cache = text_cache

    def __call__(self, items: list) -> dict[str, Any]:
        from training.data import collate_clips

        batch = collate_clips(items)
        texts = batch.pop("texts")
        batch.pop("clip_ids")
        if texts:
            batch["text_embeddings"] = self.text_cache.lookup(texts)
        return batch


# -- the Trainer ---------------------------------------------------------------------------------


class FgSglTrainer(Trainer):
    """The HF Trainer with FG-SGL's loss terms logged, small checkpoints and no decay on the
    temperatures."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._term_sums: dict[str, float] = defaultdict(float)
        self._term_counts: dict[str, int] = defaultdict(int)
        self.skipped_clips = {"train": 0, "eval": 0}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self.skipped_clips["train" if model.training else "eval"] += int(inputs.pop("skipped", 0))
        if inputs["frames"].numel() == 0:
            # every clip of the batch failed to decode: a zero loss that still touches every
            # trainable parameter, so the step (and DDP's gradient sync) goes ahead
            zero = sum(p.sum() * 0 for p in model.parameters() if p.requires_grad)
            return (zero, {"logits": None}) if return_outputs else zero
        outputs = model(**inputs)
        if model.training:
            for name, value in outputs["terms"].items():
                self._term_sums[name] += float(value)
                self._term_counts[name] += 1
        return (outputs["loss"], outputs) if return_outputs else outputs["loss"]

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self._prepare_inputs(inputs)
        labels = inputs["labels"]
        with torch.no_grad():
            loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
        logits = outputs["logits"]
        if logits is None:  # an empty batch
            return loss.detach(), None, None
        return loss.detach(), logits.detach().float(), labels

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log: add the mean of each term since the last one
            for name, total in self._term_sums.items():
                logs[f"loss_{name}"] = round(total / self._term_counts[name], 6)
            self._term_sums.clear()
            self._term_counts.clear()
            logs["stage"] = 2 if self.accelerator.unwrap_model(self.model).use_fg else 1
        super().log(logs, start_time)

    def get_decay_parameter_names(self, model) -> list[str]:
        # biases and norms are excluded by the Trainer; the temperatures too (open_clip)
        return [n for n in super().get_decay_parameter_names(model) if "logit_scale" not in n]

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        # Only the trainable weights: a checkpoint of an 8B run stays small. The Trainer loads
        # model.safetensors non-strictly (best model, resume), which is what this needs.
        output_dir = Path(output_dir or self.args.output_dir)
        if not self.args.should_save:
            return
        output_dir.mkdir(parents=True, exist_ok=True)
        model = self.accelerator.unwrap_model(self.model)
        save_file(
            trainable_state_dict(model, state_dict),
            str(output_dir / "model.safetensors"),
            metadata={"format": "pt"},
        )
        torch.save(self.args, output_dir / "training_args.bin")

    def _issue_warnings_after_load(self, load_result) -> None:
        # checkpoints hold the trainable weights only: the frozen ones are "missing" by design
        model = self.accelerator.unwrap_model(self.model)
        missing = sorted(saved_names(model) & set(load_result.missing_keys))
        if missing or load_result.unexpected_keys:
            raise FgTextError(
                f"the checkpoint does not fit this model: {len(missing)} trainable weights "
                f"missing {missing[:2]}, unexpected {list(load_result.unexpected_keys)[:2]}"
            )


class MlcoCallback(TrainerCallback):
    """ML-CO: L_fg is off until epoch `fg_from_epoch`, then on. Every training log carries the
    stage (1 or 2) and the switch is logged."""

    def __init__(self, model: FgSglModel, *, fg_from_epoch: int, fg_enabled: bool) -> None:
        self.model = model
        self.fg_from_epoch = fg_from_epoch
        self.fg_enabled = fg_enabled

    def on_step_begin(self, args, state, control, **kwargs):
        epoch = math.floor((state.epoch or 0.0) + 1e-6)  # completed epochs
        use_fg = self.fg_enabled and epoch >= self.fg_from_epoch
        if use_fg and not self.model.use_fg:
            log.info("ML-CO stage 2 from epoch %d (step %d): L_fg joins", epoch, state.global_step)
        self.model.use_fg = use_fg


class StopAfterEpochsCallback(TrainerCallback):
    """Ends training after N epochs (saved first); `--resume latest` continues the schedule."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_epoch_end(self, args, state, control, **kwargs):
        if math.floor((state.epoch or 0.0) + 1e-6) >= self.epochs:
            control.should_training_stop = True


class JsonlLogCallback(TrainerCallback):
    """Every logged dict, one JSON line (main process only)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            record = {"step": state.global_step, **logs}
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")


def _compute_metrics(eval_pred) -> dict[str, float]:
    logits, labels = np.asarray(eval_pred.predictions), np.asarray(eval_pred.label_ids)
    return {"top1": top_k_accuracy(logits, labels, 1), "top5": top_k_accuracy(logits, labels, 5)}


# -- a run ---------------------------------------------------------------------------------------


def training_arguments(config: TrainConfig) -> TrainingArguments:
    optim = config.optim
    if optim.deepspeed and "RANK" not in os.environ:
        _single_process_rendezvous()
    cuda = torch.cuda.is_available()
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1  # by torchrun or deepspeed
    bf16 = optim.bf16 if optim.bf16 is not None else cuda and torch.cuda.is_bf16_supported()
    args = TrainingArguments(
        output_dir=str(Path(config.out) / CHECKPOINTS),
        num_train_epochs=optim.epochs,
        per_device_train_batch_size=optim.batch_size,
        per_device_eval_batch_size=optim.eval_batch_size or optim.batch_size,
        gradient_accumulation_steps=optim.grad_accum,
        learning_rate=optim.lr,
        weight_decay=optim.weight_decay,
        warmup_steps=optim.warmup_ratio,  # a float below 1 is a ratio of the total steps
        lr_scheduler_type="cosine",
        optim="adamw_torch",  # also under DeepSpeed (the Trainer hands it over; no FusedAdam build)
        max_grad_norm=optim.max_grad_norm,
        bf16=bf16,
        seed=optim.seed,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,  # the best and the latest
        load_best_model_at_end=True,
        metric_for_best_model="top1",
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=optim.logging_steps,
        logging_first_step=True,
        report_to="none",
        remove_unused_columns=False,  # the collator's keys are the model's inputs
        label_names=["labels"],
        dataloader_num_workers=config.data.workers,
        ddp_find_unused_parameters=True,  # the L_fg projection is idle in ML-CO's stage 1
        ddp_backend="gloo" if launched and not cuda else None,
        deepspeed=optim.deepspeed,
        dataloader_drop_last=True,  # full batches: in-batch negatives, batch statistics
        dataloader_pin_memory=cuda,
        save_only_model=False,
    )
    if optim.deepspeed and not cuda:
        _count_cpu_deepspeed_processes(args)
    return args


def _count_cpu_deepspeed_processes(args: TrainingArguments) -> None:
    """accelerate counts a DeepSpeed run without GPUs as one process (no backend there), so
    every rank would read the whole dataset; correct its shared state from the process group
    DeepSpeed started. Only CPU runs (tests, CI) take this path."""
    import torch.distributed as dist

    state = args.distributed_state
    if dist.is_initialized() and state.num_processes != dist.get_world_size():
        state.num_processes = dist.get_world_size()
        state.process_index = dist.get_rank()
        state.local_process_index = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        state.backend = dist.get_backend()


def _single_process_rendezvous() -> None:
    """DeepSpeed always starts a process group; without a launcher, make it a group of one
    (what `deepspeed --num_gpus 1` would set)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }.items():
        os.environ.setdefault(key, value)


def open_text_cache(config: TrainConfig):
    """The run's text cache: --text-cache, or the one embed-text wrote into the dataset."""
    from training.text_cache import TextCache, default_cache_path

    if config.data.text_cache:
        return TextCache.load(config.data.text_cache)
    return TextCache.load(default_cache_path(config.data.dataset))


def build_model(config: TrainConfig, class_texts: list[str], text_cache) -> FgSglModel:
    backbone = load_vision_backbone(config.checkpoint, mid_layer=config.model.mid_layer)
    class_embeddings = text_cache.class_embeddings(class_texts)
    return FgSglModel(
        backbone,
        class_text_embeddings=class_embeddings,
        config=config.model,
        weights=config.loss.weights(),
    )


def _datasets(config: TrainConfig, image_size: int) -> dict[str, Any]:
    from training.data import VideoClipDataset

    text_source = "fg" if config.loss.fg_text == "fg-text" else "class"
    data = config.data
    return {
        name: VideoClipDataset(
            data.dataset,
            split,
            num_frames=data.num_frames,
            image_size=image_size,
            train=name == "train",
            text_source=text_source,
            seed=config.optim.seed,
        )
        for name, split in [
            ("train", data.train_split),
            ("validation", data.val_split),
            ("test", data.test_split),
        ]
    }


def resolve_resume(resume: str | None, out: Path) -> str | None:
    """`latest` → the newest checkpoint of the run; a path → that checkpoint folder."""
    if resume is None:
        return None
    if resume == "latest":
        folder = out / CHECKPOINTS
        last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
        if last is None:
            raise FgTextError(f"--resume latest: {folder} holds no checkpoint-* folder to resume")
        return last
    path = Path(resume)
    if not (path / "trainer_state.json").is_file():
        raise FgTextError(
            f"--resume {resume}: not a checkpoint folder (expected a checkpoint-N folder with "
            "trainer_state.json)"
        )
    return str(path)


@contextlib.contextmanager
def _run_log(out: Path, main_process: bool):
    """The run's train.log (main process): our log and the Transformers warnings."""
    from transformers.utils import logging as hf_logging

    log.setLevel(logging.INFO)
    if not main_process:
        yield
        return
    handler = logging.FileHandler(out / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    hf_logging.add_handler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)
        hf_logging.remove_handler(handler)
        handler.close()


def train(config: TrainConfig, *, resume: str | None = None) -> dict[str, Any]:
    """Run a training; returns the metrics written to metrics.json (or, when the run stops
    early with `stop_after_epochs`, where it stopped)."""
    config = config.resolved()
    out = Path(config.out)
    resume_from = resolve_resume(resume, out)
    text_cache = open_text_cache(config)
    config.data.text_cache = str(Path(text_cache.path).resolve())
    args = training_arguments(config)  # sets up the process group under torchrun/deepspeed
    main = args.should_save
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / CONFIG_FILE).write_text(json.dumps(config.to_json(), indent=2) + "\n")
        (out / CLASSES_FILE).write_text(json.dumps(_classes(config), indent=2) + "\n")
    with _run_log(out, main):
        return _train(config, args, text_cache, resume_from)


def _train(config: TrainConfig, args, text_cache, resume_from: str | None) -> dict[str, Any]:
    out, main = Path(config.out), args.should_save
    model = build_model(config, [c["text"] for c in _classes(config)], text_cache)
    image_size = config.data.image_size or model.backbone.image_size
    datasets = _datasets(config, image_size)
    callbacks = [
        MlcoCallback(
            model, fg_from_epoch=config.loss.fg_from_epoch(), fg_enabled=model.weights.fg > 0
        ),
        JsonlLogCallback(out / LOG_FILE),
    ]
    if config.optim.stop_after_epochs:
        callbacks.append(StopAfterEpochsCallback(config.optim.stop_after_epochs))
    trainer = FgSglTrainer(
        model=model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets["validation"],
        data_collator=ClipBatchCollator(text_cache),
        compute_metrics=_compute_metrics,
        callbacks=callbacks,
    )
    log.info(
        "training %s: %d/%d/%d clips, %d classes, trainable parameters %d",
        out,
        len(datasets["train"]),
        len(datasets["validation"]),
        len(datasets["test"]),
        model.num_classes,
        sum(p.numel() for p in model.parameters() if p.requires_grad),
    )
    result = trainer.train(resume_from_checkpoint=resume_from)
    if trainer.state.epoch is not None and trainer.state.epoch < config.optim.epochs - 1e-6:
        stopped = {
            "stopped_at_epoch": trainer.state.epoch,
            "global_step": trainer.state.global_step,
        }
        log.info("stopped early at epoch %s; continue with --resume latest", trainer.state.epoch)
        return stopped

    # the best checkpoint by validation top-1 is loaded now (load_best_model_at_end)
    model.use_fg = model.weights.fg > 0
    reports = {}
    for split in ("validation", "test"):
        prediction = trainer.predict(datasets[split], metric_key_prefix=split)
        reports[split] = {
            **classification_report(
                prediction.predictions, prediction.label_ids, datasets[split].class_names
            ),
            "loss": prediction.metrics.get(f"{split}_loss"),
        }
    metrics = {
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_validation_top1": trainer.state.best_metric,
        "global_step": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "train_loss": result.training_loss,
        "final_loss_terms": _last_terms(trainer.state.log_history),
        "validation": reports["validation"],
        "test": reports["test"],
        "skipped_clips": _skipped(trainer, datasets),
    }
    if main:
        save_file(trainable_state_dict(model), str(out / WEIGHTS_FILE))
        write_outputs(out, metrics, datasets["test"].class_names, trainer.state.log_history)
    return metrics


def write_outputs(
    out: Path, metrics: dict, class_names: list[str], log_history: list[dict] | None
) -> None:
    from training.plots import plot_confusion_matrix, plot_learning_curves

    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    split = "test" if "test" in metrics else next(iter(metrics))
    plot_confusion_matrix(
        np.array(metrics[split]["confusion_matrix"]),
        class_names,
        out / "confusion_matrix.png",
        f"{split}: top-1 {metrics[split]['top1']:.3f}",
    )
    if log_history:
        plot_learning_curves(log_history, out / "learning_curves.png")


def _classes(config: TrainConfig) -> list[dict[str, Any]]:
    from fgtext.dataset import open_dataset

    classes = sorted(open_dataset(config.data.dataset).classes, key=lambda c: c.id)
    return [{"id": c.id, "name": c.name, "text": c.text} for c in classes]


def _last_terms(log_history: list[dict]) -> dict[str, float]:
    terms: dict[str, float] = {}
    for entry in log_history:
        for key in ("loss", "loss_cls", "loss_cp", "loss_fg"):
            if key in entry:
                terms[key] = entry[key]
    return terms


def _skipped(trainer: FgSglTrainer, datasets: dict) -> dict[str, Any]:
    # counts come with the batches (loader workers decode); the reasons only from this process
    return {
        "training_batches": trainer.skipped_clips["train"],
        "evaluation_batches": trainer.skipped_clips["eval"],
        "reasons": {
            clip: reason for ds in datasets.values() for clip, reason in ds.skipped_clips.items()
        },
    }


def load_weights_file(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FgTextError(f"{path} does not exist; expected the weights of a finished run")
    return load_file(str(path))


__all__ = [
    "ClipBatchCollator",
    "DataConfig",
    "FgSglTrainer",
    "LossConfig",
    "OptimConfig",
    "TrainConfig",
    "load_trainable_state",
    "train",
]
