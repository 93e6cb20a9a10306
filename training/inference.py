"""Using a trained run: evaluate it on a dataset split, predict the class of videos.

A run folder (see `training.run`) is self-describing: config.json names the base checkpoint
and the text cache, classes.json the classes, weights.safetensors the trained weights.
`predict` also explains a prediction the way the paper does not: the FG-Text descriptions
(T_fg of the text cache) nearest to the clip's projected f_mid — its predicted attributes
(`training.suggest` writes them for a whole dataset, as suggestions for its annotators).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from fgtext.errors import FgTextError
from training.config import TrainConfig
from training.metrics import classification_report
from training.model import FgSglModel, load_trainable_state
from training.run import (
    CLASSES_FILE,
    CONFIG_FILE,
    WEIGHTS_FILE,
    build_model,
    load_weights_file,
    open_text_cache,
    write_outputs,
)
from training.trainer import ClipBatchCollator


@dataclass
class LoadedRun:
    model: FgSglModel
    config: TrainConfig
    classes: list[dict[str, Any]]
    text_cache: Any
    device: torch.device

    @property
    def class_names(self) -> list[str]:
        return [c["name"] for c in self.classes]

    @property
    def image_size(self) -> int:
        return self.config.data.image_size or self.model.backbone.image_size


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def read_run(run_dir: str | Path) -> tuple[TrainConfig, list[dict[str, Any]]]:
    """A run folder's resolved config and classes, without loading the model."""
    run = Path(run_dir)
    config_path, classes_path = run / CONFIG_FILE, run / CLASSES_FILE
    if not config_path.is_file() or not classes_path.is_file():
        raise FgTextError(
            f"{run} is not a training run folder: expected {CONFIG_FILE} and {CLASSES_FILE} "
            "(written by fgsgl-train train --out)"
        )
    config = TrainConfig.from_json(json.loads(config_path.read_text(encoding="utf-8")))
    return config, json.loads(classes_path.read_text(encoding="utf-8"))


def load_run(run_dir: str | Path, *, device: torch.device | None = None) -> LoadedRun:
    """The trained model of a finished run, in evaluation mode on `device`."""
    run = Path(run_dir)
    config, classes = read_run(run)
    weights = load_weights_file(run / WEIGHTS_FILE)
    text_cache = open_text_cache(config)
    model = build_model(config, [c["text"] for c in classes], text_cache)
    load_trainable_state(model, weights, str(run / WEIGHTS_FILE))
    device = device or default_device()
    model.to(device).eval()
    return LoadedRun(model, config, classes, text_cache, device)


def check_same_classes(run_dir: str | Path, class_names: list[str], dataset_dir, dataset) -> None:
    """A dataset must have the run's classes, by id: the classifier's outputs are those."""
    names = [c.name for c in sorted(dataset.classes, key=lambda c: c.id)]
    if names != class_names:
        raise FgTextError(
            f"{dataset_dir} has other classes than the run {run_dir} was trained on "
            f"({len(names)} vs {len(class_names)} classes, or other names/order)"
        )


def evaluation_clips(
    loaded: LoadedRun, dataset_dir: str | Path, split: str | None, *, require_labels: bool = True
):
    """The clips of a split (None: every clip) as the run's model sees them in evaluation."""
    from training.data import VideoClipDataset

    return VideoClipDataset(
        dataset_dir,
        split,
        num_frames=loaded.config.data.num_frames,
        image_size=loaded.image_size,
        train=False,
        require_labels=require_labels,
    )


def check_batching(batch_size: int, workers: int) -> None:
    if batch_size < 1 or workers < 0:
        raise FgTextError(
            f"--batch-size must be at least 1 and --workers at least 0 (got {batch_size} and "
            f"{workers})"
        )


def decoded_batches(
    loaded: LoadedRun,
    dataset,
    *,
    batch_size: int,
    workers: int,
    collate_fn: Callable,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[dict[str, Any], torch.Tensor]]:
    """(batch, its frames on the run's device) for each batch of `dataset`, in order, that has
    a decoded clip; `progress(clips done, clips)` after each batch."""
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate_fn)
    for done, batch in enumerate(loader, start=1):
        if progress:
            progress(min(done * batch_size, len(dataset)), len(dataset))
        if batch["frames"].numel():
            yield batch, batch["frames"].to(loaded.device)


@torch.no_grad()
def clip_logits(loaded: LoadedRun, dataset, *, batch_size: int = 8, workers: int = 0):
    """Logits [N, C] and labels [N] of every decodable clip of a VideoClipDataset."""
    logits, labels = [], []
    batches = decoded_batches(
        loaded, dataset, batch_size=batch_size, workers=workers,
        collate_fn=ClipBatchCollator(loaded.text_cache),
    )  # fmt: skip
    for batch, frames in batches:
        with autocast(loaded.device):
            logits.append(loaded.model(frames)["logits"].float().cpu())
        labels.append(batch["labels"])
    if not logits:
        raise FgTextError("no clip of the split could be decoded; check it with check-data")
    logits, labels = torch.cat(logits).numpy(), torch.cat(labels).numpy()
    return logits, labels, len(dataset) - len(labels)


