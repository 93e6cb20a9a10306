"""Annotations: submit, edit with optimistic versioning, withdraw (undo), read, list one's own."""

from __future__ import annotations

from fastapi import APIRouter, status

from annotator import policies
from annotator.api.models import (
    NOT_IN_SCHEMA,
    AnnotationPublic,
    AnnotationSubmit,
    AnnotationUpdate,
    ClipPublic,
    described,
)
from annotator.api.projects import clip_public
from annotator.deps import CurrentUser, Id, SessionDep
from fgtext import store
from fgtext.store import Annotation

router = APIRouter(tags=["annotations"])


@router.post(
    "/clips/{clip_id}/annotations",
    response_model=AnnotationPublic,
    status_code=status.HTTP_201_CREATED,
    responses=described(
        {409: "A different annotation of this clip exists, or the clip is full", 422: NOT_IN_SCHEMA}
    ),
)
def submit_annotation(
    clip_id: Id, body: AnnotationSubmit, session: SessionDep, user: CurrentUser
) -> Annotation:
    """Label a clip. Sending the same values again returns the stored annotation unchanged."""
    clip, _ = policies.clips.require_label(session, user, clip_id)
    return store.submit_annotation(session, clip=clip, user=user, **body.labels())


@router.get("/annotations/{annotation_id}", response_model=AnnotationPublic)
def get_annotation(annotation_id: Id, session: SessionDep, user: CurrentUser) -> Annotation:
    """One's own annotation (reviewers and admins: anyone's in their projects, which counts as
    seeing the labels of its clip: they may no longer label it)."""
    annotation = policies.annotations.require_read(session, user, annotation_id)
    if annotation.user_id != user.id:
        store.record_labels_seen(
            session, user=user, clips=[store.get_clip(session, clip_id=annotation.clip_id)]
        )
    return annotation


@router.put(
    "/annotations/{annotation_id}",
    response_model=AnnotationPublic,
    responses=described({409: "`version` is not the stored version: nothing was changed"}),
)
def update_annotation(
    annotation_id: Id, body: AnnotationUpdate, session: SessionDep, user: CurrentUser
) -> Annotation:
    """Change one's own annotation; `version` must be the version it was read at."""
    annotation = policies.annotations.require_edit(session, user, annotation_id)
    return store.update_annotation(
        session, annotation=annotation, user=user, expected_version=body.version, **body.labels()
    )


@router.delete(
    "/annotations/{annotation_id}",
    response_model=ClipPublic,
    responses=described({409: "The clip has all its labels or a reviewer's decision: edit"}),
)
def withdraw_annotation(annotation_id: Id, session: SessionDep, user: CurrentUser) -> ClipPublic:
    """Undo one's own submission while the clip still lacks labels: the annotation is removed
    (the audit log keeps its values) and its clip is leased back to the author (in place of
    any lease they held), who is handed it again by `next`."""
    annotation = policies.annotations.require_edit(session, user, annotation_id, "withdraws")
    return clip_public(store.withdraw_annotation(session, annotation=annotation, user=user))


@router.get("/projects/{project_id}/annotations/mine", response_model=list[AnnotationPublic])
def my_annotations(project_id: Id, session: SessionDep, user: CurrentUser) -> list[Annotation]:
    project = policies.projects.require_access(session, user, project_id)
    return store.list_annotations(session, project=project, user=user)
