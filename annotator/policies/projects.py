"""A project: who sees it, reviews it, administers it and annotates in it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from annotator.policies._rules import is_admin, require_role, reviews, visible_or_404
from fgtext import store
from fgtext.store import PermissionDeniedError, Project, User
from fgtext.vocabulary import Role


def can_see(session: Session, user: User, project: Project) -> bool:
    """Admins see every project; everyone else the projects they are a member of."""
    return is_admin(user) or store.is_member(session, project=project, user=user)


def visible(session: Session, user: User) -> list[Project]:
    """The projects `user` may see, by name."""
    return [p for p in store.list_projects(session) if can_see(session, user, p)]


def can_review(session: Session, user: User, project: Project) -> bool:
    return reviews(user) and can_see(session, user, project)


def visible_progress(user: User, progress: dict[str, Any]) -> dict[str, Any]:
    """A project's progress as `user` may see it. Annotators see the project's size and their
    own work only: clips by status (final, in review) or everyone's annotation count would tell
    them how others labelled (blind by inference too)."""
    if reviews(user):
        return progress
    mine = [row for row in progress["annotators"] if row["user_id"] == user.id]
    return {
        "clips": progress["clips"],
        "annotations": sum(row["annotations"] for row in mine),
        "annotators": mine,
    }


def require_access(session: Session, user: User, project_id: int) -> Project:
    """The project, if the user may see it (admin or member); else 404."""

    def may_see(project: Project) -> bool:
        return can_see(session, user, project)

    return visible_or_404(session, "project", project_id, store.get_project, may_see)


def require_review(session: Session, user: User, project_id: int) -> Project:
    """The project, for an admin or a reviewer who is a member; 404 if unseen, 403 if the
    user sees it but annotates only."""
    project = require_access(session, user, project_id)
    require_role(user, Role.ADMIN, Role.REVIEWER)
    return project


def require_admin(session: Session, user: User, project_id: int) -> Project:
    """The project, for admins (adding clips and members, export); 404 if unseen, else 403."""
    project = require_access(session, user, project_id)
    require_role(user, Role.ADMIN)
    return project


def require_manage_suggestions(session: Session, user: User, project_id: int) -> Project:
    """Importing, reading and clearing a project's model suggestions, and its suggestion mode:
    admins (404 if unseen, else 403)."""
    return require_admin(session, user, project_id)


def check_can_annotate(session: Session, user: User, project: Project) -> None:
    """Every user who labels must be active; annotators must be members of the project."""
    if not user.is_active:
        raise PermissionDeniedError(f"user {user.username!r} is deactivated")
    if user.role == Role.ANNOTATOR and not store.is_member(session, project=project, user=user):
        raise PermissionDeniedError(
            f"user {user.username!r} is not a member of project {project.name!r}"
        )


def require_annotate(session: Session, user: User, project_id: int) -> Project:
    """The project, if the user may see it (else 404) and label its clips (else 403)."""
    project = require_access(session, user, project_id)
    check_can_annotate(session, user, project)
    return project
