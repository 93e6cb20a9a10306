"""Who may see and do what: the one place that answers it. Routes call these, nothing else.

Roles: `admin` (everything, every project), `reviewer` (their projects: everyone's labels,
agreement, adjudication), `annotator` (their projects: the next clip, their own labels only).
Annotation is blind: another person's annotation, and any project or clip outside one's own
projects, answer 404 exactly as if it did not exist, so nothing about it leaks. A 403 is only
for things the user can see but their role may not do.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from fgtext import store
from fgtext.store import Annotation, Clip, PermissionDeniedError, Project, User

ADMIN, REVIEWER, ANNOTATOR = "admin", "reviewer", "annotator"
ROLES = (ADMIN, REVIEWER, ANNOTATOR)


def require_role(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise PermissionDeniedError(
            f"this needs the role {' or '.join(roles)}; {user.username} is {user.role}"
        )


def is_admin(user: User) -> bool:
    return user.role == ADMIN


def can_see_project(session: Session, user: User, project: Project) -> bool:
    return is_admin(user) or store.is_member(session, project=project, user=user)


def visible_projects(session: Session, user: User) -> list[Project]:
    return [p for p in store.list_projects(session) if can_see_project(session, user, p)]


def can_review_project(session: Session, user: User, project: Project) -> bool:
    return user.role in (ADMIN, REVIEWER) and can_see_project(session, user, project)


def visible_progress(user: User, progress: dict[str, Any]) -> dict[str, Any]:
    """A project's progress as `user` may see it: annotators see the counts, and of the
    per-annotator rows only their own."""
    if user.role in (ADMIN, REVIEWER):
        return progress
    mine = [row for row in progress.get("annotators", []) if row["user_id"] == user.id]
    return {**progress, "annotators": mine}


def can_read_annotation(session: Session, user: User, annotation: Annotation) -> bool:
    if annotation.user_id == user.id:
        return True
    if user.role not in (ADMIN, REVIEWER):
        return False
    clip = store.get_clip(session, clip_id=annotation.clip_id)
    return can_review_project(session, user, _project_of(session, clip))


def _project_of(session: Session, clip: Clip) -> Project:
    return store.get_project(session, project_id=clip.project_id)


def _hidden(what: str, ident: object) -> store.NotFoundError:
    # The same words as the store's "does not exist", so hidden and missing look alike.
    return store.NotFoundError(f"{what} {ident} does not exist")


def require_project_access(session: Session, user: User, project_id: int) -> Project:
    """The project, if the user may see it (admin or member); else 404."""
    try:
        project = store.get_project(session, project_id=project_id)
    except store.NotFoundError:
        raise _hidden("project", project_id) from None
    if not can_see_project(session, user, project):
        raise _hidden("project", project_id)
    return project


def require_project_review(session: Session, user: User, project_id: int) -> Project:
    """The project, for an admin or a reviewer who is a member; 404 if unseen, 403 if the
    user sees it but annotates only."""
    project = require_project_access(session, user, project_id)
    require_role(user, ADMIN, REVIEWER)
    return project


def require_clip_access(session: Session, user: User, clip_id: int) -> tuple[Clip, Project]:
    """The clip and its project, if the user may see the project; else 404."""
    try:
        clip = store.get_clip(session, clip_id=clip_id)
    except store.NotFoundError:
        raise _hidden("clip", clip_id) from None
    project = _project_of(session, clip)
    if not can_see_project(session, user, project):
        raise _hidden("clip", clip_id)
    return clip, project


def require_annotation_read(session: Session, user: User, annotation_id: int) -> Annotation:
    try:
        annotation = store.get_annotation(session, annotation_id=annotation_id)
    except store.NotFoundError:
        raise _hidden("annotation", annotation_id) from None
    if not can_read_annotation(session, user, annotation):
        raise _hidden("annotation", annotation_id)
    return annotation


def require_annotation_edit(session: Session, user: User, annotation_id: int) -> Annotation:
    """Only the author edits their annotation (a reviewer adjudicates instead)."""
    annotation = require_annotation_read(session, user, annotation_id)
    if annotation.user_id != user.id:
        raise PermissionDeniedError(
            f"annotation {annotation_id} is {_author(session, annotation)}'s; "
            "reviewers decide disagreements with POST /api/v1/clips/{id}/adjudication"
        )
    return annotation


def _author(session: Session, annotation: Annotation) -> str:
    return store.get_user(session, user_id=annotation.user_id).username
