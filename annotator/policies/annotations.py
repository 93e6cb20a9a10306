"""An annotation: blind, so only its author and the project's reviewers read it, and only its
author edits or withdraws it (a reviewer adjudicates instead)."""

from __future__ import annotations

from sqlmodel import Session

from annotator.policies import clips, projects
from annotator.policies._rules import reviews, visible_or_404
from fgtext import store
from fgtext.store import Annotation, PermissionDeniedError, User


def can_read(session: Session, user: User, annotation: Annotation) -> bool:
    if annotation.user_id == user.id:
        return True
    if not reviews(user):
        return False
    clip = store.get_clip(session, clip_id=annotation.clip_id)
    project = store.get_project(session, project_id=clip.project_id)
    return projects.can_review(session, user, project)


def require_read(session: Session, user: User, annotation_id: int) -> Annotation:
    """The annotation, if it is the user's own or they review its project; else 404."""

    def may_read(annotation: Annotation) -> bool:
        return can_read(session, user, annotation)

    return visible_or_404(session, "annotation", annotation_id, store.get_annotation, may_read)


def check_author(session: Session, user: User, annotation: Annotation, verb: str) -> None:
    """403 unless `user` wrote the annotation; `verb` names the change ("edits")."""
    if annotation.user_id != user.id:
        author = store.get_user(session, user_id=annotation.user_id).username
        raise PermissionDeniedError(
            f"annotation {annotation.id} is {author}'s; only its author {verb} it (reviewers "
            "decide disagreements with POST /api/v1/clips/{id}/adjudication)"
        )


def require_edit(
    session: Session, user: User, annotation_id: int, verb: str = "edits"
) -> Annotation:
    """The annotation, for its author while they may still label in its project and the clip
    blind (`clips.check_blind`): 404 if the user may not read it, 403 if it is someone else's
    or they may not change it."""
    annotation = require_read(session, user, annotation_id)
    check_author(session, user, annotation, verb)
    clip = store.get_clip(session, clip_id=annotation.clip_id)
    project = store.get_project(session, project_id=clip.project_id)
    projects.check_can_annotate(session, user, project)
    clips.check_blind(session, user, clip)
    return annotation
