"""A small numpy rasteriser: anti-aliased ellipses, capsules (thick segments) and convex
polygons on a canvas, redrawn only inside the rectangle where something changed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

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
