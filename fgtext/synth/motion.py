"""Attribute values -> motion: which part moves (initiator), where to (receiver), along which
pattern (direction) and with which temporal profile (motion type); values a project adds
render through a fallback chosen deterministically from the name."""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fgtext.schema import DIMENSIONS, Schema
from fgtext.synth.figure import _MID_X, _foot, _knee, _Pose, _rest_hand, _shoulder

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


def fallback_values(schema: Schema) -> dict[str, list[str]]:
    """Per dimension, the schema's values that have no rendering of their own here and render
    through the name-based fallback (a project's additions). The tables above follow the
    default schema's vocabulary; the synth tests check that none of its values falls back."""
    own = {"initiator": _INITIATORS, "receiver": {"none": None, **_RECEIVERS},
           "direction": _DIRECTIONS, "motion_type": _MOTIONS}  # fmt: skip
    return {d: [v for v in schema.values(d) if v not in own[d]] for d in DIMENSIONS}


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
