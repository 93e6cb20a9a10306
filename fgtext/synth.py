"""Synthetic micro-gestures: small H.264 clips of a seated cartoon figure, with FG-Text labels.

`synthesize(out, SynthConfig(...))` writes an `fgtext-dataset/1` whose every clip shows one
attribute tuple of its class: the *initiator* (the body part that moves), its *receiver* (the
place on the figure it moves to, or none), the *direction* (a displacement pattern) and the
*motion type* (a temporal profile: approach and stay, fast small oscillation, repeated taps, a
smooth shift, ...). As in real micro-gestures the motion is small and local (a few to ~15 pixels
at 160x120), so a video model has to look at where and how something moves to tell classes apart.
Per-clip randomness (onset, speed, amplitude, figure position and scale, colours, pixel noise and
a slight whole-figure jitter) makes clips of a class differ; a seed makes everything reproducible.

Each clip also carries simulated annotators' labels (`annotations`): copies of the ground truth
in which each value is replaced by another valid one with probability `annotator_error`, which
gives `fgtext agreement` and the annotation tools something realistic to chew on.

Drawing is numpy only: anti-aliased ellipses, capsules (thick segments) and convex polygons,
redrawn per frame only inside the rectangle where something changed. Values a project adds to
its schema render through a generic fallback chosen deterministically from the value's name.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from fgtext.compose import compose_fg_text
from fgtext.dataset import DatasetWriter, open_dataset
from fgtext.errors import FgTextError
from fgtext.schema import (
    BUILTIN_CLASS_LISTS,
    DIMENSIONS,
    ClassDef,
    Schema,
    default_schema,
    load_class_list,
    load_schema,
)
from fgtext.video import encode_h264
from fgtext.vocabulary import ClipStatus

__all__ = [
    "SynthConfig",
    "render_clip",
    "resolve_classes",
    "simulated_labels",
    "synthesize",
    "write_mp4",
]

GENERATOR = "fgtext.synth"
DEFAULT_CLASS_LIST = "smg"
MAX_SIDE = 4096
_PARALLEL_FROM = 24  # clips; fewer are rendered in this process (a pool costs ~0.1-0.5 s)


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Invalid values raise FgTextError when the config is made."""

    # a class list (smg, imigue, a file: all its classes) or N (the first N classes of smg)
    classes: str | int = 6
    clips_per_class: int = 8
    width: int = 160  # even (yuv420p)
    height: int = 120  # even (yuv420p)
    fps: int = 25
    seconds: float = 2.0
    noise: float = 0.02  # pixel noise std as a fraction of 255 (+ whole-figure jitter)
    seed: int = 0
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)  # train/validation/test, per class
    annotators: int = 3  # simulated annotators per clip (0: no annotations)
    annotator_error: float = 0.15  # chance an annotator replaces a value with another one
    schema: str | None = None  # a schema file; None: the default micro-gesture schema
    name: str | None = None  # the dataset's name; None: "synth-<class list>"

    def __post_init__(self) -> None:
        # Normalise what JSON, numpy or a CLI may hand us (a list for split, a Path, "6" for 6).
        for key, value in asdict(self).items():
            if isinstance(value, np.generic):
                object.__setattr__(self, key, value.item())
        if isinstance(self.split, list | tuple):
            split = tuple(v.item() if isinstance(v, np.generic) else v for v in self.split)
            object.__setattr__(self, "split", split)
        if isinstance(self.classes, Path):
            object.__setattr__(self, "classes", str(self.classes))
        if isinstance(self.classes, str) and self.classes.strip().isdigit():
            object.__setattr__(self, "classes", int(self.classes.strip()))
        if isinstance(self.schema, Path):
            object.__setattr__(self, "schema", str(self.schema))
        self.validate()

    @property
    def frames(self) -> int:
        """Frames per clip: fps x seconds, rounded."""
        return round(self.fps * self.seconds)

    def validate(self) -> None:
        def is_int(v: object) -> bool:
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        def is_num(v: object) -> bool:
            return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)

        c = self.classes
        if is_int(c):
            if c < 1:
                raise FgTextError(f"synth: classes must be at least 1 (got {c})")
        elif not isinstance(c, str) or not c.strip():
            raise FgTextError(
                f"synth: classes must be a class list (smg, imigue, a file) or a number (got {c!r})"
            )
        if not is_int(self.clips_per_class) or self.clips_per_class < 1:
            raise FgTextError(
                f"synth: clips_per_class must be a whole number of at least 1 "
                f"(got {self.clips_per_class!r})"
            )
        for key in ("width", "height"):
            v = getattr(self, key)
            if not is_int(v) or v % 2 or not 32 <= v <= MAX_SIDE:
                raise FgTextError(
                    f"synth: {key} must be an even number of pixels from 32 to {MAX_SIDE} "
                    f"(H.264 yuv420p needs even sizes; got {v!r})"
                )
        if not is_int(self.fps) or not 1 <= self.fps <= 240:
            raise FgTextError(f"synth: fps must be a whole number from 1 to 240 (got {self.fps!r})")
        if not is_num(self.seconds) or not math.isfinite(self.seconds) or self.seconds > 600:
            raise FgTextError(f"synth: seconds must be a number up to 600 (got {self.seconds!r})")
        if self.frames < 2:
            raise FgTextError(
                f"synth: a clip needs at least 2 frames; {self.seconds} s at {self.fps} fps "
                f"gives {self.frames}"
            )
        if not is_num(self.noise) or not 0 <= self.noise <= 0.5:
            raise FgTextError(f"synth: noise must be from 0 to 0.5 (got {self.noise!r})")
        if not is_int(self.seed) or self.seed < 0:
            raise FgTextError(f"synth: seed must be a whole number >= 0 (got {self.seed!r})")
        s = self.split
        if (
            not isinstance(s, tuple)
            or len(s) != 3
            or not all(is_num(x) and math.isfinite(x) and x >= 0 for x in s)
        ):
            raise FgTextError(
                f"synth: split must be three fractions >= 0 for train, validation, test (got {s!r})"
            )
        if abs(sum(s) - 1.0) > 1e-6:
            raise FgTextError(
                f"synth: the split fractions must sum to 1 (got {', '.join(map(str, s))} "
                f"= {sum(s):g})"
            )
        if not is_int(self.annotators) or not 0 <= self.annotators <= 100:
            raise FgTextError(
                f"synth: annotators must be a whole number from 0 to 100 (got {self.annotators!r})"
            )
        if not is_num(self.annotator_error) or not 0 <= self.annotator_error <= 1:
            raise FgTextError(
                f"synth: annotator_error must be a probability from 0 to 1 "
                f"(got {self.annotator_error!r})"
            )
        if self.schema is not None and (not isinstance(self.schema, str) or not self.schema):
            raise FgTextError(f"synth: schema must be a schema file path (got {self.schema!r})")


