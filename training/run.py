"""A training run: config → seed → data → model → `FgSglTrainer` → checkpoint → test → outputs.

A run folder holds:

```
config.json          the resolved config (reproduce a run from its folder)
train.log            the log; log.jsonl: every logged dict (losses and their terms, lr, stage)
checkpoints/         the Trainer's per-epoch checkpoints (resume from them)
weights.safetensors  the trained weights: LoRA, projector, heads — not the frozen tower
metrics.json         validation and test top-1/top-5, per-class accuracy, loss terms, skips,
                     how the checkpoint was chosen
confusion_matrix.png, learning_curves.png
```
The seed is applied before anything random is built (LoRA, heads, sampling), so one seed on one
machine gives the same weights and metrics (CPU; on GPUs see README). Every validation and test
clip is scored. Under several processes, every node must see the same `--out`: checked first.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import TrainingArguments, enable_full_determinism, set_seed
from transformers.trainer_utils import get_last_checkpoint

from fgtext.errors import FgTextError
from training.config import NO_SPLIT, TrainConfig
from training.metrics import classification_report
from training.model import FgSglModel, load_vision_backbone, trainable_state_dict
from training.trainer import (
    ClipBatchCollator,
    FgSglTrainer,
    JsonlLogCallback,
    MlcoCallback,
    StopAfterEpochsCallback,
    compute_metrics,
)

log = logging.getLogger("fgsgl")

CONFIG_FILE = "config.json"
CLASSES_FILE = "classes.json"  # [{"id", "name", "text"}]: what the classifier's outputs are
WEIGHTS_FILE = "weights.safetensors"
METRICS_FILE = "metrics.json"
LOG_FILE = "log.jsonl"
CHECKPOINTS = "checkpoints"
SHARED_OUT_CHECK = ".shared-out-check"


def world_size() -> int:
    """Processes of this run (torchrun and deepspeed set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def training_arguments(config: TrainConfig, *, validation: bool = True) -> TrainingArguments:
    optim = config.optim
    if optim.deepspeed and "RANK" not in os.environ:
        _single_process_rendezvous()
    cuda = torch.cuda.is_available()
    launched = world_size() > 1  # by torchrun or deepspeed
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
        full_determinism=optim.full_determinism,
        eval_strategy="epoch" if validation else "no",
        save_strategy="epoch",
        save_total_limit=2,  # the best and the latest
        load_best_model_at_end=validation,
        metric_for_best_model="top1" if validation else None,
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
        dataloader_drop_last=False,  # FgSglTrainer drops the last partial batch in training only
        dataloader_pin_memory=cuda,
        save_only_model=False,
    )
    if optim.deepspeed and not cuda:
        _count_cpu_deepspeed_processes(args)
    elif launched and not cuda:
        _mark_cpu_processes_distributed(args)
    return args


def _mark_cpu_processes_distributed(args: TrainingArguments) -> None:
    """accelerate starts the gloo group of a CPU run under torchrun but calls it "not
    distributed": it would neither wrap the model in DDP nor gather evaluation predictions, so
    each rank would train on its shard alone and score only its own clips. Say what it is.
    Only CPU runs (tests, CI) take this path."""
    import torch.distributed as dist
    from accelerate.utils import DistributedType

    state = args.distributed_state
    if dist.is_initialized() and state.distributed_type == DistributedType.NO:
        state.distributed_type = DistributedType.MULTI_CPU


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


