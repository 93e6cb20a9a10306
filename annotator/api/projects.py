"""Projects: create from a dataset folder on the server, add clips and members, list, progress.

A dataset folder given to the API must lie inside the media root (`FGTEXT_MEDIA_ROOT`), the
only tree the server reads from; a relative path is taken relative to the media root.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlmodel import Session

from annotator import policies
from annotator.api.models import (
    AddedClips,
    ClassPublic,
    ClipPublic,
    ClipsAdd,
    FgTextDraftQuery,
    MemberAdd,
    ProjectCreate,
    ProjectDetail,
    ProjectPublic,
    UserPublic,
    described,
)
from annotator.deps import CurrentUser, Id, Page, SessionDep, SettingsDep, paged
from annotator.media import resolve_dataset_dir
from fgtext import store
from fgtext.compose import compose_fg_text_draft
from fgtext.errors import FgTextError
from fgtext.store import Clip, InvalidInputError, NotFoundError, Project

router = APIRouter(prefix="/projects", tags=["projects"])


def clip_public(clip: Clip) -> ClipPublic:
    return ClipPublic(
        id=clip.id,
        project_id=clip.project_id,
        clip_id=clip.clip_id,
        label=clip.label,
        split=clip.split,
        start_frame=clip.start_frame,
        end_frame=clip.end_frame,
        media_url=f"/media/{clip.id}",
    )


def project_detail(session: Session, project: Project) -> ProjectDetail:
    classes = [
        ClassPublic(id=c.class_id, name=c.name, text=c.text)
        for c in store.project_classes(session, project=project)
    ]
    return ProjectDetail(
        **ProjectPublic.model_validate(project).model_dump(),
        schema_spec=project.schema_spec,
        classes=classes,
    )


@router.get("", response_model=list[ProjectPublic])
def list_projects(session: SessionDep, user: CurrentUser) -> list[Project]:
    """Every project for admins; one's own projects for everyone else."""
    return policies.projects.visible(session, user)


# What importing a dataset folder may answer besides the common errors.
IMPORT_ERRORS = {400: "The folder is not a valid FG-Text dataset or manifest"}


@router.post(
    "",
    response_model=ProjectDetail,
    status_code=status.HTTP_201_CREATED,
    response_model_by_alias=True,
    responses=described({**IMPORT_ERRORS, 409: "A project with this name exists"}),
)
def create_project(
    body: ProjectCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> ProjectDetail:
    policies.users.require_manage(user)
    project = store.create_project_from_dataset(
        session,
        name=body.name,
        dataset_dir=resolve_dataset_dir(settings.media_root, body.dataset_dir),
        annotators_per_clip=body.annotators_per_clip,
        consensus_rule=body.consensus_rule,
        confidence_threshold=body.confidence_threshold,
        k_min=body.k_min,
        k_max=body.k_max,
        actor=user,
        media_root=settings.media_root.resolve(),
        gold_rate=body.gold_rate,
        import_gold=body.import_gold,
        suggestion_mode=body.suggestion_mode,
        class_list=body.class_list,
    )
    return project_detail(session, project)


@router.get("/{project_id}", response_model=ProjectDetail, response_model_by_alias=True)
def get_project(project_id: Id, session: SessionDep, user: CurrentUser) -> ProjectDetail:
    """The project with its vocabulary (`schema`) and classes."""
    return project_detail(session, policies.projects.require_access(session, user, project_id))


@router.post(
    "/{project_id}/clips",
    response_model=AddedClips,
    status_code=status.HTTP_201_CREATED,
    responses=described(IMPORT_ERRORS),
)
def add_clips(
    project_id: Id, body: ClipsAdd, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> AddedClips:
    """Add the clips of another dataset folder (same rules as project creation)."""
    project = policies.projects.require_admin(session, user, project_id)
    dataset_dir = resolve_dataset_dir(settings.media_root, body.dataset_dir)
    added = store.add_clips_from_dataset(
        session, project=project, dataset_dir=dataset_dir, actor=user, import_gold=body.import_gold
    )
    return AddedClips(
        project=ProjectPublic.model_validate(project), added=added.added, unchanged=added.unchanged
    )


@router.get("/{project_id}/clips", response_model=list[ClipPublic])
def list_clips(
    project_id: Id, session: SessionDep, user: CurrentUser, page: Annotated[Page, paged(100, 1000)]
) -> list[ClipPublic]:
    project = policies.projects.require_access(session, user, project_id)
    clips = store.list_clips(session, project=project, offset=page.offset, limit=page.limit)
    return [clip_public(c) for c in clips]


@router.post(
    "/{project_id}/members", response_model=UserPublic, status_code=status.HTTP_201_CREATED
)
def add_member(
    project_id: Id, body: MemberAdd, session: SessionDep, user: CurrentUser
) -> store.User:
    project = policies.projects.require_admin(session, user, project_id)
    member = store.get_user_by_username(session, username=body.username)
    if member is None:
        raise NotFoundError(f"user {body.username!r} does not exist")
    store.add_member(session, project=project, user=member, actor=user)
    return member


@router.get("/{project_id}/fg-text")
def fg_text(
    project_id: Id,
    session: SessionDep,
    user: CurrentUser,
    query: Annotated[FgTextDraftQuery, Query()],
) -> dict[str, Any]:
    """The FG-Text sentence these attribute values produce under the project's schema; a
    missing value shows as "[dimension]" (`complete` is false). The annotation page's live
    sentence."""
    project = policies.projects.require_access(session, user, project_id)
    values = query.model_dump()
    try:
        text = compose_fg_text_draft(values, store.project_schema(project))
    except FgTextError as e:
        raise InvalidInputError(str(e)) from None
    return {"text": text, "complete": all(values.values())}


@router.get("/{project_id}/progress")
def progress(project_id: Id, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Clips by status and annotations done (members; annotators see only their own row)."""
    project = policies.projects.require_access(session, user, project_id)
    return policies.projects.visible_progress(
        user, store.project_progress(session, project=project)
    )