def resolve_classes(config: SynthConfig, schema: Schema | None = None) -> list[ClassDef]:
    """The classes a config asks for, each with at least one attribute tuple."""
    schema = schema or default_schema()
    c = config.classes
    if isinstance(c, str):
        key = c.strip()
        if key.lower() not in BUILTIN_CLASS_LISTS and not Path(key).is_file():
            raise FgTextError(
                f"synth: unknown class list {key!r}; give {', '.join(BUILTIN_CLASS_LISTS)}, "
                "a class-list file or a number of classes"
            )
        classes = load_class_list(key, schema)
        source = key
    else:
        classes = load_class_list(DEFAULT_CLASS_LIST, schema)
        if c > len(classes):
            raise FgTextError(
                f"synth: {DEFAULT_CLASS_LIST} has {len(classes)} classes, so classes={c} is too "
                "many; use classes='imigue' (32) or a class-list file"
            )
        classes = classes[:c]
        source = DEFAULT_CLASS_LIST
    bare = [cl.name for cl in classes if not cl.attributes]
    if bare:
        raise FgTextError(
            f"synth: class {bare[0]!r} of {source} has no attribute tuples; the generator needs "
            "each class's typical attributes (a JSON class list with 'attributes')"
        )
    return classes


# -- small numpy rasteriser -------------------------------------------------------------------

# A primitive: (kind, params, colour name, bounding box x0, y0, x1, y1). Pixel coordinates.
_ELLIPSE, _CAPSULE, _POLY = 0, 1, 2
_Prim = tuple[int, tuple[float, ...], str, tuple[float, float, float, float]]


def _ellipse(cx: float, cy: float, rx: float, ry: float, col: str) -> _Prim:
    rx, ry = max(rx, 0.3), max(ry, 0.3)
    return (_ELLIPSE, (cx, cy, rx, ry), col, (cx - rx - 1, cy - ry - 1, cx + rx + 1, cy + ry + 1))


def _capsule(x0: float, y0: float, x1: float, y1: float, r: float, col: str) -> _Prim:
    r = max(r, 0.3)
    box = (min(x0, x1) - r - 1, min(y0, y1) - r - 1, max(x0, x1) + r + 1, max(y0, y1) + r + 1)
    return (_CAPSULE, (x0, y0, x1, y1, r), col, box)


def _poly(points: Sequence[tuple[float, float]], col: str) -> _Prim:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    box = (min(xs) - 1, min(ys) - 1, max(xs) + 1, max(ys) + 1)
    return (_POLY, tuple(v for p in zip(xs, ys, strict=True) for v in p), col, box)


class _Canvas:
    """Float RGB image with anti-aliased drawing, optionally clipped to a rectangle."""

    def __init__(self, width: int, height: int, palette: Mapping[str, np.ndarray]) -> None:
        self.w, self.h = width, height
        self.palette = palette
        self.xs = np.arange(width, dtype=np.float32) + 0.5  # pixel centres
        self.ys = np.arange(height, dtype=np.float32) + 0.5

    def render(self, prims: Sequence[_Prim], img: np.ndarray, clip=None) -> None:
        """Draw `prims` over the background into img (whole image, or only `clip`)."""
        x0, y0, x1, y1 = clip or (0, 0, self.w, self.h)
        img[y0:y1, x0:x1] = self.palette["background"]
        for prim in prims:
            b = prim[3]
            if b[0] < x1 and b[1] < y1 and b[2] > x0 and b[3] > y0:
                self._draw(img, prim, (x0, y0, x1, y1))

    def _draw(self, img: np.ndarray, prim: _Prim, clip: tuple[int, int, int, int]) -> None:
        kind, p, col, (bx0, by0, bx1, by1) = prim
        x0, y0 = max(int(bx0), clip[0]), max(int(by0), clip[1])
        x1, y1 = min(int(bx1) + 2, clip[2]), min(int(by1) + 2, clip[3])
        if x0 >= x1 or y0 >= y1:
            return
        X = self.xs[None, x0:x1]
        Y = self.ys[y0:y1, None]
        if kind == _ELLIPSE:
            cx, cy, rx, ry = p
            dx = (X - cx) * (1.0 / rx)
            dy = (Y - cy) * (1.0 / ry)
            cov = np.sqrt(dx * dx + dy * dy)
            cov *= -min(rx, ry)
            cov += min(rx, ry) + 0.5
        elif kind == _CAPSULE:
            ax, ay, bx, by, r = p
            vx, vy = bx - ax, by - ay
            ll = vx * vx + vy * vy
            px, py = X - ax, Y - ay
            if ll > 1e-9:
                t = px * (vx / ll) + py * (vy / ll)
                np.clip(t, 0.0, 1.0, out=t)
                px, py = px - t * vx, py - t * vy
            cov = np.sqrt(px * px + py * py)
            np.subtract(r + 0.5, cov, out=cov)
        else:
            pts = np.asarray(p, dtype=np.float64).reshape(-1, 2)
            centre = pts.mean(axis=0)
            d = None
            for i in range(len(pts)):
                a, b = pts[i], pts[(i + 1) % len(pts)]
                ex, ey = b - a
                n = math.hypot(ex, ey)
                if n < 1e-9:
                    continue
                nx, ny = ey / n, -ex / n
                if nx * (centre[0] - a[0]) + ny * (centre[1] - a[1]) > 0:
                    nx, ny = -nx, -ny
                e = (X - a[0]) * nx + (Y - a[1]) * ny
                d = e if d is None else np.maximum(d, e, out=d)
            if d is None:
                return
            cov = np.subtract(0.5, d, out=d)
        np.clip(cov, 0.0, 1.0, out=cov)
        region = img[y0:y1, x0:x1]
        region += cov[..., None] * (self.palette[col] - region)


# -- the figure -------------------------------------------------------------------------------

# Base coordinates: a 160x120 frame, the figure's midline at x=80. Side -1 is the person's right
# (the image's left: the figure faces the camera), +1 the person's left.
_MID_X, _MID_Y = 80.0, 61.0
_L_UPPER, _L_FORE = 18.5, 19.5  # arm segment lengths (2-D, cartoon)

_PALETTE = {
    "background": (214, 219, 226),
    "chair": (118, 86, 64),
    "chair_dark": (86, 62, 46),
    "shirt": (68, 112, 172),
    "shirt_light": (150, 178, 215),
    "sleeve": (58, 98, 156),
    "forearm": (64, 104, 162),
    "belt": (40, 36, 34),
    "trousers": (58, 60, 78),
    "trousers_dark": (48, 50, 66),
    "shoes": (34, 30, 30),
    "skin": (226, 182, 150),
    "skin_dark": (205, 158, 128),
    "hand": (204, 138, 104),
    "hand_edge": (122, 76, 56),
    "hair": (72, 46, 30),
    "eye": (36, 28, 28),
    "lips": (176, 84, 86),
    "collar": (238, 238, 242),
    "tie": (152, 38, 52),
    "hat": (46, 48, 58),
    "gold": (226, 186, 60),
    "object": (40, 160, 96),
}