def check_shared_out(out: Path) -> None:
    """Every process must see the run folder rank 0 writes: the best checkpoint is loaded from
    it and the final weights come from it. Rank 0 writes a random token there; a rank that
    cannot read it back (another node with a local disk, or another --out) refuses, and so
    does every other rank, with the same sentence."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    rank = dist.get_rank()
    marker = out / SHARED_OUT_CHECK
    token = [secrets.token_hex(16) if rank == 0 else None]
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        marker.write_text(token[0], encoding="utf-8")
    dist.broadcast_object_list(token, src=0)
    try:
        sees = marker.read_text(encoding="utf-8") == token[0]
    except OSError:
        sees = False
    views: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(views, (sees, socket.gethostname()))
    if rank == 0:
        marker.unlink(missing_ok=True)
    blind = [f"rank {r} on {host}" for r, (ok, host) in enumerate(views) if not ok]
    if blind:
        raise FgTextError(
            f"--out {out} is not shared by every process: {', '.join(blind)} cannot see what "
            "rank 0 writes there; put --out on a filesystem that every node mounts at the same "
            "path (NFS, Lustre, ...) and pass the same --out to every node"
        )


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


def validation_split(config: TrainConfig) -> str | None:
    """The split that chooses the checkpoint, or None: no validation, the last epoch is kept
    (`--val-split none`, or the default where the dataset has no validation clips)."""
    from fgtext.dataset import open_dataset

    split = config.data.val_split
    if split == NO_SPLIT:
        return None
    if split is None:
        counts = open_dataset(config.data.dataset).info.splits
        return "validation" if counts.get("validation") else None
    return split


def _datasets(config: TrainConfig, image_size: int, val_split: str | None) -> dict[str, Any]:
    from training.data import VideoClipDataset

    text_source = "fg" if config.loss.fg_text == "fg-text" else "class"
    data = config.data
    splits = {"train": data.train_split, "validation": val_split, "test": data.test_split}
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
        for name, split in splits.items()
        if split is not None
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


def seed_everything(seed: int, *, full_determinism: bool = False) -> None:
    """Python, numpy and torch (every device) from `seed`: torch 2.13 seeds each process
    randomly, so this comes before the model is built."""
    if full_determinism:
        enable_full_determinism(seed)
    else:
        set_seed(seed)


def train(config: TrainConfig, *, resume: str | None = None) -> dict[str, Any]:
    """Run a training; returns the metrics written to metrics.json (or, when the run stops
    early with `stop_after_epochs`, where it stopped)."""
    config = config.resolved(world_size())
    out = Path(config.out)
    resume_from = resolve_resume(resume, out)
    text_cache = open_text_cache(config)
    config.data.text_cache = str(Path(text_cache.path).resolve())
    val_split = validation_split(config)
    # sets up the process group under torchrun/deepspeed
    args = training_arguments(config, validation=val_split is not None)
    check_shared_out(out)
    main = args.should_save
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / CONFIG_FILE).write_text(json.dumps(config.to_json(), indent=2) + "\n")
        (out / CLASSES_FILE).write_text(json.dumps(_classes(config), indent=2) + "\n")
    with _run_log(out, main):
        return _train(config, args, text_cache, resume_from, val_split)


def _train(
    config: TrainConfig, args, text_cache, resume_from: str | None, val_split: str | None
) -> dict[str, Any]:
    out, main = Path(config.out), args.should_save
    seed_everything(config.optim.seed, full_determinism=config.optim.full_determinism)
    model = build_model(config, [c["text"] for c in _classes(config)], text_cache)
    image_size = config.data.image_size or model.backbone.image_size
    datasets = _datasets(config, image_size, val_split)
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
        eval_dataset=datasets.get("validation"),
        data_collator=ClipBatchCollator(text_cache),
        compute_metrics=compute_metrics,
        callbacks=callbacks,
    )
    log.info(
        "training %s: %s clips, %d classes, global batch %d (%d per device x %d accumulation x "
        "%d processes), trainable parameters %d",
        out,
        " / ".join(f"{name} {len(ds)}" for name, ds in datasets.items()),
        model.num_classes,
        config.optim.global_batch,
        config.optim.batch_size,
        config.optim.grad_accum,
        config.optim.world_size,
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

    # with a validation split, the best checkpoint by its top-1 is loaded now
    # (load_best_model_at_end); without one the weights are the last epoch's
    model.use_fg = model.weights.fg > 0
    reports: dict[str, Any] = {}
    for split, dataset in datasets.items():
        if split == "train":
            continue
        prediction = trainer.predict(dataset, metric_key_prefix=split)
        reports[split] = {
            **classification_report(
                prediction.predictions, prediction.label_ids, dataset.class_names
            ),
            "loss": prediction.metrics.get(f"{split}_loss"),
        }
    metrics = {
        "model_selection": (
            f"best validation top-1 (split {val_split!r})"
            if val_split
            else "last epoch (no validation split)"
        ),
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_validation_top1": trainer.state.best_metric,
        "global_step": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "seed": config.optim.seed,
        "global_batch": config.optim.global_batch,
        "train_loss": result.training_loss,
        "final_loss_terms": _last_terms(trainer.state.log_history),
        "validation": reports.get("validation"),
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
