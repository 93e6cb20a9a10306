"""Video clips of an FG-Text dataset as training samples: frames, class id, FG-Text.

`VideoClipDataset(DATASET, split, train=...)` reads an FG-Text dataset (format 1 or 2). Each item is 8
frames (one per equal segment of the clip: a random offset per segment in training, the centre in
evaluation; `start_frame`/`end_frame` segments of long videos honoured) decoded with decord
(`num_threads=1`, the loader's workers are the parallelism), resized to `image_size` squared,
uint8 until the device; `normalize_frames` normalises there (ImageNet mean/std). Where a training
copy of that size exists (`fgsgl-train prepare`), clips are read from it.

A clip that cannot be decoded is skipped, not fatal: `__getitem__` returns None, counts it in
`.skipped` (this process only) and warns; `collate_clips` drops Nones and reports how many it
dropped in the batch's "skipped" (which counts across loader worker processes). `check_data`
lists every bad clip up front (`fgsgl-train check-data`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from fgtext.dataset import Clip, open_dataset
from fgtext.errors import FgTextError
from training.prepare import read_training_copy

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CheckReport",
    "ClipDecodeError",
    "ClipProblem",
    "ClipSource",
    "VideoClipDataset",
    "check_data",
    "collate_clips",
    "decode_clip_frames",
    "normalize_frames",
    "sample_frame_indices",
]

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def sample_frame_indices(
    clip_frames: int, num_frames: int, *, train: bool, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Indices (0-based, within the clip) of `num_frames` frames, one per equal segment.

    Segment i covers [i·n/T, (i+1)·n/T); evaluation takes its centre floor((i+½)·n/T), training a
    uniformly random frame of it (`rng`). Clips shorter than T frames repeat frames."""
    if clip_frames < 1:
        raise FgTextError(f"a clip needs at least one frame to sample from (got {clip_frames})")
    segment = clip_frames / num_frames
    if not train:
        return np.floor(segment * (np.arange(num_frames) + 0.5)).astype(np.int64)
    if rng is None:
        raise ValueError("training sampling needs an rng")
    starts = np.floor(segment * np.arange(num_frames)).astype(np.int64)
    ends = np.maximum(starts + 1, np.floor(segment * np.arange(1, num_frames + 1)).astype(np.int64))
    return rng.integers(starts, ends)


def normalize_frames(
    frames_uint8: torch.Tensor,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """uint8 frames [..., 3, H, W] (on the device) → `dtype`, scaled to [0, 1], then
    (x - mean) / std per channel."""
    if frames_uint8.dtype != torch.uint8:
        raise ValueError(f"normalize_frames expects uint8 frames, got {frames_uint8.dtype}")
    if frames_uint8.ndim < 3 or frames_uint8.shape[-3] != 3:
        raise ValueError(
            f"normalize_frames expects [..., 3, H, W], got {tuple(frames_uint8.shape)}"
        )
    device = frames_uint8.device
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=device).view(3, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float32, device=device).view(3, 1, 1)
    frames = frames_uint8.to(torch.float32).div_(255.0)
    return frames.sub_(mean_t).div_(std_t).to(dtype)


# -- where a clip's frames come from ------------------------------------------------------------


@dataclass(frozen=True)
class ClipSource:
    """A clip's video file and the frame range to read from it (end exclusive; None: to the
    end); `prepared`: a training-copy file, already at the model's size."""

    clip_id: str
    video: Path
    start: int
    end: int | None
    prepared: bool = False


def clip_source(root: Path, clip: Clip, copies: dict[str, Path] | None) -> ClipSource:
    if copies and clip.clip_id in copies:  # the copy holds the segment only
        return ClipSource(clip.clip_id, copies[clip.clip_id], 0, None, prepared=True)
    path = Path(clip.video)
    return ClipSource(
        clip.clip_id,
        path if path.is_absolute() else root / path,
        clip.start_frame or 0,
        clip.end_frame,
    )


class ClipDecodeError(Exception):
    """A clip's video is missing, corrupt or shorter than its segment (message: why)."""


def _open_video(video: Path, size: int | None):
    import decord

    if not video.is_file():
        raise ClipDecodeError(f"video file {video} does not exist")
    try:
        if size is None:
            return decord.VideoReader(str(video), num_threads=1)
        return decord.VideoReader(str(video), width=size, height=size, num_threads=1)
    except Exception as e:  # decord raises RuntimeError or its DECORDError
        raise ClipDecodeError(f"cannot decode {video}: {_first_line(e)}") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def _segment_length(source: ClipSource, video_frames: int) -> int:
    end = video_frames if source.end is None else source.end
    if end > video_frames:
        raise ClipDecodeError(
            f"segment frames {source.start}-{end} run past the end of {source.video} "
            f"({video_frames} frames)"
        )
    if end <= source.start:
        raise ClipDecodeError(f"{source.video} has no frames (length {video_frames})")
    return end - source.start


