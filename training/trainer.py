"""FG-SGL's pieces for the Hugging Face Trainer: the batch collator, the Trainer subclass and the
callbacks (ML-CO's stages, stopping early, the JSON log). `training.run` puts them together.

ML-CO: stage 1 trains L_cls + L_cp for `stage1_epochs`, then stage 2 adds L_fg
(`MlcoCallback`). The ablations are loss switches (`training.config.LossConfig`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import Trainer, TrainerCallback

from fgtext.errors import FgTextError
from training.metrics import UNSCORED, top_k_accuracy
from training.model import FgSglModel, saved_names, trainable_state_dict

log = logging.getLogger("fgsgl")


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
        # first, so the Trainer reads the batch size from it: one slot per clip, decoded or not
        return {"slots": torch.zeros(len(items)), **batch}


# -- the Trainer ---------------------------------------------------------------------------------


class FgSglTrainer(Trainer):
    """The HF Trainer with FG-SGL's loss terms logged, small checkpoints and no decay on the
    temperatures."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._term_sums: dict[str, float] = defaultdict(float)
        self._term_counts: dict[str, int] = defaultdict(int)
        self.skipped_clips = {"train": 0, "eval": 0}

    def get_train_dataloader(self):
        # Training drops its last partial batch (in-batch negatives, batch statistics);
        # validation and test score every clip, so the flag is on for this loader only.
        with _drop_last(self.args):
            return super().get_train_dataloader()

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs.pop("slots", None)
        self.skipped_clips["train" if model.training else "eval"] += int(inputs.pop("skipped", 0))
        outputs = model(**inputs)  # an empty batch (no clip decoded) gives a zero loss
        if model.training:
            for name, value in outputs["terms"].items():
                self._term_sums[name] += float(value)
                self._term_counts[name] += 1
        return (outputs["loss"], outputs) if return_outputs else outputs["loss"]

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Logits and labels with one row per clip of the batch. A clip that failed to decode
        keeps its row (zero logits, label UNSCORED), so every rank's tensors have the same
        shape when the Trainer gathers them, and it is not scored."""
        inputs = self._prepare_inputs(inputs)
        slots, labels = inputs["slots"].shape[0], inputs["labels"]
        with torch.no_grad():
            loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
        classes = self.accelerator.unwrap_model(model).num_classes
        logits = outputs["logits"]
        logits = labels.new_zeros((0, classes), dtype=torch.float) if logits is None else logits
        missing = slots - labels.shape[0]
        if missing:
            logits = torch.cat([logits.float(), logits.new_zeros((missing, classes))])
            labels = torch.cat([labels, labels.new_full((missing,), UNSCORED)])
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


def compute_metrics(eval_pred) -> dict[str, float]:
    logits, labels = np.asarray(eval_pred.predictions), np.asarray(eval_pred.label_ids)
    return {"top1": top_k_accuracy(logits, labels, 1), "top5": top_k_accuracy(logits, labels, 5)}


@contextlib.contextmanager
def _drop_last(args):
    saved = args.dataloader_drop_last
    args.dataloader_drop_last = True
    try:
        yield
    finally:
        args.dataloader_drop_last = saved
