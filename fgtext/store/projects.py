"""Projects (schema, classes with T_c and their typical combinations, k, consensus rule and its
threshold, gold rate, suggestion mode), their members and their clips.

Clips come from an FG-Text dataset or manifest (what `fgtext import ...` or `fgtext synth`
writes). Video paths under the project's media root are stored relative to it (the app serves
only from there); a video outside it is stored as an absolute path, which the app's media
route refuses to serve (exports still resolve it), so give a media root that holds the videos.
With `import_gold`, the dataset's clips of status `gold` become gold clips with their values
(`fgtext.store.gold`); it is asked for, because `fgtext synth` marks every clip gold.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, exists, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from fgtext.dataset import ClassInfo, Dataset, class_infos, open_dataset
from fgtext.dataset import Clip as DatasetClip
from fgtext.schema import ClassDef, Schema
from fgtext.store.class_suggestions import class_typicals
from fgtext.store.db import audit, get_row, write_transaction
from fgtext.store.errors import ConflictError, InvalidInputError, NotFoundError
from fgtext.store.labels import validate_attributes
from fgtext.store.models import Clip, GoldClip, Project, ProjectClass, ProjectMember, User
from fgtext.vocabulary import (
    DAWID_SKENE,
    DEFAULT_CONSENSUS_RULE,
    DEFAULT_POSTERIOR_THRESHOLD,
    PROJECT_RULES,
    SUGGESTION_MODES,
    ClipStatus,
    SuggestionMode,
)

_INSERT_CHUNK = 1000  # clips per multi-row INSERT


def check_suggestion_mode(mode: object) -> SuggestionMode:
    """Whether and when the annotation page offers suggestions (`fgtext.store.suggestions`)."""
    if mode not in SUGGESTION_MODES:
        raise InvalidInputError(
            f"suggestion mode {mode!r} is unknown; expected one of {', '.join(SUGGESTION_MODES)}"
        )
    return SuggestionMode(mode)


def check_gold_rate(rate: object) -> float:
    """The share of each annotator's clips drawn from the gold clips (`fgtext.store.gold`)."""
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise InvalidInputError(
            f"gold_rate is {rate!r}; expected a share from 0 to 1 (0.05: 1 in 20)"
        )
    return float(rate)


@dataclass(frozen=True)
class AddClipsResult:
    added: int
    unchanged: int  # clip ids the project already had (left exactly as they were)


def _check_settings(
    annotators_per_clip: int,
    consensus_rule: str,
    threshold: float,
    k_min: int | None = None,
    k_max: int | None = None,
) -> None:
    if not isinstance(annotators_per_clip, int) or annotators_per_clip < 1:
        raise InvalidInputError(
            f"annotators_per_clip is {annotators_per_clip!r}; expected a whole number >= 1"
        )
    if consensus_rule not in PROJECT_RULES:
        raise InvalidInputError(
            f"consensus rule {consensus_rule!r} is unknown; "
            f"expected one of {', '.join(PROJECT_RULES)}"
        )
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold <= 1
    ):
        raise InvalidInputError(
            f"confidence_threshold is {threshold!r}; expected a posterior above 0, at most 1"
        )
    if k_min is None and k_max is None:
        return
    if consensus_rule != DAWID_SKENE:
        raise InvalidInputError(
            f"adaptive k (k_min, k_max) needs the {DAWID_SKENE} rule (its posteriors say when a "
            f"clip has enough labels); the rule is {consensus_rule!r}"
        )
    if not all(isinstance(k, int) and not isinstance(k, bool) for k in (k_min, k_max)) or not (
        1 <= k_min <= k_max
    ):
        raise InvalidInputError(
            f"k_min {k_min!r} and k_max {k_max!r}: expected whole numbers, 1 <= k_min <= k_max"
        )


