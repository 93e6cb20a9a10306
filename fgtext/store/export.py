"""A project's labels as an FG-Text dataset in the current format (`fgtext.dataset.FORMAT`; what training reads).

Rows are built by `fgtext.dataset.dataset_row`, as `fgtext merge` builds them. Final clips
(status consensus / adjudicated / single) carry their final values, T_fg and every
annotator's labels; dataset.json carries the agreement summary of the stored annotations. With
`include_unfinished`, the other clips are written as "unlabelled" (null attributes and text,
their annotations so far listed) instead of being left out. Gold clips (`fgtext.store.gold`)
are written with status "gold" and their known values, without their annotations: those are
measurement of the annotators, not data (nor are they in the agreement summary). A project of
the `dawid-skene` rule is exported from a fresh fit of the model on all its labels (gold clips
anchoring it): each final row carries its values' posteriors (`confidence`) and dataset.json
each annotator's estimated accuracy per dimension (`annotators`). Video paths are absolute, or with
`copy_videos` relative: each source video is copied once into the dataset's `videos/` (segments
keep their frame ranges), so the folder travels on its own (the annotator's download). Which
file a clip's video is, when copied, is `video_file`'s answer: by default the stored path as
it is (the command line's operator reads their own disk); the annotator passes its media-root
containment rule, the one `/media` serves by, so a download never carries a file from elsewhere.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session, select

from fgtext.agreement import agreement_summary
from fgtext.dataset import DatasetWriter, dataset_row
from fgtext.errors import FgTextError
from fgtext.store.gold import gold_values
from fgtext.store.models import Adjudication, Annotation, Clip, Project, User
from fgtext.store.projects import clip_video_path, project_classes, project_schema
from fgtext.store.review import clip_status, fit_project, posterior_rule, project_agreement
from fgtext.vocabulary import DAWID_SKENE, ClipStatus, is_final

EXPORT_GENERATOR = "fgtext.store"


def export_project(
    session: Session,
    *,
    project: Project,
    out_dir: str | Path,
    include_unfinished: bool = False,
    overwrite: bool = False,
    parquet: bool = False,
    copy_videos: bool = False,
    video_file: Callable[[Project, Clip], Path] = clip_video_path,
) -> Path:
    """Write the project's dataset to `out_dir` (atomically: it appears when complete);
    `parquet` adds clips.parquet, `copy_videos` puts the videos inside it, each the file
    `video_file(project, clip)` names (it raises to refuse one: nothing is written then)."""
    schema = project_schema(project)
    report = project_agreement(session, project=project)
    classes = [
        {"id": c.class_id, "name": c.name, "text": c.text}
        for c in project_classes(session, project=project)
    ]
    annotations: dict[int, list[tuple[str, dict[str, str]]]] = defaultdict(list)
    for clip_id, username, a in session.exec(
        select(Annotation.clip_id, User.username, Annotation)
        .join(Clip, Clip.id == Annotation.clip_id)
        .join(User, User.id == Annotation.user_id)
        .where(Clip.project_id == project.id)
        .order_by(Annotation.clip_id, Annotation.id)
    ).all():
        annotations[clip_id].append((username, a.attributes))
    decisions = {
        d.clip_id: d.attributes
        for d in session.exec(
            select(Adjudication)
            .join(Clip, Clip.id == Adjudication.clip_id)
            .where(Clip.project_id == project.id)
        ).all()
    }
    gold = gold_values(session, project=project)
    fit = fit_project(session, project=project) if project.consensus_rule == DAWID_SKENE else None
    index = fit.index() if fit is not None else {}
    source = {
        "generator": EXPORT_GENERATOR,
        "project": project.name,
        "annotators_per_clip": project.annotators_per_clip,
        "consensus_rule": project.consensus_rule,
        **({"confidence_threshold": project.confidence_threshold} if fit is not None else {}),
        "labels_revision": project.labels_revision,
        "include_unfinished": include_unfinished,
        "videos": "copied" if copy_videos else "referenced",
    }
    with DatasetWriter(
        out_dir, name=project.name, schema=schema, classes=classes, source=source,
        overwrite=overwrite, parquet=parquet,
    ) as writer:  # fmt: skip
        copies = _VideoCopies(writer.staging_dir / "videos") if copy_videos else None
        for clip in session.exec(
            select(Clip).where(Clip.project_id == project.id).order_by(Clip.id)
        ):
            labels = annotations.get(clip.id, [])
            confidence = None
            if clip.id in gold:
                final, status, labels = gold[clip.id], ClipStatus.GOLD, []
            elif clip.id in decisions:
                final, status = decisions[clip.id], ClipStatus.ADJUDICATED
            elif fit is not None:
                final, status = None, ClipStatus.IN_PROGRESS
                if len(labels) >= project.min_annotators:
                    i = index[clip.clip_id]
                    final, confidence = fit.final(i), fit.confidence(i)
                    status = posterior_rule(project, len(labels), confidence)
            else:
                final, status = clip_status(
                    [a for _, a in labels], k=project.annotators_per_clip,
                    rule=project.consensus_rule,
                )  # fmt: skip
            if not is_final(status) and not include_unfinished:
                continue
            fields = {
                "clip_id": clip.clip_id,
                "video": (
                    copies.add(clip.clip_id, video_file(project, clip))
                    if copies
                    else str(clip_video_path(project, clip))
                ),
                "start_frame": clip.start_frame,
                "end_frame": clip.end_frame,
                "label": clip.label,
                "split": clip.split,
            }
            writer.add(
                dataset_row(
                    fields, final=final, status=status, annotations=labels, schema=schema,
                    confidence=confidence,
                )
            )  # fmt: skip
        writer.agreement = agreement_summary(report)
        if fit is not None:
            writer.annotators = fit.annotator_accuracy()
    return Path(out_dir)


class _VideoCopies:
    """Copies each distinct source video once into `folder`; names stay readable and unique."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: dict[Path, str] = {}

    def add(self, clip_id: str, source: Path) -> str:
        if source not in self.names:
            if not source.is_file():
                raise FgTextError(f"clip {clip_id}: video {source} not found; nothing written")
            taken = set(self.names.values())
            name, n = source.name, 1
            while name in taken:
                n += 1
                name = f"{source.stem}-{n}{source.suffix}"
            self.folder.mkdir(exist_ok=True)
            shutil.copy2(source, self.folder / name)
            self.names[source] = name
        return f"videos/{self.names[source]}"
