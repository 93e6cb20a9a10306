"""Figures that describe a dataset: clips per class and split, label status, attribute values,
distinct FG-Texts (what `fgtext stats` prints); and the intervals of proportions and means that
the reliability benches and `fgtext design` report."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

from fgtext.dataset import Dataset
from fgtext.schema import DIMENSIONS


def dataset_stats(ds: Dataset) -> dict[str, Any]:
    """name, clips, classes, clips per split, status counts, distinct FG-Texts, annotations
    per clip, clips per class and split, and each dimension's value counts (most used first)."""
    per_class: Counter[tuple[int, str]] = Counter()
    status: Counter[str] = Counter()
    values = {d: Counter() for d in DIMENSIONS}
    texts: set[str] = set()
    annotations = 0
    for clip in ds.clips():
        per_class[clip.label, clip.split] += 1
        status[clip.status] += 1
        annotations += len(clip.annotations)
        if clip.attributes:
            texts.add(clip.text)
            for d in DIMENSIONS:
                values[d][clip.attributes[d]] += 1
    splits = sorted({s for _, s in per_class})
    return {
        "name": ds.name, "clips": sum(status.values()), "classes": len(ds.classes),
        "splits": {s: sum(n for (_, sp), n in per_class.items() if sp == s) for s in splits},
        "status": dict(status), "distinct_fg_texts": len(texts),
        "annotations_per_clip": annotations / max(1, sum(status.values())),
        "per_class": {c.name: {s: per_class[c.id, s] for s in splits} for c in ds.classes},
        "attribute_values": {d: dict(values[d].most_common()) for d in DIMENSIONS},
    }  # fmt: skip


def median(values: Sequence[float]) -> float | None:
    """The median of finite numbers (None for none). The middle two of an even count are
    averaged as a/2 + b/2, which rounds as (a + b)/2 does but cannot overflow: two times near
    the largest float (stored by an older version) have a finite median, not infinity."""
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return ordered[middle - 1] / 2 + ordered[middle] / 2


def accuracy_figures(correct: int, labels: int) -> dict[str, Any]:
    """{"labels", "correct", "accuracy", "ci95"}: a share of right labels with its 95 % Wilson
    interval; accuracy and ci95 are None for no labels."""
    return {
        "labels": labels, "correct": correct,
        "accuracy": correct / labels if labels else None,
        "ci95": list(binomial_interval(correct, labels)) if labels else None,
    }  # fmt: skip


def binomial_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (sound near 0 and 1 and for few trials, where the
    normal approximation is not); (0, 1) for no trials."""
    if trials <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    )
    # exact at the ends: rounding would leave 0 (or 1) right outside its own interval
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= trials else min(1.0, centre + half)
    return low, high


# Student's t, two-sided 95 %, by degrees of freedom (scipy is not a dependency of fgtext).
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086)  # fmt: skip


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): the Student-t 95 % interval of a mean over a few repeats (seeds)."""
    x = [float(v) for v in values]
    m = sum(x) / len(x)
    if len(x) < 2:
        return m, m, m
    sd = math.sqrt(sum((v - m) ** 2 for v in x) / (len(x) - 1))
    t = _T95[len(x) - 2] if len(x) - 1 <= len(_T95) else NormalDist().inv_cdf(0.975)
    half = t * sd / math.sqrt(len(x))
    return m, m - half, m + half