def create_project(
    session: Session,
    *,
    name: str,
    schema: Schema,
    classes: Sequence[ClassDef | ClassInfo],
    annotators_per_clip: int = 2,
    consensus_rule: str = DEFAULT_CONSENSUS_RULE,
    actor: User | None,
    media_root: Path | None = None,
    confidence_threshold: float = DEFAULT_POSTERIOR_THRESHOLD,
    k_min: int | None = None,
    k_max: int | None = None,
    suggestion_mode: str = SuggestionMode.OFF,
    class_list: str | Path | None = None,
) -> Project:
    """A project without clips; the class texts T_c default to the schema's template. With
    `k_min` and `k_max` (the dawid-skene rule only), k is adaptive and `annotators_per_clip`
    is not used. The classes' typical combinations (class suggestions) are those of
    `class_list`, else of the classes given, else of the built-in list their names match
    (`fgtext.store.class_suggestions.class_typicals`)."""
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise InvalidInputError("project name is empty; expected a non-empty name")
    _check_settings(annotators_per_clip, consensus_rule, confidence_threshold, k_min, k_max)
    infos = class_infos(classes, schema)
    if not infos:
        raise InvalidInputError(f"project {name!r} needs at least one class")
    suggestion_mode = check_suggestion_mode(suggestion_mode)
    typical = class_typicals(schema, classes, class_list)
    with write_transaction(session):
        project = _insert_project(
            session, name=name, schema=schema, classes=infos, k=annotators_per_clip,
            rule=consensus_rule, actor=actor, media_root=media_root,
            threshold=confidence_threshold, k_min=k_min, k_max=k_max,
            suggestion_mode=suggestion_mode, typical=typical,
        )  # fmt: skip
    return project


def _insert_project(
    session: Session,
    *,
    name: str,
    schema: Schema,
    classes: list[ClassInfo],
    k: int,
    rule: str,
    actor: User | None,
    media_root: Path | None,
    gold_rate: float = 0.0,
    threshold: float = DEFAULT_POSTERIOR_THRESHOLD,
    k_min: int | None = None,
    k_max: int | None = None,
    suggestion_mode: SuggestionMode = SuggestionMode.OFF,
    typical: dict[int, list[dict[str, str]]] | None = None,
) -> Project:
    if session.exec(select(Project).where(Project.name == name)).first() is not None:
        raise ConflictError(f"project {name!r} exists already")
    project = Project(
        name=name,
        schema_spec=schema.to_dict(),
        annotators_per_clip=k,
        consensus_rule=rule,
        media_root=str(Path(media_root).resolve()) if media_root is not None else "",
        gold_rate=gold_rate,
        confidence_threshold=float(threshold),
        k_min=k_min,
        k_max=k_max,
        suggestion_mode=suggestion_mode.value,
    )
    session.add(project)
    try:
        session.flush()
    except IntegrityError:  # a concurrent request created it first
        raise ConflictError(f"project {name!r} exists already") from None
    typical = typical or {}
    for c in classes:
        session.add(
            ProjectClass(
                project_id=project.id, class_id=c.id, name=c.name, text=c.text,
                typical=typical.get(c.id, []),
            )
        )  # fmt: skip
    audit(
        session, actor=actor, action="project.create", entity_type="project",
        entity_id=project.id, project_id=project.id,
        payload={"name": name, "annotators_per_clip": k, "consensus_rule": rule,
                 "gold_rate": gold_rate, "confidence_threshold": float(threshold),
                 "k_min": k_min, "k_max": k_max, "suggestion_mode": suggestion_mode.value,
                 "schema": f"{schema.name} {schema.version}", "classes": len(classes),
                 "classes_with_typical": sum(1 for t in typical.values() if t)},
    )  # fmt: skip
    return project


