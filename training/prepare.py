"""The training copy: every clip transcoded once to the model's resolution (`fgsgl-train prepare`).

Decoding full-resolution video is the data-loading bottleneck (DESIGN.md: ~2 clips/s/core at
1080p against ~16 at 640x480), so training reads a copy of each clip's segment, decoded with
decord (the same frame numbering training uses), resized to size x size and re-encoded as H.264
with fgtext's one encoder setting (`fgtext.video`). The annotators keep the originals.

Layout (default folder `DATASET/training-copy/<size>px/`):

    videos/<clip id>-<source hash>.mp4   one file per clip: its segment only, every frame kept
    copy.json                            {"format", "size", "clips": {clip_id: {"video", "frames",
                                         "source", "start_frame", "end_frame"}}}

and `DATASET/training-copies.json` records {"<size>": folder} so `VideoClipDataset` finds it.
Resumable: a file's name carries a hash of its source (path, segment, size, file size and mtime),
so a finished clip is reused and a changed one re-made; files are written under a temporary name
and renamed, so a killed run never leaves a half-written clip that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from fgtext.dataset import open_dataset
from fgtext.errors import FgTextError
from fgtext.video import H264Writer

__all__ = [
    "COPY_FORMAT",
    "PrepareReport",
    "default_copy_folder",
    "prepare_training_copy",
    "read_training_copy",
]

TRAINING_COPIES_FILE = "training-copies.json"
COPY_MANIFEST = "copy.json"
COPY_FORMAT = "fgsgl-training-copy/1"
_CHUNK = 32  # frames decoded at a time: bounds memory on long segments
# high quality (micro-gestures are small motions), no B-frames (no reordering for decord)


def default_copy_folder(dataset_dir: str | Path, size: int) -> Path:
    return Path(dataset_dir) / "training-copy" / f"{size}px"


def temporary_path(target: Path) -> Path:
    """A unique hidden name beside `target` to write to before renaming into place (an
    ordinary file, so the umask applies: mkstemp's would be private to the user)."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = temporary_path(path)
    try:
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_training_copy(
    dataset_dir: str | Path, size: int, *, folder: str | Path | None = None
) -> dict[str, Path] | None:
    """clip_id → video of the training copy of `size`, or None if `prepare` has recorded none.
    `folder`: read that copy instead of the recorded one (e.g. beside a read-only dataset)."""
    root = Path(dataset_dir)
    registry_path = root / TRAINING_COPIES_FILE
    if folder is not None:
        return _read_manifest(Path(folder), size, f"the training copy {folder}")
    if not registry_path.is_file():
        return None
    try:
        registry = json.loads(registry_path.read_text(encoding="utf-8"))
        entry = registry.get(str(size))
    except (OSError, ValueError, AttributeError) as e:
        raise FgTextError(
            f"{registry_path}: not a valid training-copy record ({e}); delete it and run "
            "fgsgl-train prepare again"
        ) from None
    if entry is None:
        return None
    recorded = Path(entry) if Path(entry).is_absolute() else root / entry
    return _read_manifest(
        recorded, size, f"{registry_path} names the training copy {recorded} for size {size}, but"
    )


def _read_manifest(folder: Path, size: int, what: str) -> dict[str, Path]:
    try:
        manifest = json.loads((folder / COPY_MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != COPY_FORMAT or manifest.get("size") != size:
            raise ValueError(f"expected format {COPY_FORMAT} of size {size}")
        return {cid: folder / clip["video"] for cid, clip in manifest["clips"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise FgTextError(
            f"{what} its {COPY_MANIFEST} is missing or invalid ({e}); run fgsgl-train prepare again"
        ) from None


@dataclass(frozen=True)
class _Job:
    clip_id: str
    source: str
    start: int
    end: int | None
    size: int
    target: str


@dataclass
class PrepareReport:
    folder: Path
    size: int
    clips: int = 0
    transcoded: int = 0
    reused: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # clip_id → why


def _file_name(
    clip_id: str, video: str, source: Path, start: int, end: int | None, size: int
) -> str:
    """The copy's file name: the clip id and a hash of what it is made from. The video is
    hashed as clips.jsonl names it, so moving the dataset folder keeps its copy valid."""
    try:
        stat = source.stat()
        stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    key = f"{video}|{start}|{end}|{size}|{stamp}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", clip_id)[:80]
    return f"{safe}-{digest}.mp4"


def _transcode(job: _Job) -> tuple[str, int | None, str | None]:
    """(clip_id, frames written or None, error) — in a worker process."""
    import decord

    source = Path(job.source)
    if not source.is_file():
        return job.clip_id, None, f"video file {source} does not exist"
    try:
        reader = decord.VideoReader(job.source, width=job.size, height=job.size, num_threads=1)
    except Exception as e:  # decord raises RuntimeError or DECORDError
        return job.clip_id, None, f"cannot decode {source}: {str(e).strip().splitlines()[0][:200]}"
    end = len(reader) if job.end is None else job.end
    if end > len(reader) or end <= job.start:
        return (
            job.clip_id,
            None,
            f"segment frames {job.start}-{end} run past the end of {source} ({len(reader)} frames)",
        )
    fps = Fraction(reader.get_avg_fps() or 25).limit_denominator(1001)
    target = Path(job.target)
    tmp = temporary_path(target)
    writer = None
    try:
        # fgtext's one H.264 setting; one encoder thread (the workers are the parallelism)
        writer = H264Writer(tmp, rate=fps, width=job.size, height=job.size)
        for first in range(job.start, end, _CHUNK):
            indices = list(range(first, min(first + _CHUNK, end)))
            for rgb in reader.get_batch(indices).asnumpy():
                writer.write_rgb(rgb)
        writer.close()
        os.replace(tmp, target)
    except Exception as e:  # a corrupt source fails mid-way in decord or the encoder
        if writer is not None:
            writer.abandon()
        return job.clip_id, None, f"cannot transcode {source}: {str(e).strip()[:200]}"
    finally:
        tmp.unlink(missing_ok=True)
    return job.clip_id, end - job.start, None


def prepare_training_copy(
    dataset_dir: str | Path,
    *,
    size: int,
    workers: int = 1,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PrepareReport:
    """Transcode every clip's segment to size x size once (in `workers` processes), skipping
    clips already done, and record the copy for training. Bad clips are reported, not fatal."""
    if not isinstance(size, int) or size < 16 or size % 2:
        raise FgTextError(f"size must be an even number of pixels of at least 16 (got {size!r})")
    if workers < 1:
        raise FgTextError(f"workers must be at least 1 (got {workers})")
    root = Path(dataset_dir)
    dataset = open_dataset(root)
    folder = Path(out) if out else default_copy_folder(root, size)
    videos = folder / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    for leftover in videos.glob(".*.tmp"):  # from a run that was killed mid-clip
        leftover.unlink()
    report = PrepareReport(folder=folder, size=size)
    manifest: dict[str, dict[str, Any]] = {}
    jobs = []
    for clip in dataset.clips():
        report.clips += 1
        source = dataset.video_path(clip)
        start = clip.start_frame or 0
        name = _file_name(clip.clip_id, clip.video, source, start, clip.end_frame, size)
        entry = {
            "video": f"videos/{name}",
            "source": clip.video,
            "start_frame": clip.start_frame,
            "end_frame": clip.end_frame,
        }
        manifest[clip.clip_id] = entry
        if (videos / name).is_file():
            report.reused += 1
            continue
        jobs.append(
            _Job(clip.clip_id, str(source), start, clip.end_frame, size, str(videos / name))
        )
    previous = _previous_frames(folder)
    for clip_id, entry in manifest.items():
        if clip_id in previous and previous[clip_id][0] == entry["video"]:
            entry["frames"] = previous[clip_id][1]
    if progress:
        progress(report.reused, report.clips)
    done = report.reused
    # spawn: the caller may run threads (rich, torch); forking them is unsafe
    pool = (
        ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        if workers > 1 and len(jobs) > 1
        else None
    )
    try:
        results = pool.map(_transcode, jobs) if pool else map(_transcode, jobs)
        for clip_id, frames, error in results:
            done += 1
            if error:
                report.failed[clip_id] = error
                del manifest[clip_id]
            else:
                report.transcoded += 1
                manifest[clip_id]["frames"] = frames
            if progress:
                progress(done, report.clips)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    kept = {Path(entry["video"]).name for entry in manifest.values()}
    for stale in videos.glob("*.mp4"):  # clips whose source changed or that left the dataset
        if stale.name not in kept:
            stale.unlink()
    _write_json_atomic(
        folder / COPY_MANIFEST,
        {
            "format": COPY_FORMAT,
            "size": size,
            "dataset": dataset.name,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "clips": manifest,
        },
    )
    _register(root, size, folder)
    return report


def _previous_frames(folder: Path) -> dict[str, tuple[str, int | None]]:
    """Frame counts a previous run recorded, to keep them for the clips it reuses."""
    try:
        clips = json.loads((folder / COPY_MANIFEST).read_text(encoding="utf-8"))["clips"]
        return {cid: (entry["video"], entry.get("frames")) for cid, entry in clips.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _register(root: Path, size: int, folder: Path) -> None:
    registry_path = root / TRAINING_COPIES_FILE
    registry: dict[str, str] = {}
    if registry_path.is_file():
        try:
            registry = dict(json.loads(registry_path.read_text(encoding="utf-8")))
        except (ValueError, TypeError):
            registry = {}  # an unreadable record is replaced
    try:
        recorded = str(folder.resolve().relative_to(root.resolve()))
    except ValueError:  # outside the dataset: keep it absolute
        recorded = str(folder.resolve())
    registry[str(size)] = recorded
    _write_json_atomic(registry_path, dict(sorted(registry.items())))