def decode_clip_frames(
    source: ClipSource,
    *,
    num_frames: int,
    size: int | None,
    train: bool,
    rng: np.random.Generator | None = None,
) -> tuple[torch.Tensor, np.ndarray]:
    """uint8 [T, 3, size, size] frames of a clip and their indices in the video file."""
    reader = _open_video(source.video, None if source.prepared else size)
    length = _segment_length(source, len(reader))
    indices = source.start + sample_frame_indices(length, num_frames, train=train, rng=rng)
    try:
        frames = reader.get_batch(indices.tolist()).asnumpy()  # [T, H, W, 3]
    except Exception as e:
        raise ClipDecodeError(f"cannot decode frames of {source.video}: {_first_line(e)}") from None
    return torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous(), indices


# -- the dataset --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    source: ClipSource
    label: int
    text: str | None  # None: an unlabelled clip (prediction only)


def _dataset_clips(root: Path, split: str | None, *, require_labels: bool):
    dataset = open_dataset(root)
    clips = list(dataset.clips(split))
    unlabelled = [c.clip_id for c in clips if c.status == "unlabelled"]
    if unlabelled and require_labels:
        shown = ", ".join(unlabelled[:5]) + (", ..." if len(unlabelled) > 5 else "")
        raise FgTextError(
            f"{root}: {len(unlabelled)} clip(s) are unlabelled ({shown}); training needs final "
            "labels: annotate them and export the consensus labels (fgtext export)"
        )
    return dataset, clips


class VideoClipDataset(TorchDataset):
    """The clips of one split of an FG-Text dataset (`split=None`: every clip) as {"frames",
    "label", "text", "clip_id"}.

    `text_source="fg"` gives each clip's T_fg, `"class"` its class's T_c (the class-level-text
    ablation). Training needs final labels; `require_labels=False` (prediction) also takes
    unlabelled clips, whose "text" is None.

    Training offsets are random per read yet reproducible: each read of item i seeds its own
    generator from (seed, i, the number of earlier reads of i by this copy of the dataset, and
    in a DataLoader worker the seed the loader draws for its workers each epoch from torch's RNG,
    which the Trainer seeds). So every epoch sees new offsets, with or without persistent
    workers, and without any hook; `set_epoch` (accelerate calls it where it can) is mixed in."""

    def __init__(
        self,
        dataset_dir: str | Path,
        split: str | None,
        *,
        num_frames: int = 8,
        image_size: int = 448,
        train: bool,
        text_source: Literal["fg", "class"] = "fg",
        seed: int = 0,
        use_training_copy: bool = True,
        training_copy: str | Path | None = None,
        require_labels: bool = True,
    ) -> None:
        if text_source not in ("fg", "class"):
            raise FgTextError(f"text_source must be 'fg' or 'class', got {text_source!r}")
        if num_frames < 1 or image_size < 1:
            raise FgTextError(
                f"num_frames and image_size must be positive (got {num_frames}, {image_size})"
            )
        self.root = Path(dataset_dir)
        dataset, clips = _dataset_clips(self.root, split, require_labels=require_labels)
        if not clips:
            splits = ", ".join(sorted(dataset.info.splits)) or "none"
            which = "the dataset" if split is None else f"the split {split!r}"
            raise FgTextError(f"{self.root}: {which} has no clips (splits: {splits})")
        classes = sorted(dataset.classes, key=lambda c: c.id)
        self.class_names = [c.name for c in classes]
        self.class_texts = [c.text for c in classes]
        self.num_classes = len(classes)
        self.split, self.num_frames, self.image_size = split, num_frames, image_size
        self.train, self.text_source, self.seed, self.epoch = train, text_source, seed, 0
        copies = (
            read_training_copy(self.root, image_size, folder=training_copy)
            if use_training_copy
            else None
        )
        self.reads_training_copy = bool(copies)
        self._items = [
            _Item(
                clip_source(self.root, clip, copies),
                clip.label,
                clip.text if text_source == "fg" else self.class_texts[clip.label],
            )
            for clip in clips
        ]
        self.skipped = 0
        self.skipped_clips: dict[str, str] = {}
        self._reads: Counter[int] = Counter()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def labels(self) -> list[int]:
        return [item.label for item in self._items]

    @property
    def texts(self) -> list[str]:
        return [item.text for item in self._items]

    @property
    def clip_ids(self) -> list[str]:
        return [item.source.clip_id for item in self._items]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def frame_indices(self, index: int, clip_frames: int) -> np.ndarray:
        """The frames the next read of item `index` in this process samples from a clip of
        `clip_frames` frames (for tests and logs; it does not count as a read)."""
        return sample_frame_indices(
            clip_frames, self.num_frames, train=self.train, rng=self._rng(index)
        )

    def _rng(self, index: int) -> np.random.Generator:
        worker = torch.utils.data.get_worker_info()
        worker_seed = worker.seed if worker is not None else 0
        return np.random.default_rng(
            [self.seed, self.epoch, index, self._reads[index], worker_seed]
        )

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        item = self._items[index]
        try:
            frames, _ = decode_clip_frames(
                item.source,
                num_frames=self.num_frames,
                size=self.image_size,
                train=self.train,
                rng=self._rng(index),
            )
        except ClipDecodeError as e:
            self.skipped += 1
            self.skipped_clips[item.source.clip_id] = str(e)
            log.warning("skipping clip %s: %s", item.source.clip_id, e)
            return None
        finally:
            self._reads[index] += 1
        return {
            "frames": frames,
            "label": item.label,
            "text": item.text,
            "clip_id": item.source.clip_id,
        }


