"""The seated cartoon figure: palette, body geometry and its pose, drawn as primitives."""

from __future__ import annotations

import math

import numpy as np

from fgtext.synth.raster import _capsule, _ellipse, _poly, _Prim

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
