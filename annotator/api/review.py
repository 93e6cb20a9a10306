"""Agreement, the review queue, everyone's labels of a clip and adjudication (reviewers)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from sqlmodel import Session

from annotator import policies
from annotator.api.models import (
    NOT_IN_SCHEMA,
    AdjudicationPublic,
    AdjudicationRequest,
    AnnotationPublic,
    ClipReview,
    LabelledAnnotation,
    described,
)
from annotator.api.projects import clip_public
from annotator.deps import CurrentUser, Id, Page, SessionDep, paged
from fgtext import store
from fgtext.store import Adjudication, Clip, User

router = APIRouter(tags=["review"])


@router.get("/projects/{project_id}/agreement")
def agreement(project_id: Id, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Per-dimension agreement (Krippendorff's alpha with a bootstrap CI, Fleiss' kappa, ...)."""
    project = policies.projects.require_review(session, user, project_id)
    return store.project_agreement(session, project=project)


@router.get("/projects/{project_id}/review", response_model=list[ClipReview])
def review_queue(
    project_id: Id, session: SessionDep, user: CurrentUser, page: Annotated[Page, paged(50, 500)]
) -> list[ClipReview]:
    """Clips whose annotators disagree beyond the project's rule, oldest first, with their
    labels (a page of them)."""
    project = policies.projects.require_review(session, user, project_id)
    return shown_reviews(session, user, page.of(store.review_queue(session, project=project)))


@router.get("/clips/{clip_id}/annotations", response_model=ClipReview)
def clip_annotations(clip_id: Id, session: SessionDep, user: CurrentUser) -> ClipReview:
    clip, _ = policies.clips.require_review(session, user, clip_id)
    (review,) = shown_reviews(session, user, [clip])
    return review


@router.post(
    "/clips/{clip_id}/adjudication",
    response_model=AdjudicationPublic,
    responses=described({422: NOT_IN_SCHEMA}),
)
def adjudicate(
    clip_id: Id, body: AdjudicationRequest, session: SessionDep, user: CurrentUser
) -> Adjudication:
    """Set the clip's final values, with the reason (replaces an earlier decision)."""
    clip, _ = policies.clips.require_adjudicate(session, user, clip_id)
    return store.adjudicate(
        session, clip=clip, reviewer=user, attributes=body.attributes, reason=body.reason
    )


def shown_reviews(session: Session, user: User, clips: list[Clip]) -> list[ClipReview]:
    """The reviews of `clips` for `user`, logged first as labels they have seen: from then on
    they may not label those clips (`policies.clips.check_blind`)."""
    store.record_labels_seen(session, user=user, clips=clips)
    return [clip_review(session, clip) for clip in clips]


def clip_review(session: Session, clip: Clip) -> ClipReview:
    names: dict[int, str] = {}

    def username(user_id: int) -> str:
        if user_id not in names:
            names[user_id] = store.get_user(session, user_id=user_id).username
        return names[user_id]

    annotations = [
        LabelledAnnotation(
            **AnnotationPublic.model_validate(a).model_dump(), username=username(a.user_id)
        )
        for a in store.clip_annotations(session, clip=clip)
    ]
    final, status = store.clip_final_labels(session, clip=clip)
    return ClipReview(
        clip=clip_public(clip),
        status=status,
        n_annotations=len(annotations),
        annotations=annotations,
        final=final,
    )