def _palette(rng: np.random.Generator) -> dict[str, np.ndarray]:
    tint = rng.uniform(-6, 6, 3)
    out = {}
    for name, rgb in _PALETTE.items():
        jitter = rng.uniform(-10, 10, 3) if name in ("background", "shirt", "chair") else 0.0
        out[name] = np.clip(np.asarray(rgb, np.float32) + tint + jitter, 0, 255).astype(np.float32)
    out["sleeve"] = np.clip(out["shirt"] * 0.88, 0, 255)
    out["forearm"] = np.clip(out["shirt"] * 0.93, 0, 255)
    out["shirt_light"] = np.clip(out["shirt"] * 0.5 + 120, 0, 255)
    return out


def _rest_hand(side: int) -> tuple[float, float]:
    return (_MID_X + side * 7.5, 77.0)


def _shoulder(side: int) -> tuple[float, float]:
    return (_MID_X + side * 12.5, 41.5)


def _knee(side: int) -> tuple[float, float]:
    return (_MID_X + side * 9.0, 86.0)


def _foot(side: int) -> tuple[float, float]:
    return (_MID_X + side * 10.5, 108.5)


class _Pose:
    """Everything that can move, in base coordinates; neutral values from the constructor."""

    def __init__(self) -> None:
        self.ub = (0.0, 0.0, 1.0)  # upper body: dx, dy, scale about the hips
        self.head = (0.0, 0.0, 1.0)  # head group: dx, dy, scale
        self.face_scale = 1.0
        self.features = (0.0, 0.0)  # eyes, nose, mouth offset within the face
        self.mouth = (0.0, 0.0, 1.0, 0.0)  # dx, dy, width scale, opening
        self.shoulder = {-1: (0.0, 0.0), 1: (0.0, 0.0)}  # offsets of the shoulder joints
        self.chest = 1.0  # width scale of the upper torso
        # hands: x, y, scale, finger angle
        self.hand = {s: (*_rest_hand(s), 1.0, 0.0) for s in (-1, 1)}
        self.behind = {-1: False, 1: False}
        self.branch = {-1: 0, 1: 0}  # elbow IK branch (0: choose)
        self.knee = {-1: (0.0, 0.0), 1: (0.0, 0.0)}
        self.foot = {-1: (0.0, 0.0), 1: (0.0, 0.0)}
        self.front_leg = 1  # drawn last
        self.hat = self.tie = self.jewelry = False
        self.obj: tuple[float, float] | None = None


def _elbow(
    shoulder: tuple[float, float], hand: tuple[float, float], side: int, branch: int
) -> tuple[tuple[float, float], int]:
    """2-link inverse kinematics; branch +-1 picks the bend (0: the lower, more outward one)."""
    dx, dy = hand[0] - shoulder[0], hand[1] - shoulder[1]
    dist = math.hypot(dx, dy)
    ux, uy = (dx / dist, dy / dist) if dist > 1e-6 else (0.0, 1.0)
    # A hand near the shoulder means an arm toward the camera: shorten the 2-D segments.
    f = min(max(dist / 30.0, 0.62), 1.0)
    l1, l2 = _L_UPPER * f, _L_FORE * f
    dist = min(max(dist, abs(l1 - l2) + 1e-3), l1 + l2 - 1e-3)
    a = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
    h = math.sqrt(max(l1 * l1 - a * a, 0.0))

    def at(b: int) -> tuple[float, float]:
        return (shoulder[0] + ux * a - b * uy * h, shoulder[1] + uy * a + b * ux * h)

    if branch == 0:
        branch = max((1, -1), key=lambda b: at(b)[1] + 0.3 * side * (at(b)[0] - _MID_X))
    ex, ey = at(branch)
    # Keep the elbow on its own side of the body (reads as an arm coming toward the camera).
    if side * (ex - _MID_X) < 3.0:
        ex = _MID_X + side * 3.0
    return (ex, ey), branch


