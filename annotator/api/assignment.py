"""Assignment: the next clip to label, skipping one, and reading a clip one may see."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from annotator import policies
from annotator.api.models import ClipPublic, SkipRequest, described
from annotator.api.projects import clip_public
from annotator.deps import CurrentUser, Id, SessionDep
from fgtext import store

router = APIRouter(tags=["assignment"])


@router.post(
    "/projects/{project_id}/next",
    response_model=ClipPublic,
    responses=described({204: "Nothing left for this user to label"}),
)
def next_clip(project_id: Id, session: SessionDep, user: CurrentUser) -> ClipPublic | Response:
    """Reserve and return the next clip that still needs labels and that this user has neither
    labelled nor skipped (fullest clips first; never more than k annotators per clip), nor, for
    reviewers and admins, seen the labels of."""
    project = policies.projects.require_annotate(session, user, project_id)
    clip = store.next_clip(
        session, project=project, user=user, exclude_seen_labels=policies.reviews(user)
    )
    if clip is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return clip_public(clip)


@router.get("/clips/{clip_id}", response_model=ClipPublic)
def get_clip(clip_id: Id, session: SessionDep, user: CurrentUser) -> ClipPublic:
    clip, _ = policies.clips.require_access(session, user, clip_id)
    return clip_public(clip)


@router.post("/clips/{clip_id}/skip", status_code=status.HTTP_204_NO_CONTENT)
def skip_clip(clip_id: Id, body: SkipRequest, session: SessionDep, user: CurrentUser) -> None:
    """Pass on a clip (with a reason); it is not handed to this user again."""
    clip, project = policies.clips.require_annotate(session, user, clip_id)
    store.skip_clip(session, project=project, clip=clip, user=user, reason=body.reason)
