"""Who has been shown other annotators' labels of which clip, from the append-only audit log.

The app logs a `clip.labels.view` event (entity: the clip) whenever it shows someone the labels
of a clip (review page and API, another's annotation) and a `project.labels.export` event
(entity: the project) for an export, which carries every label. A label given after seeing
the others is not blind: `annotator.policies` refuses it, and `next_clip` / `remaining_for`
leave such clips out for the users it asks them to. Both checks are one indexed lookup
(`ix_audit_events_entity`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String, cast, exists, or_
from sqlmodel import Session, select

from fgtext.store.db import audit, write_transaction
from fgtext.store.models import AuditEvent, Clip, Project, User

LABELS_VIEW = "clip.labels.view"
LABELS_EXPORT = "project.labels.export"


def _event(action: str, entity_type: str, entity_id, user_id: int):
    return exists().where(
        AuditEvent.entity_type == entity_type,
        AuditEvent.entity_id == entity_id,
        # `+ 0`: look the event up by the entity index (a clip has a few events; a reviewer
        # has many), which SQLite's planner would otherwise pass over for the actor's
        AuditEvent.actor_id + 0 == user_id,
        AuditEvent.action == action,
    )


def _as_text(ident):
    """An id as the audit log's text `entity_id`: a value as is, a column cast."""
    return str(ident) if isinstance(ident, int) else cast(ident, String)


def seen_labels(clip_id, project_id, user_id: int):
    """A SQL condition: `user_id` has been shown others' labels of the clip `clip_id` (an id
    or a column), or has exported its project `project_id`."""
    return or_(
        _event(LABELS_VIEW, "clip", _as_text(clip_id), user_id),
        _event(LABELS_EXPORT, "project", _as_text(project_id), user_id),
    )


def has_seen_labels(session: Session, *, user: User, clip: Clip) -> bool:
    """Whether `user` has been shown other annotators' labels of `clip` (one query)."""
    return session.exec(select(seen_labels(clip.id, clip.project_id, user.id))).one()


def record_labels_seen(session: Session, *, user: User, clips: Sequence[Clip]) -> None:
    """Log that `user` is shown everyone's labels of `clips`: once per user and clip, and
    without a write when every one is logged already (reviewers reopen pages often)."""
    wanted = {str(c.id): c.project_id for c in clips}
    if not wanted:
        return
    user_id = user.id
    logged = set(
        session.exec(
            select(AuditEvent.entity_id).where(
                AuditEvent.entity_type == "clip",
                AuditEvent.entity_id.in_(wanted),
                AuditEvent.actor_id == user_id,
                AuditEvent.action == LABELS_VIEW,
            )
        )
    )
    missing = {clip_id: p for clip_id, p in wanted.items() if clip_id not in logged}
    if not missing:
        return
    with write_transaction(session):
        actor = session.get(User, user_id)
        for clip_id, project_id in missing.items():
            audit(
                session, actor=actor, action=LABELS_VIEW, entity_type="clip",
                entity_id=clip_id, project_id=project_id,
            )  # fmt: skip


def record_labels_exported(session: Session, *, user: User, project: Project) -> None:
    """Log that `user` exported the project's labels (from now on they count as seen)."""
    user_id, project_id = user.id, project.id
    with write_transaction(session):
        audit(
            session, actor=session.get(User, user_id), action=LABELS_EXPORT,
            entity_type="project", entity_id=project_id, project_id=project_id,
        )  # fmt: skip
