"""One clip's frames: the figure in motion, layered, with a camera (position, scale, jitter,
noise); `render_clip` returns them and `write_mp4` encodes them (`fgtext.video`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from statistics import NormalDist

import numpy as np

from fgtext.errors import FgTextError
from fgtext.schema import (
    DIMENSIONS,
)
from fgtext.synth.figure import _figure, _palette
from fgtext.synth.motion import _Motion
from fgtext.synth.raster import _Canvas, _Prim
from fgtext.video import encode_h264


class _Layers:
    """Renders a sequence of primitive lists, redrawing only what changed since the first frame.

    A frame differs from the reference (first) frame only inside the box around the primitives
    that changed; inside it, everything below the first changed primitive is the same as in the
    reference, so it comes from a cached image of that prefix and only the rest is redrawn."""

    def __init__(self, canvas: _Canvas) -> None:
        self.canvas = canvas
        self.prefix: dict[int, np.ndarray] = {}

    def _prefix(self, ref: Sequence[_Prim], k: int) -> np.ndarray:
        if k not in self.prefix:
            img = np.empty((self.canvas.h, self.canvas.w, 3), np.float32)
            self.canvas.render(ref[:k], img)
            self.prefix[k] = img
        return self.prefix[k]

    def frames(self, sequence: Iterable[list[_Prim]]) -> Iterator[np.ndarray]:
        """One float image per primitive list (the same buffer each time: copy to keep it)."""
        w, h = self.canvas.w, self.canvas.h
        ref: list[_Prim] = []
        first_img = np.empty((h, w, 3), np.float32)
        img = np.empty((h, w, 3), np.float32)
        for i, prims in enumerate(sequence):
            if i == 0:
                self.canvas.render(prims, first_img)
                ref = prims
                img[:] = first_img
                yield img
                continue
            if len(prims) != len(ref):
                self.canvas.render(prims, img)
                yield img
                continue
            img[:] = first_img
            first, box = None, None
            for j, (a, b) in enumerate(zip(prims, ref, strict=True)):
                if a != b:
                    first = j if first is None else first
                    for bb in (a[3], b[3]):
                        box = (
                            bb
                            if box is None
                            else (
                                min(box[0], bb[0]),
                                min(box[1], bb[1]),
                                max(box[2], bb[2]),
                                max(box[3], bb[3]),
                            )
                        )
            if first is not None:
                x0, y0 = max(int(box[0]), 0), max(int(box[1]), 0)
                x1, y1 = min(int(box[2]) + 2, w), min(int(box[3]) + 2, h)
                if x0 < x1 and y0 < y1:
                    img[y0:y1, x0:x1] = self._prefix(ref, first)[y0:y1, x0:x1]
                    for prim in prims[first:]:
                        b = prim[3]
                        if b[0] < x1 and b[1] < y1 and b[2] > x0 and b[3] > y0:
                            self.canvas._draw(img, prim, (x0, y0, x1, y1))
            yield img


def _clip_frames(
    attributes: Mapping[str, str],
    *,
    width: int,
    height: int,
    fps: int,
    seconds: float,
    noise: float,
    rng: np.random.Generator,
) -> Iterator[np.ndarray]:
    """The frames of `render_clip`, one (H, W, 3) uint8 array at a time (a fresh one each).

    Checks its arguments at once (not at the first frame)."""
    missing = [d for d in DIMENSIONS if not isinstance(attributes.get(d), str)]
    if missing:
        raise FgTextError(
            f"render_clip: attributes need {', '.join(DIMENSIONS)} (no {missing[0]!r})"
        )
    n_frames = round(fps * seconds)
    if n_frames < 1 or width < 2 or height < 2:
        raise FgTextError(f"render_clip: nothing to render ({width}x{height}, {n_frames} frames)")
    palette = _palette(rng)
    motion = _Motion(attributes, seconds, rng)
    # figure placement: scale to the frame, a little random offset and size
    base = min(width / 160.0, height / 120.0)
    scale = base * float(rng.uniform(0.95, 1.05))
    ox = float(rng.uniform(-4, 4)) * base
    oy = float(rng.uniform(-2.5, 2.5)) * base
    place = (width / 2 + ox, height / 2 + oy, scale)
    offs = motion.offsets(np.arange(n_frames) / fps)
    sequence = [
        _figure(motion.pose({s: o[i] for s, o in offs.items()}), place) for i in range(n_frames)
    ]
    layers = _Layers(_Canvas(width, height, palette))
    post = _Camera(sequence, width, height, noise, base, palette["background"], rng)

    def generate() -> Iterator[np.ndarray]:
        for img in layers.frames(sequence):
            yield post(img)

    return generate()


# 256 equally likely values of a standard normal variable (their quantiles), for fast noise
_GAUSS = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)], np.float32)
_GAUSS /= _GAUSS.std()


class _Camera:
    """Per-frame sensor effects: a slow sub-pixel wander of the picture (a hand-held camera)
    and per-pixel grey Gaussian noise; then rounding to uint8.

    Only the figure's region can change under a shift (the rest is plain background), so the
    bilinear shift works on that region, read from a background-padded buffer."""

    def __init__(self, sequence, width, height, noise, base, background, rng) -> None:
        self.rng, self.i = rng, 0
        self.noise = float(noise)
        self.std = np.float32(noise * 255.0)
        self.shifts = None
        if noise <= 0:
            return
        n = len(sequence)
        t = np.arange(n, dtype=np.float64)
        amplitude = noise * 25.0 * base
        shifts = []
        for _ in range(2):
            f1, f2 = rng.uniform(0.02, 0.08, 2)
            p1, p2 = rng.uniform(0, 2 * math.pi, 2)
            wander = 0.7 * np.sin(2 * math.pi * f1 * t + p1)
            wander += 0.3 * np.sin(2 * math.pi * f2 * t + p2)
            shifts.append(amplitude * (wander + 0.15 * rng.standard_normal(n)))
        self.shifts = np.stack(shifts, axis=1)  # (n, 2): x, y
        self.pad = p = math.ceil(float(np.abs(self.shifts).max())) + 2
        boxes = [prim[3] for prims in sequence for prim in prims]
        x0 = max(int(min(b[0] for b in boxes)), 0)
        y0 = max(int(min(b[1] for b in boxes)), 0)
        x1 = min(int(max(b[2] for b in boxes)) + 2, width)
        y1 = min(int(max(b[3] for b in boxes)) + 2, height)
        self.region = (x0, y0, x1, y1)  # where the figure can be
        self.out = (max(x0 - p, 0), max(y0 - p, 0), min(x1 + p, width), min(y1 + p, height))
        self.buf = np.empty((height + 2 * p, width + 2 * p, 3), np.float32)
        self.buf[:] = background

    def __call__(self, img: np.ndarray) -> np.ndarray:
        if self.shifts is None:
            img += 0.5
            np.clip(img, 0, 255, out=img)
            return img.astype(np.uint8)
        sx, sy = (float(v) for v in self.shifts[self.i])
        self.i += 1
        p, (x0, y0, x1, y1), (ox0, oy0, ox1, oy1) = self.pad, self.region, self.out
        self.buf[y0 + p : y1 + p, x0 + p : x1 + p] = img[y0:y1, x0:x1]
        kx, ky = math.floor(sx), math.floor(sy)
        fx, fy = sx - kx, sy - ky
        # out[y, x] = img[y - sy, x - sx], bilinear between the four neighbours
        ya, xa = oy0 + p - ky, ox0 + p - kx
        h, w = oy1 - oy0, ox1 - ox0
        b = self.buf
        out = b[ya : ya + h, xa : xa + w] * np.float32((1 - fx) * (1 - fy))
        out += b[ya : ya + h, xa - 1 : xa - 1 + w] * np.float32(fx * (1 - fy))
        out += b[ya - 1 : ya - 1 + h, xa : xa + w] * np.float32((1 - fx) * fy)
        out += b[ya - 1 : ya - 1 + h, xa - 1 : xa - 1 + w] * np.float32(fx * fy)
        img[oy0:oy1, ox0:ox1] = out
        hgt, wid = img.shape[:2]
        idx = np.frombuffer(self.rng.bytes(hgt * wid), np.uint8).reshape(hgt, wid)
        grain = _GAUSS[idx]
        grain *= self.std
        grain += 0.5  # rounding, below
        img += grain[:, :, None]
        np.clip(img, 0, 255, out=img)
        return img.astype(np.uint8)


def render_clip(
    attributes: Mapping[str, str], *, width: int, height: int, fps: int, seconds: float,
    noise: float, rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """Frames (T, H, W, 3) uint8 of the figure performing `attributes`; T = round(fps*seconds).

    Any value names render (unknown ones through a deterministic fallback); the randomness
    (timing, amplitude, position, colours, noise) comes from `rng` only."""
    frames = _clip_frames(
        attributes, width=width, height=height, fps=fps, seconds=seconds, noise=noise, rng=rng
    )
    return np.stack(list(frames))


# Synthetic cartoons need less than camera footage: crf 23 is close (see the tests) and small.
SYNTH_CRF = 23


def write_mp4(frames: np.ndarray | Iterable[np.ndarray], path: Path, fps: int) -> None:
    """Encode (T, H, W, 3) uint8 frames (an array or an iterable of (H, W, 3) arrays) as H.264
    in an mp4 with fgtext's one set of settings (`fgtext.video`) at crf 23; decodable by PyAV
    and decord."""
    encode_h264(frames, path, fps, crf=SYNTH_CRF)