def _figure(pose: _Pose, place: tuple[float, float, float]) -> list[_Prim]:
    """The drawing primitives (back to front) of one pose, in pixel coordinates.

    `place` = (cx, cy, scale): where the base frame's (_MID_X, _MID_Y) lands and its scale."""
    out: list[_Prim] = []
    cx, cy, S = place

    def tf(p):
        return (cx + (p[0] - _MID_X) * S, cy + (p[1] - _MID_Y) * S)

    def E(c, rx, ry, col):
        x, y = tf(c)
        out.append(_ellipse(x, y, rx * S, ry * S, col))

    def C(a, b, r, col):
        (x0, y0), (x1, y1) = tf(a), tf(b)
        out.append(_capsule(x0, y0, x1, y1, r * S, col))

    def P(points, col):
        out.append(_poly([tf(p) for p in points], col))

    ubx, uby, ubs = pose.ub

    def up(p):  # upper-body transform about the hips
        return (_MID_X + (p[0] - _MID_X) * ubs + ubx, 74.0 + (p[1] - 74.0) * ubs + uby)

    hdx, hdy, hs = pose.head

    def hd(p):  # head-group transform (inside the upper body)
        return up((_MID_X + (p[0] - _MID_X) * hs + hdx, 23.5 + (p[1] - 23.5) * hs + hdy))

    # chair
    P([(59, 34), (101, 34), (101, 78), (59, 78)], "chair")
    C((61.5, 34), (98.5, 34), 2.5, "chair")
    C((57, 84), (56, 113), 1.4, "chair_dark")
    C((103, 84), (104, 113), 1.4, "chair_dark")
    P([(55, 74), (105, 74), (107, 84), (53, 84)], "chair_dark")

    shoulders = {}
    arms = {}
    for s in (-1, 1):
        bx, by = _shoulder(s)
        ox, oy = pose.shoulder[s]
        shoulders[s] = up((bx + ox, by + oy))
        hx, hy, hsc, ang = pose.hand[s]
        elbow, pose.branch[s] = _elbow(shoulders[s], (hx, hy), s, pose.branch[s])
        arms[s] = (shoulders[s], elbow, (hx, hy), hsc, ang)

    def arm(s):
        sh, el, (hx, hy), hsc, ang = arms[s]
        vx, vy = hx - el[0], hy - el[1]
        n = math.hypot(vx, vy) or 1.0
        ux, uy = vx / n, vy / n
        C(sh, el, 3.6, "sleeve")
        C(el, (hx - ux * 2.0 * hsc, hy - uy * 2.0 * hsc), 3.0, "forearm")
        ca, sa = math.cos(ang), math.sin(ang)
        fx, fy = ux * ca - uy * sa, ux * sa + uy * ca
        f0 = (hx + fx * 1.0 * hsc, hy + fy * 1.0 * hsc)
        f1 = (hx + fx * 4.2 * hsc, hy + fy * 4.2 * hsc)
        E((hx, hy), 3.6 * hsc, 3.6 * hsc, "hand_edge")
        C(f0, f1, 1.9 * hsc, "hand_edge")
        E((hx, hy), 3.0 * hsc, 3.0 * hsc, "hand")
        C(f0, f1, 1.3 * hsc, "hand")

    for s in (-1, 1):
        if pose.behind[s]:
            arm(s)

    # legs: the front one last
    for s in (-pose.front_leg, pose.front_leg):
        kx, ky = _knee(s)
        kx, ky = kx + pose.knee[s][0], ky + pose.knee[s][1]
        fx, fy = _foot(s)
        fx, fy = fx + pose.foot[s][0], fy + pose.foot[s][1]
        C((kx, ky), (fx, fy - 2.5), 4.2, "trousers_dark")
        E((fx + s * 1.0, fy + 1.2), 5.2, 2.8, "shoes")
        C((_MID_X + s * 7.0, 73.0), (kx, ky), 6.2, "trousers")

    # torso
    C(hd((_MID_X, 29.5)), up((_MID_X, 40.0)), 3.4, "skin_dark")  # neck
    spread = 1.0 + 15.0 * (pose.chest - 1.0)
    tl = (shoulders[-1][0] - spread, shoulders[-1][1] - 3.0)
    tr = (shoulders[1][0] + spread, shoulders[1][1] - 3.0)
    P([tl, tr, up((89.5, 73.0)), up((70.5, 73.0))], "shirt")
    C(shoulders[-1], shoulders[1], 4.2, "shirt")
    C(up((70.8, 72.0)), up((89.2, 72.0)), 1.1, "belt")
    P([up((77.0, 38.3)), up((83.0, 38.3)), up((80.0, 43.5))], "skin_dark")
    P([up((74.5, 37.8)), up((77.6, 38.0)), up((79.7, 44.0)), up((76.0, 41.5))], "collar")
    P([up((85.5, 37.8)), up((82.4, 38.0)), up((80.3, 44.0)), up((84.0, 41.5))], "collar")
    for y in (49.0, 56.0, 63.0):
        E(up((_MID_X, y)), 0.8, 0.8, "shirt_light")
    if pose.tie:
        tie = [(79.0, 44.0), (81.0, 44.0), (82.3, 58.0), (80.0, 61.0), (77.7, 58.0)]
        P([up(p) for p in tie], "tie")
        E(up((_MID_X, 43.8)), 1.5, 1.3, "tie")
    if pose.jewelry:
        C(up((76.6, 38.6)), up((_MID_X, 44.6)), 0.45, "gold")
        C(up((83.4, 38.6)), up((_MID_X, 44.6)), 0.45, "gold")
        E(up((_MID_X, 45.4)), 1.5, 1.5, "gold")

    # head
    for s in (-1, 1):
        E(hd((_MID_X + s * 8.2, 24.0)), 2.0 * hs, 2.7 * hs, "skin_dark")  # ears
    E(hd((_MID_X, 19.0)), 9.8 * hs, 9.0 * hs, "hair")
    fs = pose.face_scale
    mdx, mdy, mw, mo = pose.mouth
    # the face (its jaw drops as the mouth opens)
    E(hd((_MID_X, 24.0 + 0.4 * mo)), 8.0 * fs * hs, (9.0 * fs + 0.4 * mo) * hs, "skin")
    fx, fy = pose.features
    for s in (-1, 1):
        brow = (hd((_MID_X + s * 2.0 + fx, 19.4 + fy)), hd((_MID_X + s * 4.8 + fx, 19.0 + fy)))
        C(*brow, 0.55 * hs, "hair")
        E(hd((_MID_X + s * 3.4 * fs + fx, 22.2 + fy)), 1.15 * hs, 1.15 * hs, "eye")
    C(hd((_MID_X + fx, 24.2 + fy)), hd((_MID_X + fx, 26.4 + fy)), 0.6 * hs, "skin_dark")
    mouth = hd((_MID_X + fx + mdx, 24.0 + 5.6 * fs + fy + mdy))
    E(mouth, 2.5 * mw * hs, (0.7 + mo) * hs, "lips")
    if pose.hat:
        E(hd((_MID_X, 12.5)), 8.0 * hs, 5.0 * hs, "hat")
        C(hd((69.5, 15.2)), hd((90.5, 15.2)), 1.4 * hs, "hat")

    if pose.obj is not None:
        E(pose.obj, 3.8, 2.6, "object")
    for s in (-1, 1):
        if not pose.behind[s]:
            arm(s)
    return out


# -- motion: attribute values -> what moves, where to, how ----------------------------------

# initiator -> (part, sides). Parts: hand, arm, fingers, head, face, mouth, shoulders, chest,
# torso, leg, feet.
_INITIATORS: dict[str, tuple[str, tuple[int, ...]]] = {
    "head": ("head", (0,)),
    "neck": ("neck", (0,)),
    "face": ("face", (0,)),
    "lips": ("lips", (0,)),
    "mouth": ("mouth", (0,)),
    "shoulders": ("shoulders", (-1, 1)),
    "chest": ("chest", (0,)),
    "torso": ("torso", (0,)),
    "right_hand": ("hand", (-1,)),
    "left_hand": ("hand", (1,)),
    "both_hands": ("hand", (-1, 1)),
    "fingers": ("fingers", (-1, 1)),
    "right_arm": ("arm", (-1,)),
    "left_arm": ("arm", (1,)),
    "both_arms": ("arm", (-1, 1)),
    "right_leg": ("leg", (-1,)),
    "left_leg": ("leg", (1,)),
    "both_legs": ("leg", (-1, 1)),
    "feet": ("feet", (-1, 1)),
}
_PART_KEYWORDS = (  # for values a project adds: first keyword found in the name wins
    ("finger", "fingers"),
    ("thumb", "fingers"),
    ("nail", "fingers"),
    ("hand", "hand"),
    ("wrist", "hand"),
    ("palm", "hand"),
    ("elbow", "arm"),
    ("arm", "arm"),
    ("knee", "leg"),
    ("thigh", "leg"),
    ("leg", "leg"),
    ("toe", "feet"),
    ("foot", "feet"),
    ("feet", "feet"),
    ("ankle", "feet"),
    ("lip", "lips"),
    ("mouth", "mouth"),
    ("tongue", "mouth"),
    ("jaw", "mouth"),
    ("eye", "face"),
    ("brow", "face"),
    ("cheek", "face"),
    ("face", "face"),
    ("nose", "face"),
    ("head", "head"),
    ("neck", "neck"),
    ("shoulder", "shoulders"),
    ("chest", "chest"),
    ("breath", "chest"),
    ("torso", "torso"),
    ("body", "torso"),
    ("hip", "torso"),
    ("back", "torso"),
)
_LIMBS = ("hand", "arm", "fingers", "leg", "feet", "shoulders")

# part -> (approach/shift amplitude, oscillation scale), base pixels
_PART_AMPLITUDE = {
    "hand": (9.0, 1.0),
    "arm": (11.0, 1.2),
    "fingers": (6.0, 1.0),
    "head": (4.0, 0.6),
    "neck": (3.5, 0.5),
    "face": (1.5, 0.6),
    "mouth": (2.4, 1.4),
    "lips": (2.0, 1.2),
    "shoulders": (4.0, 0.7),
    "chest": (3.0, 0.6),
    "torso": (4.0, 0.6),
    "leg": (8.0, 1.0),
    "feet": (3.5, 0.8),
}