def create_project_from_dataset(
    session: Session,
    *,
    name: str | None = None,
    dataset_dir: str | Path,
    annotators_per_clip: int = 2,
    consensus_rule: str = DEFAULT_CONSENSUS_RULE,
    actor: User | None,
    media_root: Path | None = None,
    gold_rate: float = 0.0,
    import_gold: bool = False,
    confidence_threshold: float = DEFAULT_POSTERIOR_THRESHOLD,
    k_min: int | None = None,
    k_max: int | None = None,
    suggestion_mode: str = SuggestionMode.OFF,
    class_list: str | Path | None = None,
) -> Project:
    """A project with the dataset's schema, classes (and their T_c) and clips, in one
    transaction. `name` defaults to the dataset's name. Labels in the dataset are not
    imported: the project starts unlabelled (its gold clips' values, with `import_gold`). The
    classes' typical combinations (class suggestions) come from `class_list` (smg, imigue or
    an `fgtext-classes/1` file), else from the built-in list their names match."""
    ds = open_dataset(dataset_dir)
    name = ds.name if name is None else name
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise InvalidInputError("project name is empty; expected a non-empty name")
    _check_settings(annotators_per_clip, consensus_rule, confidence_threshold, k_min, k_max)
    gold_rate = check_gold_rate(gold_rate)
    suggestion_mode = check_suggestion_mode(suggestion_mode)
    typical = class_typicals(ds.schema, ds.classes, class_list)
    with write_transaction(session):
        project = _insert_project(
            session, name=name, schema=ds.schema, classes=ds.classes, k=annotators_per_clip,
            rule=consensus_rule, actor=actor, media_root=media_root, gold_rate=gold_rate,
            threshold=confidence_threshold, k_min=k_min, k_max=k_max,
            suggestion_mode=suggestion_mode, typical=typical,
        )  # fmt: skip
        _add_clips(session, project, ds, actor, import_gold=import_gold)
    return project


def add_clips_from_dataset(
    session: Session,
    *,
    project: Project,
    dataset_dir: str | Path,
    actor: User | None,
    import_gold: bool = False,
) -> AddClipsResult:
    """Add the dataset's clips that the project lacks; clips it has (same clip_id) are left
    untouched, labels included. The dataset's classes must be the project's."""
    ds = open_dataset(dataset_dir)
    with write_transaction(session, lock_project=project.id):
        project = _reload(session, project)
        _check_classes(session, project, ds)
        return _add_clips(session, project, ds, actor, import_gold=import_gold)


def _reload(session: Session, project: Project) -> Project:
    fresh = session.get(Project, project.id)
    if fresh is None:
        raise NotFoundError(f"project {project.id} does not exist")
    return fresh


def _check_classes(session: Session, project: Project, ds: Dataset) -> None:
    ours = {c.class_id: c.name for c in project_classes(session, project=project)}
    for c in ds.classes:
        if ours.get(c.id) != c.name:
            have = f"{ours[c.id]!r}" if c.id in ours else "no class"
            raise ConflictError(
                f"{ds.root}: class {c.id} is {c.name!r} there but project {project.name!r} "
                f"has {have} with that id; add clips from a dataset with the project's classes"
            )


def _video(ds: Dataset, clip: DatasetClip, media_root: str) -> str:
    path = ds.video_path(clip).resolve()
    if media_root:
        try:
            return path.relative_to(media_root).as_posix()
        except ValueError:
            pass
    return str(path)


