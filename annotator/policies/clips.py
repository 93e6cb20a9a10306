"""A clip: seen by those who see its project, reviewed by those who review it."""

from __future__ import annotations

from sqlmodel import Session

from annotator.policies import projects
from annotator.policies._rules import require_role, reviews, visible_or_404
from fgtext import store
from fgtext.store import Clip, PermissionDeniedError, Project, User
from fgtext.vocabulary import Role


def require_access(session: Session, user: User, clip_id: int) -> tuple[Clip, Project]:
    """The clip and its project, if the user may see the project; else 404."""

    seen: list[Project] = []  # the project, loaded once (the identity map holds it weakly)

    def may_see(clip: Clip) -> bool:
        seen.append(_project(session, clip))
        return projects.can_see(session, user, seen[0])

    clip = visible_or_404(session, "clip", clip_id, store.get_clip, may_see)
    return clip, seen[0]


def _project(session: Session, clip: Clip) -> Project:
    return store.get_project(session, project_id=clip.project_id)


def require_review(session: Session, user: User, clip_id: int) -> tuple[Clip, Project]:
    """The clip and its project, for those who review the project: everyone's labels of the
    clip. 404 if the project is unseen, 403 for annotators."""
    clip, project = require_access(session, user, clip_id)
    require_role(user, Role.ADMIN, Role.REVIEWER)
    return clip, project


def can_manage_gold(user: User) -> bool:
    """Gold is admins' business (the review page shows them its buttons)."""
    return user.role == Role.ADMIN


def require_manage_gold(session: Session, user: User, clip_id: int) -> tuple[Clip, Project]:
    """Marking and unmarking gold clips is for admins: gold is hidden from everyone who labels
    (404 if the project is unseen, 403 for others)."""
    clip, project = require_access(session, user, clip_id)
    require_role(user, Role.ADMIN)
    return clip, project


def require_annotate(session: Session, user: User, clip_id: int) -> tuple[Clip, Project]:
    """The clip and its project, if the user may see it (else 404) and work on it in their
    queue, e.g. skip it (else 403)."""
    clip, project = require_access(session, user, clip_id)
    projects.check_can_annotate(session, user, project)
    return clip, project


def require_label(session: Session, user: User, clip_id: int) -> tuple[Clip, Project]:
    """As `require_annotate`, and a label of theirs would still be blind (else 403)."""
    clip, project = require_annotate(session, user, clip_id)
    check_blind(session, user, clip)
    return clip, project


def require_suggestions(session: Session, user: User, clip_id: int) -> tuple[Clip, Project]:
    """The suggestions offered for a clip: to those who may label it (`require_label`); they
    come from no annotation, so seeing them tells nothing about anyone's labels."""
    return require_label(session, user, clip_id)


def check_blind(session: Session, user: User, clip: Clip) -> None:
    """Reviewers and admins label too, but not a clip whose labels they have been shown (its
    review, another's annotation, an export): 403 for labelling it, or changing or withdrawing
    their earlier label of it. Annotators are never shown labels, so they skip the query."""
    if reviews(user) and store.has_seen_labels(session, user=user, clip=clip):
        raise PermissionDeniedError(
            f"you have seen other annotators' labels of clip {clip.clip_id!r} (in a review or "
            "an export), so your label of it would not be blind: you may not label it, nor "
            "change or withdraw an earlier label of it"
        )


def check_can_adjudicate(user: User) -> None:
    """Only active reviewers and admins set a clip's final values."""
    if not reviews(user) or not user.is_active:
        raise PermissionDeniedError(
            f"user {user.username!r} is not an active reviewer or admin; only they adjudicate"
        )


def require_adjudicate(session: Session, user: User, clip_id: int) -> tuple[Clip, Project]:
    clip, project = require_review(session, user, clip_id)
    check_can_adjudicate(user)
    return clip, project