# receiver -> (laterality, dx, dy): "i" the initiator's side, "c" the other side, "m" midline.
_RECEIVERS: dict[str, tuple[str, float, float]] = {
    "head": ("i", 7.5, 13.0),
    "hair": ("i", 8.0, 12.5),
    "hat": ("i", 6.0, 10.0),
    "forehead": ("i", 2.5, 17.0),
    "eyes": ("i", 3.4, 22.2),
    "ears": ("i", 9.0, 24.0),
    "nose": ("m", 0.0, 25.5),
    "cheek": ("i", 5.5, 27.0),
    "mouth": ("m", 0.0, 29.6),
    "lips": ("m", 0.0, 30.4),
    "jaw": ("i", 6.0, 30.5),
    "chin": ("m", 0.0, 33.5),
    "face": ("i", 3.5, 24.0),
    "neck": ("i", 1.5, 36.0),
    "suprasternal_notch": ("m", 0.0, 41.0),
    "shoulder": ("c", 12.5, 41.5),
    "chest": ("c", 8.0, 51.0),
    "back": ("i", 12.0, 62.0),
    "arm": ("c", 14.5, 51.0),
    "other_hand": ("c", 1.0, 64.0),
    "fingers": ("c", 1.0, 63.0),
    "fingertips": ("m", 0.0, 58.0),
    "fingernails": ("c", 2.0, 62.0),
    "hips": ("i", 11.0, 70.0),
    "leg": ("i", 8.0, 80.0),
    "knee": ("i", 9.0, 86.0),
    "other_leg": ("c", 9.0, 86.0),
    "collar": ("i", 4.0, 40.0),
    "button": ("m", 0.0, 49.0),
    "tie": ("m", 0.0, 48.0),
    "clothes": ("i", 6.0, 57.0),
    "jewelry": ("m", 0.0, 45.0),
    "object": ("m", 0.0, 66.0),
    "body": ("c", 6.0, 56.0),
}
_HAND_RECEIVERS = ("other_hand", "fingers", "fingertips", "fingernails")
_FALLBACK_RECEIVERS = tuple(r for r in _RECEIVERS if r not in (*_HAND_RECEIVERS, "other_leg"))

# direction -> (kind, vector). Vectors are (x, y, z, lateral) in a limb's frame: x to the
# person's left (= image right), y down, z toward the camera, lateral > 0 toward the body's
# midline (for a midline part: contraction). Oscillating kinds give a pattern instead.
_DIRECTIONS: dict[str, tuple[str, tuple[float, float, float, float]]] = {
    "static": ("static", (0, 0, 0, 0)),
    "upward": ("linear", (0, -1, 0, 0)),
    "downward": ("linear", (0, 1, 0, 0)),
    "forward": ("linear", (0, 0.3, 1, 0)),
    "backward": ("linear", (0, -0.3, -1, 0)),
    "leftward": ("linear", (1, 0, 0, 0)),
    "rightward": ("linear", (-1, 0, 0, 0)),
    "inward": ("linear", (0, 0, -0.3, 1)),  # toward the body's core: also a little away
    "outward": ("linear", (0, 0, 0.3, -1)),
    "back_and_forth": ("osc", (0, 0.35, 0.5, 0.8)),
    "up_and_down": ("osc", (0, 1, 0, 0)),
    "side_to_side": ("osc", (1, 0, 0, 0)),
    "circular": ("circle", (0, 1, 0, 1)),
}


@dataclass(frozen=True)
class _Profile:
    """A motion type's temporal profile (times in seconds for a 2 s clip)."""

    approach: float | None = 0.45  # time to reach the anchor; None: at the anchor throughout
    stay: float | None = None  # then withdraw after this long ...
    withdraw: float = 0.0  # ... by this fraction of the approach
    pulses: float | None = None  # repeated approach (Hz)
    extra: float = 0.0  # go beyond the anchor along the direction by this fraction (pull)
    bell: float | None = None  # rise and fall back over this long (breath)
    osc: tuple[float, float, str] | None = None  # (Hz, base pixels, waveform) at the anchor
    pattern: tuple[str, tuple[float, float, float, float]] = ("osc", (0, 0.5, 0, 1))  # if static
    default: tuple[float, float, float, float] = (0, -1, 0, 0)  # motion if nothing else moves
    settle: tuple[float, float, float, float] = (0, 0, 0, 0)  # then drift by this x amplitude


# Patterns of a motion type's oscillation when the direction is static (each differs from the
# oscillating directions, so "static" stays distinguishable).
_DIAG = ("osc", (0, 0.5, 0, 1))
_VERT = ("osc", (0, 1, 0, 0.35))
_HORIZ = ("osc", (1, 0.3, 0, 0))
_LOOP = ("circle", (0, 0.6, 0, 1))
_DEPTH = ("osc", (0, 0, 1, 0))

_MOTIONS: dict[str, _Profile] = {
    "touch": _Profile(approach=0.45, stay=0.6, withdraw=0.6),
    "tap": _Profile(approach=None, pulses=2.2),
    "rub": _Profile(approach=0.35, osc=(2.5, 3.0, "sin"), pattern=_DIAG),
    "scratch": _Profile(approach=0.3, osc=(5.0, 1.6, "sin"), pattern=_VERT),
    "hold": _Profile(approach=0.6, settle=(0, 0, -0.15, 0)),  # grip
    "clasp": _Profile(approach=0.5, settle=(0, 0, 0, 0.2)),  # squeeze
    "cover": _Profile(approach=0.5, settle=(0, 0, 0.25, 0)),  # flat hand, toward the camera
    "press": _Profile(approach=0.4, extra=0.15, default=(0, 0, 0, 1)),
    "fold": _Profile(approach=0.7, settle=(0, 0, 0, 0.2)),
    "cross": _Profile(approach=0.75, settle=(0, -0.15, 0, 0.15), default=(0, 0, 0, 1)),
    "pull": _Profile(approach=0.35, extra=0.6, default=(0, 0, 1, 0)),
    "adjust": _Profile(approach=0.35, osc=(1.2, 1.8, "sin"), pattern=("osc", (0, 1, 0.5, 0))),
    "fasten": _Profile(approach=0.35, osc=(3.0, 1.2, "sin"), pattern=("osc", (0, 0.3, 0, 1))),
    "fiddle": _Profile(approach=0.35, osc=(1.8, 2.2, "sin"), pattern=_LOOP),
    "bite": _Profile(approach=None, osc=(3.0, 1.4, "sin"), pattern=_DEPTH),
    "brush": _Profile(approach=0.25, osc=(2.0, 3.0, "saw"), pattern=("osc", (0, 1, 0, 0.3))),
    "rest": _Profile(approach=0.8, settle=(0, 0.15, 0, 0)),  # the weight settles
    "move": _Profile(approach=0.7),
    "shake": _Profile(approach=None, osc=(3.5, 2.5, "sin"), pattern=_HORIZ),
    "raise": _Profile(approach=0.6, settle=(0, -0.15, 0, 0)),
    "lower": _Profile(approach=0.6, settle=(0, 0.15, 0, 0), default=(0, 1, 0, 0)),
    "sway": _Profile(approach=None, osc=(0.9, 3.5, "sin"), pattern=("osc", (1, 0.15, 0, 0))),
    "straighten": _Profile(approach=0.9, settle=(0, -0.1, 0, 0)),
    "puff": _Profile(approach=None, bell=1.2, default=(0, 0, 0, -1)),
    "expand": _Profile(approach=None, bell=1.4, default=(0, 0, 0, -1)),
    "gesture": _Profile(approach=0.4, osc=(1.5, 3.5, "sin"), pattern=("osc", (0, 1, 0, 0.5))),
}
_FALLBACK_MOTIONS = tuple(_MOTIONS)
_FALLBACK_DIRECTIONS = tuple(_DIRECTIONS)
_DEFAULT_OSC = (1.8, 2.6, "sin")  # an oscillating direction with a non-oscillating motion type


