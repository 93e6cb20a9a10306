"""Clips + several annotators' labels -> an FG-Text dataset with final labels and agreement.

This is the path for labels made outside the annotation app (spreadsheets, other tools, the
synthetic annotators): the same consensus rule and the same agreement report as the app. The
`dawid-skene` rule fits the reliability model on all the labels first: a clip is final when every
dimension's posterior reaches the threshold, its row carries the posteriors (`confidence`) and
dataset.json each annotator's estimated accuracy; the clips below it are the review list, least
certain first. With `anchor_gold`, the manifest's gold clips (known values) anchor the model and
keep their values.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fgtext.agreement import LabelTable, agreement_report, load_labels
from fgtext.agreement.dawid_skene import fit_reliability
from fgtext.consensus import consensus, posterior_status
from fgtext.dataset import DatasetWriter, dataset_row, open_dataset
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS
from fgtext.vocabulary import (
    DAWID_SKENE,
    DEFAULT_CONSENSUS_RULE,
    DEFAULT_POSTERIOR_THRESHOLD,
    MERGE_RULES,
    ClipStatus,
)


@dataclass(frozen=True)
class MergeResult:
    written: int
    consensus: int
    single: int
    unresolved: int  # several annotations, no consensus under the rule
    unlabelled: int  # no annotation at all
    gold: int = 0  # anchored gold clips (dawid-skene with anchor_gold)
    review: list[str] = field(default_factory=list)  # unresolved clips, least certain first


def merge_labels(
    manifest: str | Path,
    labels: str | Path,
    out: str | Path,
    *,
    rule: str = DEFAULT_CONSENSUS_RULE,
    threshold: float = DEFAULT_POSTERIOR_THRESHOLD,
    anchor_gold: bool = False,
    include_unresolved: bool = False,
    n_bootstrap: int = 1000,
    parquet: bool = False,
    overwrite: bool = False,
) -> MergeResult:
    if rule not in MERGE_RULES:
        raise FgTextError(f"unknown rule {rule!r}; expected one of {', '.join(MERGE_RULES)}")
    if not 0.0 < threshold <= 1.0:
        raise FgTextError(f"threshold must be a probability in (0, 1] (got {threshold})")
    if anchor_gold and rule != DAWID_SKENE:
        raise FgTextError(f"anchor_gold needs rule {DAWID_SKENE!r} (gold clips anchor its model)")
    ds = open_dataset(manifest)
    table = load_labels(labels)
    clips = {c.clip_id: c for c in ds.clips()}
    by_clip: dict[str, list[tuple[str, dict[str, str]]]] = defaultdict(list)
    for i, (clip_id, annotator) in enumerate(zip(table.clip_ids, table.annotators, strict=True)):
        where = f"{labels}: clip {clip_id!r}, annotator {annotator!r}: "
        if clip_id not in clips:
            raise FgTextError(f"{where}the clip is not in {manifest}")
        attrs = {d: table.values[d][i] for d in DIMENSIONS}
        by_clip[clip_id].append((str(annotator), ds.schema.check_attributes(attrs, where=where)))

    # Per-class agreement uses the manifest's classes, not whatever the label file says.
    names = {c.id: c.name for c in ds.classes}
    table = LabelTable(
        clip_ids=table.clip_ids, annotators=table.annotators, values=table.values,
        classes=np.array([names[clips[c].label] for c in table.clip_ids], dtype=object),
    )  # fmt: skip
    report = agreement_report(table, n_bootstrap=n_bootstrap)
    gold = {
        c.clip_id: c.attributes
        for c in clips.values()
        if anchor_gold and c.status == ClipStatus.GOLD
    }
    reliability = fit_reliability(table, gold=gold) if rule == DAWID_SKENE else None
    row_of = reliability.index() if reliability else {}
    source = {"merged_from": str(manifest), "labels": str(labels), "rule": rule}
    if reliability:
        source |= {"threshold": threshold, "gold_anchors": len(gold)}

    counts: dict[str, int] = defaultdict(int)
    written = 0
    with DatasetWriter(
        out,
        name=ds.name,
        schema=ds.schema,
        classes=ds.classes,
        parquet=parquet,
        overwrite=overwrite,
        source=source,
    ) as w:
        uncertain: list[tuple[float, str]] = []
        for clip in clips.values():
            annotations = by_clip.get(clip.clip_id, [])
            confidence = None
            if clip.clip_id in gold:
                final, status = clip.attributes, ClipStatus.GOLD
                confidence = {d: 1.0 for d in DIMENSIONS}
            elif reliability is None:
                final, status = consensus([a for _, a in annotations], rule)
            elif clip.clip_id not in row_of:
                final, status = None, ClipStatus.UNLABELLED
            else:
                i = row_of[clip.clip_id]
                final, confidence = reliability.final(i), reliability.confidence(i)
                status = posterior_status(len(annotations), confidence, threshold)
                if status == ClipStatus.DISPUTED:
                    uncertain.append((min(confidence.values()), clip.clip_id))
            counts[status] += 1
            row = dataset_row(
                clip.model_dump() | {"video": str(ds.video_path(clip).resolve())},
                final=final, status=status, annotations=annotations, schema=ds.schema,
                confidence=confidence,
            )  # fmt: skip
            if row["status"] != ClipStatus.UNLABELLED or include_unresolved:
                w.add(row)
                written += 1
        w.agreement = report.summary()
        if reliability:
            w.annotators = reliability.annotator_accuracy()
    return MergeResult(
        written=written,
        consensus=counts[ClipStatus.CONSENSUS],
        single=counts[ClipStatus.SINGLE],
        unresolved=counts[ClipStatus.DISPUTED],
        unlabelled=counts[ClipStatus.UNLABELLED],
        gold=counts[ClipStatus.GOLD],
        review=[clip_id for _, clip_id in sorted(uncertain)],
    )


def write_labels_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Long-format labels (clip_id, annotator, label, the four dimensions), as `load_labels` reads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(
            f, ["clip_id", "annotator", "label", *DIMENSIONS], extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(rows)
    return path
