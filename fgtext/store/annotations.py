"""Submitting and editing annotations (blind: each annotator reads only their own, and only
the author edits or withdraws one; `annotator.policies.annotations` enforces both).

Submitting needs the clip's lease (from `next_clip`) or free room on the clip (fewer than k
annotations plus other users' live leases). Resubmitting the same values is a no-op that
returns the stored annotation; different values on submit are a conflict (edit instead).
Edits carry the version they were based on; a stale one is refused and nothing is written.
Until the clip has all its k labels, an annotator may withdraw their own annotation (the annotation page's undo): the clip is leased
back to them in place of any lease they held in the project (one live lease per annotator and
project), and the audit log keeps the withdrawn values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import bindparam, delete, exists, func, insert, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from fgtext.schema import DIMENSIONS
from fgtext.store.assignment import DEFAULT_LEASE_SECONDS, open_leases
from fgtext.store.db import (
    INSERT_AUDIT_EVENT,
    audit,
    audit_event,
    get_row,
    write_together,
    write_transaction,
)
from fgtext.store.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StaleVersionError,
)
from fgtext.store.labels import validate_attributes
from fgtext.store.models import Annotation, Clip, Lease, Project, Skip, User, utc_now
from fgtext.store.projects import (
    BUMP_LABELS_REVISION,
    bump_labels_revision,
    labels_revised,
    project_schema,
)
from fgtext.store.review import decided_clip_status, refresh_clip_status
from fgtext.store.suggestions import suggestion_use
from fgtext.validation import finite_or_none
from fgtext.vocabulary import OPEN_STATUSES, ClipStatus

MAX_NOTE = 2000
MAX_SECONDS_SPENT = 86400.0  # on one clip: more is a tab left open, not work


def _check_note(note: str) -> str:
    if not isinstance(note, str):
        raise InvalidInputError("note must be text")
    if len(note) > MAX_NOTE:
        raise InvalidInputError(f"note has {len(note)} characters; at most {MAX_NOTE} are kept")
    return note


def _check_seconds(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    if (
        not isinstance(seconds, int | float)
        or not 0 <= seconds <= MAX_SECONDS_SPENT
        or finite_or_none(float(seconds)) is None  # a denormal number
    ):
        raise InvalidInputError(
            f"seconds_spent is {seconds!r}; expected a number from 0 to {MAX_SECONDS_SPENT:g}"
        )
    return float(seconds)


# The submission's statements, built once with bind parameters (the hot path: every label).
_annotations, _leases, _skips, _clips = (
    Annotation.__table__,
    Lease.__table__,
    Skip.__table__,
    Clip.__table__,
)
# The clip's stored state, with the user's own live lease, other users' live leases and whether
# the user skipped it (one round trip under the project's lock).
_CLIP_STATE = select(
    _clips.c.status,
    _clips.c.n_annotations,
    _clips.c.confidence,
    select(func.count())
    .where(
        _leases.c.clip_id == _clips.c.id,
        _leases.c.user_id == bindparam("user_id"),
        _leases.c.expires_at > bindparam("now"),
    )
    .scalar_subquery()
    .label("mine"),
    select(func.count())
    .where(
        _leases.c.clip_id == _clips.c.id,
        _leases.c.user_id != bindparam("user_id"),
        _leases.c.expires_at > bindparam("now"),
    )
    .scalar_subquery()
    .label("leased"),
    exists()
    .where(_skips.c.clip_id == _clips.c.id, _skips.c.user_id == bindparam("user_id"))
    .label("skipped"),
).where(_clips.c.id == bindparam("clip_id"))
_CLIP_LABELS = select(_annotations.c.id, _annotations.c.user_id, *_annotations.c[DIMENSIONS]).where(
    _annotations.c.clip_id == bindparam("clip_id")
)
_INSERT_ANNOTATION = insert(_annotations)
_DELETE_USERS_SKIP = delete(_skips).where(
    _skips.c.clip_id == bindparam("clip_id"), _skips.c.user_id == bindparam("user_id")
)
# The writes that finish a submission, none read back (`write_together`: one statement on
# PostgreSQL, so parameters are named unlike any column): the lease goes, the clip's state and
# the project's labels revision are set, the event is logged.
_RELEASE_LEASE = delete(_leases).where(
    _leases.c.clip_id == bindparam("lease_clip"), _leases.c.user_id == bindparam("lease_user")
)
_SET_CLIP_STATE = (
    update(_clips)
    .where(_clips.c.id == bindparam("clip_row"))
    .values(
        status=bindparam("new_status"),
        n_annotations=bindparam("new_count"),
        confidence=bindparam("new_confidence"),
    )
)
_FINISH_SUBMISSION = (_RELEASE_LEASE, _SET_CLIP_STATE, BUMP_LABELS_REVISION, INSERT_AUDIT_EVENT)


def submit_annotation(
    session: Session,
    *,
    clip: Clip,
    user: User,
    attributes: Mapping[str, str],
    unsure: bool = False,
    note: str = "",
    seconds_spent: float | None = None,
    suggestion: Mapping[str, object] | None = None,
) -> Annotation:
    """Store `user`'s labels for `clip` (version 1) and release their lease. `suggestion`:
    what the page showed and which was chosen (`fgtext.store.suggestions.suggestion_use`).
    Returns the annotation (a new one is not attached to `session`)."""
    note = _check_note(note)
    seconds_spent = _check_seconds(seconds_spent)
    with write_transaction(session, lock_project=clip.project_id) as connection:
        at_clip = {"clip_id": clip.id}
        now = utc_now()
        state = connection.execute(_CLIP_STATE, {**at_clip, "user_id": user.id, "now": now}).first()
        if state is None:
            raise NotFoundError("clip does not exist")
        # The request's clip object follows the stored row (without a write of its own).
        for name in ("status", "n_annotations", "confidence"):
            set_committed_value(clip, name, getattr(state, name))
        project = session.get(Project, clip.project_id)
        values = validate_attributes(project_schema(project), attributes)
        used = suggestion_use(
            session, clip=clip, project=project, suggestion=suggestion, values=values
        )
        others = connection.execute(_CLIP_LABELS, at_clip).all()
        existing = next((a for a in others if a.user_id == user.id), None)
        if existing is not None:
            if dict(zip(DIMENSIONS, existing[2:], strict=True)) == values:
                return session.get(Annotation, existing.id)
            stored = session.get(Annotation, existing.id)
            raise ConflictError(
                f"user {user.username!r} has already labelled clip {clip.clip_id!r} "
                f"(version {stored.version}) with other values; edit that annotation instead"
            )
        if not state.mine:
            # adaptive k: a decided clip wants no more labels, though below k_max
            decided = project.k_max is not None and clip.status not in OPEN_STATUSES
            if state.leased >= open_leases(project, len(others)) or decided:
                n = project.max_annotators if project.k_max is None else len(others) + state.leased
                raise ConflictError(
                    f"clip {clip.clip_id!r} already has its {n} annotators (labelled or "
                    "reserved); ask for the next clip"
                )
        row = {
            "clip_id": clip.id, "user_id": user.id, **values, "unsure": bool(unsure),
            "note": note, "seconds_spent": seconds_spent, "version": 1, "created_at": now,
            "updated_at": now, **used,
        }  # fmt: skip
        (annotation_id,) = connection.execute(_INSERT_ANNOTATION, row).inserted_primary_key
        if state.skipped:
            connection.execute(_DELETE_USERS_SKIP, {**at_clip, "user_id": user.id})
        labels = [dict(zip(DIMENSIONS, a[2:], strict=True)) for a in others] + [values]
        status, confidence = decided_clip_status(session, clip=clip, project=project, labels=labels)
        finish = {
            "lease_clip": clip.id, "lease_user": user.id, "clip_row": clip.id,
            "new_status": status, "new_count": len(labels), "new_confidence": confidence,
            "revised_project": project.id,
            **audit_event(
                actor=user, action="annotation.submit", entity_type="annotation",
                entity_id=annotation_id, project_id=project.id,
                payload={"clip_id": clip.id, "attributes": values, "unsure": bool(unsure),
                         "note": note, "seconds_spent": seconds_spent,
                         **({"suggestion": used} if used["suggestions_shown"] else {})},
            ),
        }  # fmt: skip
        write_together(connection, _FINISH_SUBMISSION, finish)
        # The request's objects follow the rows (without writes of their own).
        for name, value in (("n_annotations", len(labels)), ("status", status),
                            ("confidence", confidence)):  # fmt: skip
            set_committed_value(clip, name, value)
        labels_revised(project)
    return Annotation(id=annotation_id, **row)


def update_annotation(
    session: Session,
    *,
    annotation: Annotation,
    user: User,
    attributes: Mapping[str, str],
    expected_version: int,
    unsure: bool | None = None,
    note: str | None = None,
    seconds_spent: float | None = None,
) -> Annotation:
    """Edit one's own annotation. `expected_version` is the version the edit was based on; if
    the stored one is newer, StaleVersionError and nothing changes. `seconds_spent` is added to
    the time already recorded. An edit that changes nothing keeps the version."""
    if note is not None:
        note = _check_note(note)
    seconds_spent = _check_seconds(seconds_spent)
    annotation_id = annotation.id  # before the transaction expires `annotation`
    with write_transaction(session, lock_project=_project_id_of(session, annotation_id)):
        stored, user, clip, project = _stored_annotation(session, annotation_id, user)
        if stored.version != expected_version:
            raise StaleVersionError(
                f"annotation {stored.id} is at version {stored.version}, not "
                f"{expected_version}: it was edited elsewhere; reload it and edit again",
                expected=expected_version, current=stored.version,
            )  # fmt: skip
        values = validate_attributes(project_schema(project), attributes)
        before = {"attributes": stored.attributes, "unsure": stored.unsure, "note": stored.note}
        labels_changed = values != stored.attributes
        for d, v in values.items():
            setattr(stored, d, v)
        if unsure is not None:
            stored.unsure = bool(unsure)
        if note is not None:
            stored.note = note
        after = {"attributes": stored.attributes, "unsure": stored.unsure, "note": stored.note}
        if seconds_spent is not None:
            stored.seconds_spent = (stored.seconds_spent or 0.0) + seconds_spent
        if after != before:
            stored.version += 1
            stored.updated_at = utc_now()
        session.add(stored)
        session.flush()
        if labels_changed:
            refresh_clip_status(session, clip=clip, project=project)
            bump_labels_revision(session, project=project)
        if after != before or seconds_spent is not None:
            audit(
                session, actor=user, action="annotation.update", entity_type="annotation",
                entity_id=stored.id, project_id=project.id,
                payload={"before": before, "after": after, "version": stored.version,
                         "seconds_spent_added": seconds_spent},
            )  # fmt: skip
    return stored


def withdraw_annotation(session: Session, *, annotation: Annotation, user: User) -> Clip:
    """Take back one's own annotation (undo of a submission) and lease its clip to `user` again,
    so they can label it anew. Refused once the clip has all its k labels or a reviewer's
    decision (which may rest on it); both alike, since telling them apart would tell an
    annotator that a reviewer decided, i.e. that the annotators disagreed. Returns the clip."""
    annotation_id = annotation.id  # before the transaction expires `annotation`
    with write_transaction(session, lock_project=_project_id_of(session, annotation_id)):
        stored, user, clip, project = _stored_annotation(session, annotation_id, user)
        if (
            clip.status == ClipStatus.ADJUDICATED
            or clip.n_annotations >= project.max_annotators
            or (project.k_max is not None and clip.status not in OPEN_STATUSES)
        ):
            raise ConflictError(
                f"clip {clip.clip_id!r} has all its labels (or a reviewer's decision), so your "
                "label of it can no longer be withdrawn; edit it instead"
            )
        withdrawn = {"clip_id": clip.id, "attributes": stored.attributes,
                     "unsure": stored.unsure, "note": stored.note, "version": stored.version,
                     "seconds_spent": stored.seconds_spent}  # fmt: skip
        session.delete(stored)
        session.flush()
        clip.n_annotations = max(0, clip.n_annotations - 1)
        refresh_clip_status(session, clip=clip, project=project)
        # The clip's lease replaces any other the author holds in the project: one live lease
        # per annotator and project, so submit-and-withdraw cannot hoard clips.
        session.execute(
            delete(Lease).where(Lease.project_id == project.id, Lease.user_id == user.id)
        )
        session.add(
            Lease(
                project_id=project.id, clip_id=clip.id, user_id=user.id,
                expires_at=utc_now() + timedelta(seconds=DEFAULT_LEASE_SECONDS),
            )
        )  # fmt: skip
        bump_labels_revision(session, project=project)
        audit(
            session, actor=user, action="annotation.withdraw", entity_type="annotation",
            entity_id=annotation_id, project_id=project.id, payload=withdrawn,
        )  # fmt: skip
    return clip


def _stored_annotation(
    session: Session, annotation_id: int, user: User
) -> tuple[Annotation, User, Clip, Project]:
    """Inside a write transaction: the stored annotation (locked; 404 if a concurrent request
    withdrew it), `user` (who makes the change), and the annotation's clip and project."""
    stored = session.get(Annotation, annotation_id, with_for_update=True, populate_existing=True)
    if stored is None:
        raise NotFoundError(f"annotation {annotation_id} does not exist")
    user = session.get(User, user.id)
    clip = session.get(Clip, stored.clip_id, populate_existing=True)
    project = session.get(Project, clip.project_id)
    return stored, user, clip, project