def _pick(name: str, options: Sequence[Any]) -> Any:
    """A deterministic choice from the value's name (stable across runs and machines)."""
    return options[zlib.crc32(name.encode("utf-8")) % len(options)]


def _initiator(value: str) -> tuple[str, tuple[int, ...]]:
    if value in _INITIATORS:
        return _INITIATORS[value]
    low = value.lower()
    part = next((p for k, p in _PART_KEYWORDS if k in low), None)
    part = part or _pick(value, sorted(_PART_AMPLITUDE))
    if part not in _LIMBS:
        return part, (0,)
    if part in ("fingers", "feet", "shoulders") or "both" in low:
        return part, (-1, 1)
    if "left" in low:
        return part, (1,)
    if "right" in low:
        return part, (-1,)
    return part, _pick(value + "/side", [(-1,), (1,), (-1, 1)])


def _receiver(value: str) -> tuple[str, float, float] | None:
    if value == "none":
        return None
    if value in _RECEIVERS:
        return _RECEIVERS[value]
    low = value.lower()
    for key in sorted(_RECEIVERS, key=len, reverse=True):
        if key.rstrip("s") in low:
            return _RECEIVERS[key]
    return _RECEIVERS[_pick(value, _FALLBACK_RECEIVERS)]


def _direction(value: str) -> tuple[str, tuple[float, float, float, float]]:
    return _DIRECTIONS.get(value) or _DIRECTIONS[_pick(value, _FALLBACK_DIRECTIONS)]


def _motion(value: str) -> _Profile:
    return _MOTIONS.get(value) or _MOTIONS[_pick(value, _FALLBACK_MOTIONS)]


def _to_image(vec: Sequence[float], side: int) -> np.ndarray:
    """A limb-frame vector (x, y, z, lateral) -> image-frame (x, y, z) for a part on `side`."""
    x, y, z, lat = vec
    if side == 0:
        return np.array([x, y, z - lat], float)
    return np.array([x - side * lat, y, z], float)