def evaluate_run(
    run_dir: str | Path,
    dataset_dir: str | Path,
    *,
    split: str = "test",
    batch_size: int = 8,
    workers: int = 0,
    device: torch.device | None = None,
) -> dict[str, Any]:
    """top-1/top-5/per-class accuracy of a run on a split of a dataset with the run's classes;
    writes RUN/eval-<dataset name>-<split>/ (metrics.json, confusion_matrix.png)."""
    from fgtext.dataset import open_dataset

    check_batching(batch_size, workers)
    loaded = load_run(run_dir, device=device)
    check_same_classes(run_dir, loaded.class_names, dataset_dir, open_dataset(dataset_dir))
    dataset = evaluation_clips(loaded, dataset_dir, split)
    logits, labels, skipped = clip_logits(loaded, dataset, batch_size=batch_size, workers=workers)
    report = classification_report(logits, labels, loaded.class_names)
    report["skipped_clips"] = skipped
    metrics = {"dataset": str(Path(dataset_dir).resolve()), "split": split, split: report}
    out = Path(run_dir) / f"eval-{Path(dataset_dir).resolve().name}-{split}"
    out.mkdir(parents=True, exist_ok=True)
    write_outputs(out, {split: report, **metrics}, loaded.class_names, None)
    return metrics


@torch.no_grad()
def predict_videos(
    run_dir: str | Path,
    videos: list[str | Path],
    *,
    top_k: int = 5,
    device: torch.device | None = None,
) -> list[dict[str, Any]]:
    """For each video: the top-k classes (softmax probabilities) and the k FG-Text
    descriptions of the text cache nearest to its projected f_mid (cosine similarity)."""
    from training.data import ClipDecodeError, ClipSource, decode_clip_frames

    if top_k < 1:
        raise FgTextError(f"--top-k must be at least 1, got {top_k}")
    loaded = load_run(run_dir, device=device)
    candidates = FgTextCandidates.of(loaded, run_fg_texts(loaded))
    results = []
    for video in videos:
        path = Path(video)
        try:
            frames, _ = decode_clip_frames(
                ClipSource(path.name, path, 0, None),
                num_frames=loaded.config.data.num_frames,
                size=loaded.image_size,
                train=False,
            )
        except ClipDecodeError as e:
            raise FgTextError(f"cannot predict {video}: {e}") from None
        with autocast(loaded.device):
            logits, mid = loaded.model.mid_in_text_space(frames[None].to(loaded.device))
        probs = logits.float().softmax(-1)[0].cpu().numpy()
        order = np.argsort(-probs, kind="stable")[: min(top_k, len(probs))]
        [nearest], [similarity] = candidates.nearest(mid, top_k)
        results.append(
            {
                "video": str(path),
                "classes": [
                    {
                        "id": int(i),
                        "name": loaded.classes[i]["name"],
                        "probability": float(probs[i]),
                    }
                    for i in order
                ],
                "fg_texts": [
                    {"text": candidates.texts[i], "similarity": float(s)}
                    for i, s in zip(nearest, similarity, strict=True)
                ],
            }
        )
    return results


def run_fg_texts(loaded: LoadedRun) -> list[str]:
    """The FG-Texts (T_fg) of the run's text cache: every text but the class texts."""
    class_texts = {c["text"] for c in loaded.classes}
    fg_texts = [t for t in loaded.text_cache.texts if t not in class_texts]
    if not fg_texts:
        raise FgTextError(
            f"the text cache {loaded.text_cache.path} holds no FG-Text to compare with"
        )
    return fg_texts


@dataclass(frozen=True)
class FgTextCandidates:
    """FG-Texts a clip's projected f_mid is compared with, and their unit embeddings [n, D]."""

    texts: list[str]
    unit_embeddings: torch.Tensor

    @classmethod
    def of(cls, loaded: LoadedRun, texts: list[str]) -> FgTextCandidates:
        embeddings = loaded.text_cache.lookup(texts).float()
        return cls(texts, F.normalize(embeddings, dim=-1).to(loaded.device))

    def nearest(self, mid: torch.Tensor, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """For each row of `mid` [B, D]: the indices of the `top_k` texts of highest cosine
        similarity, best first (ties in text order), and those similarities; both [B, k]."""
        similarity = (F.normalize(mid.float(), dim=-1) @ self.unit_embeddings.T).cpu().numpy()
        order = np.argsort(-similarity, axis=1, kind="stable")[:, : min(top_k, len(self.texts))]
        return order, np.take_along_axis(similarity, order, axis=1)


def autocast(device: torch.device):
    # bf16 on GPUs that have it, as in training; CPU inference stays in float32
    enabled = device.type == "cuda" and torch.cuda.is_bf16_supported()
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)
