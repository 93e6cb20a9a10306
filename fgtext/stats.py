"""Figures that describe a dataset: clips per class and split, label status, attribute values,
distinct FG-Texts (what `fgtext stats` prints)."""

from __future__ import annotations

from collections import Counter
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