def _smooth(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _part_location(part: str, side: int) -> np.ndarray:
    """Where a non-hand part is (base coordinates), to aim it at a receiver."""
    return {
        "head": np.array([_MID_X, 23.5]),
        "neck": np.array([_MID_X, 30.0]),
        "face": np.array([_MID_X, 24.0]),
        "mouth": np.array([_MID_X, 29.6]),
        "lips": np.array([_MID_X, 29.6]),
        "chest": np.array([_MID_X, 50.0]),
        "torso": np.array([_MID_X, 55.0]),
        "shoulders": np.array(_shoulder(side) if side else (_MID_X, 41.5)),
        "leg": np.array(_knee(side) if side else (_MID_X, 86.0)),
        "feet": np.array(_foot(side) if side else (_MID_X, 108.5)),
    }.get(part, np.array([_MID_X, 55.0]))


class _Motion:
    """One clip's motion plan: offsets of the initiator's handle(s) as a function of time."""

    def __init__(self, attrs: Mapping[str, str], seconds: float, rng: np.random.Generator):
        self.part, self.sides = _initiator(attrs["initiator"])
        self.receiver = attrs["receiver"]
        self.target = _receiver(attrs["receiver"])
        self.dir_kind, dir_vec = _direction(attrs["direction"])
        self.profile = _motion(attrs["motion_type"])
        amp, osc_scale = _PART_AMPLITUDE[self.part]
        # per-clip variation
        self.k = 2.0 / seconds * float(rng.uniform(0.85, 1.2))  # time warp: profiles fit the clip
        self.onset = float(rng.uniform(0.05, 0.2)) * seconds
        self.amp = amp * float(rng.uniform(0.8, 1.2))
        self.osc_scale = osc_scale * float(rng.uniform(0.8, 1.2))
        self.freq_scale = float(rng.uniform(0.85, 1.15))
        self.phase = float(rng.uniform(0, 2 * math.pi))
        self.branch = {-1: 0, 1: 0}  # elbow bends, fixed by the first frame (_figure sets them)
        self.neutral: dict[int, np.ndarray] = {}
        self.anchor: dict[int, np.ndarray] = {}
        self.approach: dict[int, np.ndarray] = {}
        self.pattern: dict[int, tuple[str, np.ndarray]] = {}
        p = self.profile
        osc = p.osc
        if self.dir_kind in ("osc", "circle"):
            pattern = (self.dir_kind, dir_vec)
            osc = osc or _DEFAULT_OSC
        elif self.dir_kind == "linear":
            pattern = ("osc", dir_vec)
        else:
            pattern = p.pattern
        self.osc = osc
        for s in self.sides:
            n, q = self._neutral_and_anchor(s)
            lin = _to_image(dir_vec, s) if self.dir_kind == "linear" else None
            if lin is not None:
                v = lin
                if self.target is None:
                    q = n + lin * self.amp
            else:
                d = q - n
                norm = float(np.linalg.norm(d))
                v = d / norm if norm > 1e-6 else np.zeros(3)
            if not v.any() and osc is None:  # nothing would move: a small default motion
                v = 0.5 * _to_image(p.default, s)
                if self.target is None:
                    q = n + v * self.amp
            self.neutral[s], self.anchor[s], self.approach[s] = n, q, v
            self.pattern[s] = (pattern[0], _to_image(pattern[1], s))

    def _target_point(self, side: int) -> np.ndarray | None:
        if self.target is None:
            return None
        lat, dx, dy = self.target
        x = _MID_X + {"i": side * dx, "c": -side * dx, "m": 0.0}[lat]
        if lat == "m" and len(self.sides) == 2 and self.part in ("hand", "arm"):
            x += side * 3.0  # two hands at one midline place sit side by side
        return np.array([x, dy, 0.0])

    def _neutral_and_anchor(self, side: int) -> tuple[np.ndarray, np.ndarray]:
        t = self._target_point(side)
        part = self.part
        if part in ("hand", "arm"):
            if part == "hand" and t is None:
                free = (4.5, 64.0) if len(self.sides) == 2 else (7.0, 62.0)
                n = np.array([_MID_X + side * free[0], free[1], 0.0])
            else:
                n = np.array([*_rest_hand(side), 0.0])
            return n, (n if t is None else t)
        if part == "fingers":
            n = np.array([_MID_X + side * 4.0, 61.0, 0.0])
            return n, n.copy()
        # an offset part: aim it a little toward the receiver
        n = np.zeros(3)
        if t is None:
            return n, n.copy()
        if self.receiver in _HAND_RECEIVERS:  # e.g. the mouth bites the fingernails
            t = np.array([_MID_X - 2.5, 34.5, 0.0])
        rel = t[:2] - _part_location(part, side)
        norm = float(np.hypot(*rel))
        if norm > 1e-6:  # farther targets pull a little more, up to 1.5 x the amplitude
            rel = rel / norm * 1.5 * self.amp * math.tanh(norm / 25.0)
        return n, np.array([rel[0], rel[1], 0.0])

    def offsets(self, times: np.ndarray) -> dict[int, np.ndarray]:
        """(T, 3) handle positions per side: x, y (base pixels) and z (toward the camera)."""
        p = self.profile
        tt = (times - self.onset) * self.k  # profile time (a 2 s clip's seconds)
        if p.pulses is not None:
            prog = np.where(tt > 0, 0.5 - 0.5 * np.cos(2 * math.pi * p.pulses * tt), 0.0)
        elif p.bell is not None:
            prog = np.where((tt > 0) & (tt < p.bell), np.sin(math.pi * tt / p.bell) ** 2, 0.0)
        elif p.approach is None:
            prog = np.ones_like(tt)
        else:
            prog = _smooth(tt / p.approach)
            if p.stay is not None:
                prog = prog - p.withdraw * _smooth((tt - p.approach - p.stay) / 0.4)
            if p.extra:
                prog = prog + p.extra * _smooth((tt - p.approach - 0.2) / 0.4)
        out = {}
        start = 0.0 if p.approach is None else p.approach * 0.7
        gain = _smooth((tt - start) / 0.25)
        settle = None
        if any(p.settle) and p.approach is not None:
            settle = _smooth((tt - p.approach) / 0.3) * self.amp
        for s in self.sides:
            pos = self.anchor[s] - np.outer(1.0 - prog, self.approach[s]) * self.amp
            if settle is not None:
                pos = pos + np.outer(settle, _to_image(p.settle, s))
            if self.osc is not None:
                hz, a, wave = self.osc
                phi = 2 * math.pi * hz * self.freq_scale * np.maximum(tt, 0) + self.phase
                kind, vec = self.pattern[s]
                a = a * self.osc_scale
                if kind == "circle":
                    # a loop: x radius from the pattern's x (or lateral) part, y radius from y
                    lx = vec[0] if vec[0] else 1.0
                    ly = vec[1] if vec[1] else 1.0
                    w = np.stack(
                        [
                            lx * (np.cos(phi) - math.cos(self.phase)),
                            ly * (np.sin(phi) - math.sin(self.phase)),
                            0 * phi,
                        ],
                        axis=1,
                    )
                else:
                    if wave == "saw":
                        ph = (phi / (2 * math.pi)) % 1.0
                        wv = np.where(ph < 0.3, ph / 0.3, (1 - ph) / 0.7) * 2 - 1
                    else:
                        wv = np.sin(phi)
                    w = np.outer(wv, vec)
                pos = pos + w * (a * gain)[:, None]
            out[s] = pos
        return out

    def pose(self, offs: Mapping[int, np.ndarray]) -> _Pose:
        """The figure's pose for one frame's handle positions."""
        pose = _Pose()
        pose.branch = self.branch
        self.apply(pose, offs)
        return pose

    def apply(self, pose: _Pose, offs: Mapping[int, np.ndarray]) -> None:
        part = self.part
        if self.receiver == "hat":
            pose.hat = True
        elif self.receiver == "tie":
            pose.tie = True
        elif self.receiver == "jewelry":
            pose.jewelry = True
        # the other hand as a receiver: posed in front of the belly, still
        if self.receiver in _HAND_RECEIVERS and part in ("hand", "arm") and len(self.sides) == 1:
            o = -self.sides[0]
            pose.hand[o] = (_MID_X + o * 5.0, 64.0, 1.0, 0.0)
        elif self.receiver in _HAND_RECEIVERS and part not in ("hand", "arm", "fingers"):
            pose.hand[-1] = (_MID_X - 2.5, 34.5, 1.0, 0.0)  # a hand at the mouth
        for s, off in offs.items():
            x, y, z = (float(v) for v in off)
            if part in ("hand", "arm", "fingers"):
                if part == "fingers":
                    n = self.neutral[s]
                    nx, ny = float(n[0]), float(n[1])
                    pose.hand[s] = (
                        nx + 0.3 * (x - nx),
                        ny + 0.3 * (y - ny),
                        1.0 + z / 12.0,
                        0.12 * (x - nx) * -s + z * 0.05,
                    )
                else:
                    pose.hand[s] = (x, y + 0.3 * z, max(0.5, 1.0 + z / 25.0), 0.0)
                if self.receiver == "back":
                    pose.behind[s] = True
            elif part in ("head", "neck"):
                f = 1.0 if part == "head" else 0.8
                pose.head = (x * f, y * f, 1.0 + z / 40.0)
            elif part == "face":
                pose.face_scale = 1.0 + z / 10.0
                pose.features = (0.7 * x, 0.7 * y)
            elif part == "mouth":  # opens
                pose.mouth = (x, y, max(0.3, 1.0 + z / 5.0), max(0.0, 0.7 * z))
            elif part == "lips":  # purse, press, stretch
                pose.mouth = (x, y, max(0.3, 1.0 + z / 3.0), max(0.0, 0.3 * z))
            elif part == "shoulders":
                for sd in (s,) if s else (-1, 1):
                    pose.shoulder[sd] = (x, y - 0.3 * z)
            elif part == "chest":
                pose.chest = 1.0 + z / 25.0
                pose.shoulder = {sd: (sd * z * 0.4, 0.0) for sd in (-1, 1)}
                pose.ub = (0.5 * x, 0.5 * y, 1.0)
            elif part == "torso":
                pose.ub = (x, y, 1.0 + z / 60.0)
            elif part == "leg":
                sd = s or 1
                pose.knee[sd] = (0.7 * x, 0.7 * y - 0.3 * max(z, 0.0))
                pose.foot[sd] = (1.2 * x, y + 0.4 * z)
                if abs(x) > 1.0:
                    pose.front_leg = sd
            elif part == "feet":
                sd = s or 1
                pose.foot[sd] = (x, y + 0.3 * z)
        if self.receiver == "object" and part in ("hand", "arm", "fingers"):
            hs = [pose.hand[s] for s in self.sides]
            pose.obj = (
                sum(h[0] for h in hs) / len(hs),
                sum(h[1] for h in hs) / len(hs) - (1.5 if len(hs) == 2 else 3.0),
            )
        elif self.receiver == "object":
            pose.obj = (_MID_X, 66.0)


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
    attributes: Mapping[str, str],
    *,
    width: int,
    height: int,
    fps: int,
    seconds: float,
    noise: float,
    rng: np.random.Generator,
) -> np.ndarray:
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