def _add_clips(
    session: Session, project: Project, ds: Dataset, actor: User | None, *, import_gold: bool
) -> AddClipsResult:
    existing = set(session.exec(select(Clip.clip_id).where(Clip.project_id == project.id)))
    source = str(Path(ds.root).resolve())
    rows: list[dict[str, Any]] = []
    unchanged = 0
    gold: dict[str, dict[str, str]] = {}
    schema = project_schema(project)
    for clip in ds.clips():
        if clip.clip_id in existing:
            unchanged += 1
            continue
        existing.add(clip.clip_id)
        if import_gold and clip.status == ClipStatus.GOLD and clip.attributes:
            gold[clip.clip_id] = validate_attributes(schema, clip.attributes)
        rows.append(
            {
                "project_id": project.id,
                "clip_id": clip.clip_id,
                "video": _video(ds, clip, project.media_root),
                "start_frame": clip.start_frame,
                "end_frame": clip.end_frame,
                "label": clip.label,
                "split": clip.split,
                "source": source,
                "status": ClipStatus.UNLABELLED,
                "n_annotations": 0,
            }
        )
    for start in range(0, len(rows), _INSERT_CHUNK):
        session.execute(insert(Clip), rows[start : start + _INSERT_CHUNK])
    if gold:
        ids = session.exec(select(Clip.clip_id, Clip.id).where(Clip.project_id == project.id)).all()
        gold_rows = [
            {"clip_id": db_id, "project_id": project.id, **gold[clip_id]}
            for clip_id, db_id in ids
            if clip_id in gold
        ]
        for start in range(0, len(gold_rows), _INSERT_CHUNK):
            session.execute(insert(GoldClip), gold_rows[start : start + _INSERT_CHUNK])
    audit(
        session, actor=actor, action="project.add_clips", entity_type="project",
        entity_id=project.id, project_id=project.id,
        payload={"dataset": source, "added": len(rows), "unchanged": unchanged,
                 "gold": len(gold)},
    )  # fmt: skip
    return AddClipsResult(added=len(rows), unchanged=unchanged)


def set_project_setting(
    session: Session, *, project: Project, field: str, value: object, actor: User | None
) -> Project:
    """Change one setting of the project (a checked value), audited as `project.FIELD` with
    its old and new value."""
    with write_transaction(session, lock_project=project.id):
        stored = session.get(Project, project.id, populate_existing=True)
        if stored is None:
            raise NotFoundError(f"project {project.id} does not exist")
        audit(
            session, actor=actor, action=f"project.{field}", entity_type="project",
            entity_id=stored.id, project_id=stored.id,
            payload={"old": getattr(stored, field), "new": value},
        )  # fmt: skip
        setattr(stored, field, value)
        session.add(stored)
    return stored


def get_project(session: Session, *, project_id: int) -> Project:
    return get_row(session, Project, project_id, "project")


def get_project_by_name(session: Session, *, name: str) -> Project:
    project = session.exec(select(Project).where(Project.name == name)).first()
    if project is None:
        names = list(session.exec(select(Project.name).order_by(Project.name).limit(20)))
        known = ", ".join(repr(n) for n in names) if names else "none yet"
        raise NotFoundError(f"project {name!r} does not exist (projects: {known})")
    return project


def list_projects(session: Session) -> list[Project]:
    """All projects, by name (which of them a user may see is `annotator.policies.projects`)."""
    return list(session.exec(select(Project).order_by(Project.name)))


def add_member(
    session: Session, *, project: Project, user: User, actor: User | None
) -> ProjectMember:
    """Make `user` a member of `project` (idempotent)."""
    with write_transaction(session, lock_project=project.id):
        member = session.get(ProjectMember, (project.id, user.id))
        if member is None:
            member = ProjectMember(project_id=project.id, user_id=user.id)
            session.add(member)
            audit(
                session, actor=actor, action="project.add_member", entity_type="project",
                entity_id=project.id, project_id=project.id, payload={"user_id": user.id},
            )  # fmt: skip
    return member


def project_members(session: Session, *, project: Project) -> list[User]:
    """The project's members, by username."""
    return list(
        session.exec(
            select(User)
            .join(ProjectMember, ProjectMember.user_id == User.id)
            .where(ProjectMember.project_id == project.id)
            .order_by(User.username)
        )
    )


def is_member(session: Session, *, project: Project, user: User) -> bool:
    """Whether `user` is a member of `project`. A yes is remembered for the database session
    (membership is never withdrawn), so the policies' repeated checks in one request cost one
    query."""
    known = session.info.setdefault("fgtext_members", set())
    key = (project.id, user.id)
    if key in known:
        return True
    if not session.execute(_IS_MEMBER, {"project_id": project.id, "user_id": user.id}).scalar():
        return False
    known.add(key)
    return True


