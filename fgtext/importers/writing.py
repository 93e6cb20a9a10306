"""Writing a manifest as an fgtext-dataset/2 folder, optionally cutting its segments."""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from fgtext.dataset import DatasetWriter
from fgtext.errors import FgTextError
from fgtext.importers.common import (
    Manifest,
    ProgressCallback,
)
from fgtext.schema import Schema, default_schema
from fgtext.video import CODEC, DEFAULT_CRF, PIXEL_FORMAT, H264Writer

# -- writing -----------------------------------------------------------------------------------


_SAFE_FILE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _cut_video(
    source: Path,
    segments: list[tuple[int, int, Path, str]],
    crf: int,
    done: Callable[[], None],
) -> None:
    """Cut every (start, end, out, clip_id) segment of `source` in one sequential decode.

    Frames are counted in decode order, so frame i is exactly the i-th decoded frame whatever
    the container's timestamps say; decoding stops after the last segment's end."""
    import av

    pending = sorted(segments, key=lambda s: (s[0], s[1]))
    active: list[tuple[int, str, H264Writer]] = []  # (end, clip_id, writer)
    last = max(end for _, end, _, _ in segments)
    index = 0
    try:
        container = av.open(str(source))
    except (av.error.FFmpegError, OSError) as e:
        raise FgTextError(f"{source}: cannot open the video ({e})") from None
    try:
        if not container.streams.video:
            raise FgTextError(f"{source}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = Fraction(stream.average_rate or stream.guessed_rate or 30)
        width = stream.codec_context.width // 2 * 2
        height = stream.codec_context.height // 2 * 2
        try:
            for frame in container.decode(stream):
                while pending and pending[0][0] == index:
                    _, end, out, clip_id = pending.pop(0)
                    writer = H264Writer(out, rate=rate, width=width, height=height, crf=crf)
                    active.append((end, clip_id, writer))
                if active:
                    picture = frame.reformat(width=width, height=height, format=PIXEL_FORMAT)
                    for _, _, writer in active:
                        writer.write(picture)
                index += 1
                for item in [a for a in active if a[0] == index]:
                    item[2].close()
                    active.remove(item)
                    done()
                if index >= last:
                    break
        except av.error.FFmpegError as e:
            raise FgTextError(f"{source}: cannot decode frame {index} ({e})") from None
        unfinished = [(e, c) for _, e, _, c in pending] + [(e, c) for e, c, _ in active]
        if unfinished:
            end, clip_id = min(unfinished)
            raise FgTextError(
                f"{source}: has only {index} frames, but clip {clip_id} needs frames up to "
                f"{end - 1} (0-based)"
            )
    finally:
        for _, _, writer in active:
            writer.abandon()
        container.close()


def write_manifest(
    manifest: Manifest,
    out: str | Path,
    *,
    cut: bool = False,
    parquet: bool = False,
    overwrite: bool = False,
    schema: Schema | None = None,
    progress: ProgressCallback | None = None,
    crf: int = DEFAULT_CRF,
) -> Path:
    """Write `manifest` as an fgtext-dataset/2 folder at `out` (atomically) and return it.

    Without `cut`, rows point at the source videos (absolute paths) and segments keep their
    `start_frame`/`end_frame`. With `cut`, each segment is decoded and re-encoded (libx264,
    `crf`) into ``videos/<clip_id>.mp4`` inside the dataset — exactly ``end - start`` frames,
    the source's frame rate, even width/height — and whole-file clips are copied to
    ``videos/<clip_id><ext>``; rows then hold that relative path and no frame range. All the
    segments of one source are cut in a single decoding pass. `progress(done, total)` is called
    as clips are done.
    """
    schema = schema or default_schema()
    clips = list(manifest.clips)
    total = len(clips)
    if not clips:
        raise FgTextError(f"manifest {manifest.name!r}: no clips to write")
    source = dict(manifest.source)
    if cut:
        source["cut"] = {"videos": "videos/<clip_id>", "codec": CODEC, "crf": crf}
    counter = {"done": 0}

    def one_done() -> None:
        counter["done"] += 1
        if progress is not None:
            progress(counter["done"], total)

    with DatasetWriter(
        out,
        name=manifest.name,
        schema=schema,
        classes=manifest.classes,
        source=source,
        parquet=parquet,
        overwrite=overwrite,
    ) as writer:
        if not cut:
            for clip in clips:
                writer.add(clip)
                one_done()
            return Path(out)
        # Check every row (ids, labels) before the slow part; then cut.
        videos = writer.staging_dir / "videos"
        videos.mkdir()
        plans: dict[Path, list[tuple[int, int, Path, str]]] = defaultdict(list)
        copies: list[tuple[Path, Path]] = []
        for clip in clips:
            if not _SAFE_FILE_ID.fullmatch(clip.clip_id):
                raise FgTextError(
                    f"clip {clip.clip_id!r}: with --cut the clip id names its file, so it may "
                    "only use letters, digits, '.', '_' and '-'"
                )
            src = Path(clip.video)
            if not src.is_file():
                raise FgTextError(f"clip {clip.clip_id}: video {src} not found")
            if clip.start_frame is not None:
                name = f"{clip.clip_id}.mp4"
                plans[src].append((clip.start_frame, clip.end_frame, videos / name, clip.clip_id))
            else:
                name = f"{clip.clip_id}{src.suffix.lower()}"
                copies.append((src, videos / name))
            writer.add(
                clip.model_copy(
                    update={"video": f"videos/{name}", "start_frame": None, "end_frame": None}
                )
            )
        for src, dst in copies:
            shutil.copy2(src, dst)
            one_done()
        for src, segments in plans.items():
            _cut_video(src, segments, crf, one_done)
    return Path(out)