def _project_id_of(session: Session, annotation_id: int) -> int:
    project_id = session.exec(
        select(Clip.project_id)
        .join(Annotation, Annotation.clip_id == Clip.id)
        .where(Annotation.id == annotation_id)
    ).first()
    if project_id is None:
        raise NotFoundError(f"annotation {annotation_id} does not exist")
    return project_id


def get_annotation(session: Session, *, annotation_id: int) -> Annotation:
    return get_row(session, Annotation, annotation_id, "annotation")


def list_annotations(session: Session, *, project: Project, user: User) -> list[Annotation]:
    """`user`'s own annotations in the project (annotation is blind), oldest first."""
    return list(
        session.exec(
            select(Annotation)
            .join(Clip, Clip.id == Annotation.clip_id)
            .where(Clip.project_id == project.id, Annotation.user_id == user.id)
            .order_by(Annotation.id)
        )
    )


def recent_annotations(
    session: Session, *, project: Project, user: User, limit: int | None = None
) -> list[tuple[Annotation, Clip]]:
    """`user`'s own annotations in the project with their clips, newest first (one query)."""
    query = (
        select(Annotation, Clip)
        .join(Clip, Clip.id == Annotation.clip_id)
        .where(Clip.project_id == project.id, Annotation.user_id == user.id)
        .order_by(Annotation.id.desc())
    )
    return [tuple(row) for row in session.exec(query.limit(limit) if limit else query)]


def count_annotations(session: Session, *, project: Project, user: User) -> int:
    """How many clips of the project `user` has labelled."""
    return session.exec(
        select(func.count())
        .select_from(Annotation)
        .join(Clip, Clip.id == Annotation.clip_id)
        .where(Clip.project_id == project.id, Annotation.user_id == user.id)
    ).one()


def clip_annotations(session: Session, *, clip: Clip) -> list[Annotation]:
    """Every annotator's labels for the clip (annotation is blind: the app shows them to
    reviewers and admins only, `annotator.policies`)."""
    return list(
        session.exec(
            select(Annotation).where(Annotation.clip_id == clip.id).order_by(Annotation.id)
        )
    )