_IS_MEMBER = select(
    exists().where(
        ProjectMember.project_id == bindparam("project_id"),
        ProjectMember.user_id == bindparam("user_id"),
    )
)


# Every write that changes labels bumps its project's labels_revision: the agreement, reliability
# and suggestion-bias caches are keyed by it.
BUMP_LABELS_REVISION = (
    update(Project.__table__)
    .where(Project.__table__.c.id == bindparam("revised_project"))
    .values(labels_revision=Project.__table__.c.labels_revision + 1)
)


def bump_labels_revision(session: Session, *, project: Project) -> None:
    """Inside a write transaction: the project's labels changed."""
    session.connection().execute(BUMP_LABELS_REVISION, {"revised_project": project.id})
    labels_revised(project)


def labels_revised(project: Project) -> None:
    """The request's project object follows a bump written by another statement (without a
    write of its own)."""
    set_committed_value(project, "labels_revision", project.labels_revision + 1)


def project_schema(project: Project) -> Schema:
    """The schema the project was created with. Parsed once per project and process: a
    project's schema never changes (the cache still checks that the stored one is equal)."""
    key = (project.id, project.created_at)
    cached = _PROJECT_SCHEMAS.get(key)
    if cached is None or cached[0] != project.schema_spec:
        schema = Schema.from_dict(project.schema_spec, source=f"project {project.name!r} schema")
        cached = (project.schema_spec, schema)
        with _PROJECT_SCHEMAS_LOCK:
            _PROJECT_SCHEMAS[key] = cached
            while len(_PROJECT_SCHEMAS) > 256:  # a long-lived process with many databases
                del _PROJECT_SCHEMAS[next(iter(_PROJECT_SCHEMAS))]
    return cached[1]


_PROJECT_SCHEMAS: dict[tuple[int, Any], tuple[dict, Schema]] = {}
_PROJECT_SCHEMAS_LOCK = threading.Lock()


def project_classes(session: Session, *, project: Project) -> list[ProjectClass]:
    return list(
        session.exec(
            select(ProjectClass)
            .where(ProjectClass.project_id == project.id)
            .order_by(ProjectClass.class_id)
        )
    )


def update_class_text(
    session: Session, *, project: Project, class_id: int, text: str, actor: User | None
) -> ProjectClass:
    """Edit a class-level description T_c."""
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise InvalidInputError("class text is empty; expected a sentence describing the class")
    with write_transaction(session):
        row = session.exec(
            select(ProjectClass).where(
                ProjectClass.project_id == project.id, ProjectClass.class_id == class_id
            )
        ).first()
        if row is None:
            raise NotFoundError(f"project {project.name!r} has no class {class_id}")
        audit(
            session, actor=actor, action="project.class_text", entity_type="project_class",
            entity_id=row.id, project_id=project.id, payload={"old": row.text, "new": text},
        )  # fmt: skip
        row.text = text
        session.add(row)
    return row


def get_clip(session: Session, *, clip_id: int) -> Clip:
    """A clip by its database id."""
    return get_row(session, Clip, clip_id, "clip")


def list_clips(
    session: Session, *, project: Project, offset: int = 0, limit: int = 100
) -> list[Clip]:
    return list(
        session.exec(
            select(Clip)
            .where(Clip.project_id == project.id)
            .order_by(Clip.id)
            .offset(max(offset, 0))
            .limit(max(limit, 0))
        )
    )


def count_clips(session: Session, *, project: Project) -> int:
    return session.exec(
        select(func.count()).select_from(Clip).where(Clip.project_id == project.id)
    ).one()


def clip_video_path(project: Project, clip: Clip) -> Path:
    """The clip's video as an absolute path (relative ones are under the media root)."""
    path = Path(clip.video)
    if path.is_absolute() or not project.media_root:
        return path
    return Path(project.media_root) / path