def collate_clips(items: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Stack items into a batch, dropping the None of undecodable clips.

    {"frames": uint8 [B, T, 3, H, W], "labels": long [B], "texts": [...], "clip_ids": [...],
    "skipped": how many were dropped}. If every item was dropped, B is 0 and frames is an empty
    uint8 tensor: the training step should skip such a batch."""
    kept = [item for item in items if item is not None]
    skipped = len(items) - len(kept)
    if not kept:
        return {
            "frames": torch.empty(0, dtype=torch.uint8),
            "labels": torch.empty(0, dtype=torch.long),
            "texts": [],
            "clip_ids": [],
            "skipped": skipped,
        }
    return {
        "frames": torch.stack([item["frames"] for item in kept]),
        "labels": torch.tensor([item["label"] for item in kept], dtype=torch.long),
        "texts": [item["text"] for item in kept],
        "clip_ids": [item["clip_id"] for item in kept],
        "skipped": skipped,
    }


# -- checking a dataset's videos ----------------------------------------------------------------


@dataclass(frozen=True)
class ClipProblem:
    clip_id: str
    split: str
    reason: str


@dataclass
class CheckReport:
    """What `check_data` found: counts of good clips and every bad clip with its reason."""

    dataset: Path
    clips: int = 0
    splits: Counter[str] = field(default_factory=Counter)
    classes: Counter[int] = field(default_factory=Counter)
    problems: list[ClipProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_clip(job: tuple[ClipSource, int]) -> str | None:
    """Why a clip cannot be trained on, or None: it opens, its segment fits, and the frames an
    evaluation samples plus the segment's last frame decode."""
    source, num_frames = job
    try:
        reader = _open_video(source.video, None)
        length = _segment_length(source, len(reader))
        indices = source.start + sample_frame_indices(length, num_frames, train=False)
        wanted = sorted({*indices.tolist(), source.start + length - 1})
        try:
            reader.get_batch(wanted)
        except Exception as e:
            raise ClipDecodeError(
                f"cannot decode frames of {source.video}: {_first_line(e)}"
            ) from None
    except ClipDecodeError as e:
        return str(e)
    return None


def check_data(
    dataset_dir: str | Path,
    *,
    num_frames: int = 8,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> CheckReport:
    """Check every clip of a dataset for training: labelled, and its video decodes."""
    root = Path(dataset_dir)
    dataset = open_dataset(root)
    clips = list(dataset.clips())
    report = CheckReport(dataset=root)
    jobs, checked = [], []
    for clip in clips:
        report.clips += 1
        report.splits[clip.split] += 1
        report.classes[clip.label] += 1
        if clip.status == "unlabelled":
            report.problems.append(
                ClipProblem(clip.clip_id, clip.split, "unlabelled (training needs final labels)")
            )
            continue
        jobs.append((clip_source(root, clip, None), num_frames))
        checked.append(clip)
    if progress:
        progress(0, len(jobs))
    # threads, not processes: decord decodes outside the GIL, and no worker pays torch's import
    pool = ThreadPoolExecutor(workers) if workers > 1 and len(jobs) > 1 else None
    try:
        results = pool.map(_check_clip, jobs) if pool else map(_check_clip, jobs)
        for done, (clip, reason) in enumerate(zip(checked, results, strict=True), 1):
            if reason:
                report.problems.append(ClipProblem(clip.clip_id, clip.split, reason))
            if progress:
                progress(done, len(jobs))
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    return report
