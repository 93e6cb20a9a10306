"""Video files: the one H.264 encoder (one set of settings) and the one probe of a video's frame
count and rate. Used by `fgtext.synth` (rendered clips), `fgtext.importers` (`--cut`), the
annotator's media info route, and meant for `training/prepare.py` (the training copy).

Settings: libx264, yuv420p, preset veryfast, no B-frames (decoders never reorder frames, which
frame-exact readers such as decord and the player's frame stepping rely on) and the cheapest
motion search (about a third faster at about the same quality); one encoder thread, so the bytes
do not depend on the machine's core count; `+faststart`, so browsers start playing before the
whole file has arrived. Quality is the caller's one choice, the constant rate factor `crf`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from fgtext.errors import FgTextError

CODEC = "libx264"
PIXEL_FORMAT = "yuv420p"
PRESET = "veryfast"
X264_PARAMS = "bframes=0:subme=1:me=dia:trellis=0"
DEFAULT_CRF = 18  # visually lossless for the small motions annotators look for
CONTAINER_OPTIONS = {"movflags": "+faststart"}


class VideoError(FgTextError):
    """A video file that cannot be read (missing, not a video, no video stream)."""


def encoder_options(crf: int = DEFAULT_CRF) -> dict[str, str]:
    """The x264 options of every H.264 file fgtext writes."""
    return {"crf": str(crf), "preset": PRESET, "x264-params": X264_PARAMS}


class H264Writer:
    """An H.264 mp4 being written frame by frame (`write` takes PyAV frames, `write_rgb`
    (H, W, 3) uint8 arrays); `close` finishes it, `abandon` drops it. Width and height must be
    even (yuv420p)."""

    def __init__(
        self, path: str | Path, *, rate: int | Fraction, width: int, height: int,
        crf: int = DEFAULT_CRF,
    ) -> None:  # fmt: skip
        import av

        if width % 2 or height % 2:
            raise FgTextError(
                f"{path}: width and height must be even for {PIXEL_FORMAT} (got {width}x{height})"
            )
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.width, self.height = width, height
        self.container = av.open(str(self.path), mode="w", format="mp4", options=CONTAINER_OPTIONS)
        self.stream = self.container.add_stream(CODEC, rate=rate)
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = PIXEL_FORMAT
        self.stream.codec_context.thread_count = 1
        self.stream.options = encoder_options(crf)
        self.time_base = 1 / Fraction(rate)
        self.count = 0

    def write(self, frame: Any) -> None:
        """Append a PyAV VideoFrame (yuv420p at the writer's size)."""
        frame.pts = self.count
        frame.time_base = self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.count += 1

    def write_rgb(self, rgb: np.ndarray) -> None:
        """Append an (H, W, 3) uint8 RGB frame of the writer's size."""
        import av

        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise FgTextError(
                f"{self.path}: expected (H, W, 3) uint8 frames, got {rgb.shape} {rgb.dtype}"
            )
        if rgb.shape[:2] != (self.height, self.width):
            raise FgTextError(f"{self.path}: frame size changed to {rgb.shape[1]}x{rgb.shape[0]}")
        self.write(av.VideoFrame.from_ndarray(rgb_to_yuv420p(rgb), format=PIXEL_FORMAT))

    def close(self) -> Path:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        return self.path

    def abandon(self) -> None:
        """Close without finishing and remove the partial file."""
        with contextlib.suppress(Exception):
            self.container.close()
        self.path.unlink(missing_ok=True)


def encode_h264(
    frames: np.ndarray | Iterable[np.ndarray], path: str | Path, fps: int, *,
    crf: int = DEFAULT_CRF,
) -> Path:  # fmt: skip
    """Encode (T, H, W, 3) uint8 RGB frames (an array or an iterable of (H, W, 3) arrays) as
    an H.264 mp4 at `fps`; nothing is left at `path` if it fails."""
    writer: H264Writer | None = None
    try:
        for rgb in frames:
            rgb = np.asarray(rgb)
            if writer is None:
                if rgb.ndim != 3:
                    raise FgTextError(
                        f"{path}: expected (H, W, 3) uint8 frames, got {rgb.shape} {rgb.dtype}"
                    )
                writer = H264Writer(
                    path, rate=fps, width=rgb.shape[1], height=rgb.shape[0], crf=crf
                )
            writer.write_rgb(rgb)
        if writer is None:
            raise FgTextError(f"{path}: no frames to write")
        return writer.close()
    except BaseException:
        if writer is not None:
            writer.abandon()
        raise


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range yuv420p planes stacked as (3H/2, W), in integer arithmetic.

    Done here rather than by swscale: its SIMD paths depend on the buffer's alignment, so the
    same frame gave different bytes depending on where numpy had put it."""
    h, w = rgb.shape[:2]
    r, g, b = (rgb[..., i].astype(np.int32) for i in range(3))
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    # chroma from the 2x2 block means (sums of four, hence the extra >> 2)
    r4, g4, b4 = (c.reshape(h // 2, 2, w // 2, 2).sum((1, 3)) for c in (r, g, b))
    u = ((-38 * r4 - 74 * g4 + 112 * b4 + 512) >> 10) + 128
    v = ((112 * r4 - 94 * g4 - 18 * b4 + 512) >> 10) + 128
    planes = [y.ravel(), u.ravel(), v.ravel()]
    return np.clip(np.concatenate(planes), 0, 255).astype(np.uint8).reshape(h * 3 // 2, w)


# -- probing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says about its first video stream."""

    fps: float | None
    frames: int | None  # declared, else estimated from duration x fps
    declared_frames: int | None  # what the container declares (None: it declares none)
    duration: float | None  # seconds
    width: int
    height: int
    rate: Fraction | None  # the exact frame rate (fps is its float)

    def to_dict(self) -> dict[str, float | int | None]:
        """fps, frames, duration, width and height (e.g. for the annotator's player)."""
        info = asdict(self)
        return {k: info[k] for k in ("fps", "frames", "duration", "width", "height")}


def probe_video(path: str | Path) -> VideoInfo:
    """Frame rate, frame count, duration and size of a video file, from its container (no
    decoding); VideoError when it cannot be opened or has no video stream."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path} has no video stream")
            stream = container.streams.video[0]
            raw = stream.average_rate or stream.guessed_rate
            rate = Fraction(raw) if raw else None
            fps = float(rate) if rate else None
            duration = (
                float(stream.duration * stream.time_base)
                if stream.duration is not None and stream.time_base is not None
                else (container.duration / 1e6 if container.duration else None)
            )
            declared = stream.frames or None
            frames = declared or (round(duration * fps) if duration and fps else None)
            return VideoInfo(
                fps=fps, frames=frames, declared_frames=declared, duration=duration,
                width=stream.codec_context.width, height=stream.codec_context.height, rate=rate,
            )  # fmt: skip
    except (av.error.FFmpegError, OSError) as e:
        raise VideoError(f"cannot open the video {path} ({e})") from None
