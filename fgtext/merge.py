"""Clips + several annotators' labels -> an FG-Text dataset with final labels and agreement.

This is the path for labels made outside the annotation app (spreadsheets, other tools, the
synthetic annotators): the same consensus rule and the same agreement report as the app.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fgtext.agreement import LabelTable, agreement_report, load_labels
from fgtext.consensus import consensus
from fgtext.dataset import DatasetWriter, dataset_row, open_dataset
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS
from fgtext.vocabulary import DEFAULT_CONSENSUS_RULE, ClipStatus


@dataclass(frozen=True)
class MergeResult:
    written: int
    consensus: int
    single: int
    unresolved: int  # several annotations, no consensus under the rule
    unlabelled: int  # no annotation at all


def merge_labels(
    manifest: str | Path,
    labels: str | Path,
    out: str | Path,
    *,
    rule: str = DEFAULT_CONSENSUS_RULE,
    include_unresolved: bool = False,
    n_bootstrap: int = 1000,
    parquet: bool = False,
    overwrite: bool = False,
) -> MergeResult:
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

    counts: dict[str, int] = defaultdict(int)
    written = 0
    with DatasetWriter(
        out,
        name=ds.name,
        schema=ds.schema,
        classes=ds.classes,
        parquet=parquet,
        overwrite=overwrite,
        source={"merged_from": str(manifest), "labels": str(labels), "rule": rule},
    ) as w:
        for clip in clips.values():
            annotations = by_clip.get(clip.clip_id, [])
            final, status = consensus([a for _, a in annotations], rule)
            counts[status] += 1
            row = dataset_row(
                clip.model_dump() | {"video": str(ds.video_path(clip).resolve())},
                final=final, status=status, annotations=annotations, schema=ds.schema,
            )  # fmt: skip
            if row["status"] != ClipStatus.UNLABELLED or include_unresolved:
                w.add(row)
                written += 1
        w.agreement = report.summary()
    return MergeResult(
        written=written,
        consensus=counts[ClipStatus.CONSENSUS],
        single=counts[ClipStatus.SINGLE],
        unresolved=counts[ClipStatus.DISPUTED],
        unlabelled=counts[ClipStatus.UNLABELLED],
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