# -- the dataset ------------------------------------------------------------------------------


def _split_counts(n: int, fractions: Sequence[float]) -> list[int]:
    """n items over the fractions by largest remainder (ties: the earlier split)."""
    raw = [n * f for f in fractions]
    counts = [math.floor(r + 1e-9) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def _annotate(
    gold: Mapping[str, str], schema: Schema, n: int, error: float, rng: np.random.Generator
) -> list[dict[str, Any]]:
    out = []
    for j in range(1, n + 1):
        attrs = {}
        for d in DIMENSIONS:
            value = gold[d]
            if rng.random() < error:
                others = [v for v in schema.values(d) if v != value]
                if others:
                    value = others[int(rng.integers(len(others)))]
            attrs[d] = value
        out.append({"annotator": f"annotator-{j}", "attributes": attrs})
    return out


@dataclass
class _ClipPlan:
    clip_id: str
    label: int
    index: int
    split: str
    attributes: dict[str, str] = field(default_factory=dict)


def _plan(config: SynthConfig, classes: Sequence[ClassDef], schema: Schema) -> list[_ClipPlan]:
    names = ("train", "validation", "test")
    plans = []
    for c in classes:
        rng = _rng(config.seed, 1, c.id)
        n = config.clips_per_class
        splits = [
            s for s, k in zip(names, _split_counts(n, config.split), strict=True) for _ in range(k)
        ]
        splits = [splits[i] for i in rng.permutation(n)]
        # every tuple of the class about equally often, in a shuffled order
        tuples = [c.attributes[i % len(c.attributes)] for i in range(n)]
        tuples = [tuples[i] for i in rng.permutation(n)]
        for k in range(n):
            plans.append(
                _ClipPlan(
                    clip_id=f"synth-{c.id:02d}-{k:03d}",
                    label=c.id,
                    index=k,
                    split=splits[k],
                    attributes=schema.check_attributes(tuples[k]),
                )
            )
    return plans


def _make_clip(
    plan: _ClipPlan, config: SynthConfig, schema: Schema, videos: Path
) -> dict[str, Any]:
    """Render and encode one clip; its row for clips.jsonl."""
    frames = _clip_frames(
        plan.attributes,
        width=config.width,
        height=config.height,
        fps=config.fps,
        seconds=config.seconds,
        noise=config.noise,
        rng=_rng(config.seed, 2, plan.label, plan.index),
    )
    write_mp4(frames, videos / f"{plan.clip_id}.mp4", config.fps)
    annotations = _annotate(
        plan.attributes,
        schema,
        config.annotators,
        config.annotator_error,
        _rng(config.seed, 3, plan.label, plan.index),
    )
    return {
        "clip_id": plan.clip_id,
        "video": f"videos/{plan.clip_id}.mp4",
        "label": plan.label,
        "split": plan.split,
        "attributes": plan.attributes,
        "text": compose_fg_text(plan.attributes, schema),
        "status": ClipStatus.GOLD,
        "annotations": annotations,
    }


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _pool(workers: int | None, total: int) -> ProcessPoolExecutor | None:
    """Worker processes for `total` clips (None: serial). Rendering is pure-Python-heavy, so
    threads would serialise on the GIL; processes scale with the cores."""
    if workers is None:
        workers = min(_cpus(), 8) if total >= _PARALLEL_FROM else 1
    workers = min(workers, total)
    if workers <= 1:
        return None
    # fork is fast and safe on Linux while this process runs a single thread; else spawn.
    single = threading.active_count() == 1
    method = "fork" if sys.platform.startswith("linux") and single else "spawn"
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))


def synthesize(
    out: str | Path,
    config: SynthConfig = SynthConfig(),
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> Path:
    """Write a synthetic `fgtext-dataset/1` at `out` and return its path.

    Videos go to `out/videos/<clip_id>.mp4`; each clip is status "gold" with its ground-truth
    attributes and T_fg, plus `config.annotators` simulated annotations; dataset.json's source is
    {"generator": "fgtext.synth", "config": asdict(config)}. `progress(done, total)` is called
    (from this thread) before the first clip and after each one. `workers` processes render and
    encode clips side by side (None: one per core, up to 8, from 24 clips on; 1: in this
    process); the clips do not depend on it (the same frames go to the encoder). Where other threads run, the workers are
    spawned, and a script calling this needs Python's `if __name__ == "__main__":` guard. The
    dataset appears at `out` only when complete."""
    if not isinstance(config, SynthConfig):
        raise FgTextError("synthesize: config must be a SynthConfig")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise FgTextError(f"synthesize: workers must be a whole number >= 1 (got {workers!r})")
    schema = load_schema(config.schema) if config.schema else default_schema()
    classes = resolve_classes(config, schema)
    plans = _plan(config, classes, schema)
    if isinstance(config.classes, int):
        list_name = f"{DEFAULT_CLASS_LIST}{config.classes}"
    elif config.classes.lower() in BUILTIN_CLASS_LISTS:
        list_name = config.classes.lower()
    else:
        list_name = Path(config.classes).stem
    name = config.name or f"synth-{list_name}"
    source = {"generator": GENERATOR, "config": json.loads(json.dumps(asdict(config)))}
    total = len(plans)
    with DatasetWriter(
        out, name=name, schema=schema, classes=classes, source=source, overwrite=overwrite
    ) as writer:
        videos = writer.staging_dir / "videos"
        videos.mkdir()
        if progress:
            progress(0, total)
        job = partial(_make_clip, config=config, schema=schema, videos=videos)
        pool = _pool(workers, total)
        try:
            rows = pool.map(job, plans, chunksize=2) if pool else map(job, plans)
            for done, row in enumerate(rows, 1):  # in plan order, whoever finishes first
                writer.add(row)
                if progress:
                    progress(done, total)
        finally:
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
    return Path(out)


def simulated_labels(dataset_path: str | Path) -> list[dict[str, Any]]:
    """Long rows {clip_id, annotator, label, <4 dimensions>} from a dataset's annotations."""
    ds = open_dataset(dataset_path)
    rows = []
    for clip in ds.clips():
        for a in clip.annotations:
            rows.append(
                {
                    "clip_id": clip.clip_id,
                    "annotator": a.annotator,
                    "label": clip.label,
                    **{d: a.attributes[d] for d in DIMENSIONS},
                }
            )
    return rows
