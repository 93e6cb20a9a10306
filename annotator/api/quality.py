"""Annotation quality: gold clips (admins mark them) and each annotator's accuracy on them
(admins and reviewers). Gold is hidden from annotators: none of these answer them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from annotator import policies
from annotator.api.models import (
    NOT_IN_SCHEMA,
    GoldPublic,
    GoldRequest,
    ProjectSettings,
    ProjectSettingsUpdate,
    described,
)
from annotator.api.projects import clip_public
from annotator.deps import CurrentUser, Id, SessionDep
from fgtext import store
from fgtext.store import Project
from fgtext.vocabulary import DAWID_SKENE

router = APIRouter(tags=["quality"])


@router.put(
    "/clips/{clip_id}/gold", response_model=GoldPublic, responses=described({422: NOT_IN_SCHEMA})
)
def mark_gold(clip_id: Id, body: GoldRequest, session: SessionDep, user: CurrentUser) -> GoldPublic:
    """Make the clip a gold clip with these known values (replacing earlier ones). Its labels
    then measure the annotators and leave the agreement figures and the export's rows."""
    clip, _ = policies.clips.require_manage_gold(session, user, clip_id)
    gold = store.mark_gold(session, clip=clip, attributes=body.attributes, actor=user)
    return GoldPublic(clip=clip_public(clip), attributes=gold.attributes)


@router.delete("/clips/{clip_id}/gold", status_code=status.HTTP_204_NO_CONTENT)
def unmark_gold(clip_id: Id, session: SessionDep, user: CurrentUser) -> None:
    """Make a gold clip an ordinary one again."""
    clip, _ = policies.clips.require_manage_gold(session, user, clip_id)
    store.unmark_gold(session, clip=clip, actor=user)


@router.get("/projects/{project_id}/gold", response_model=list[GoldPublic])
def list_gold(project_id: Id, session: SessionDep, user: CurrentUser) -> list[GoldPublic]:
    project = policies.projects.require_admin(session, user, project_id)
    return [
        GoldPublic(clip=clip_public(clip), attributes=gold.attributes)
        for clip, gold in store.list_gold(session, project=project)
    ]


@router.get("/projects/{project_id}/settings", response_model=ProjectSettings)
def get_settings(project_id: Id, session: SessionDep, user: CurrentUser) -> Project:
    return policies.projects.require_review(session, user, project_id)


@router.patch("/projects/{project_id}/settings", response_model=ProjectSettings)
def update_settings(
    project_id: Id, body: ProjectSettingsUpdate, session: SessionDep, user: CurrentUser
) -> Project:
    project = policies.projects.require_admin(session, user, project_id)
    if body.gold_rate is not None:
        project = store.set_gold_rate(session, project=project, rate=body.gold_rate, actor=user)
    if body.suggestion_mode is not None:
        project = store.set_suggestion_mode(
            session, project=project, mode=body.suggestion_mode, actor=user
        )
    return project


def quality_figures(session, project: Project) -> dict[str, Any]:
    """Gold accuracy per annotator and, for dawid-skene projects, the model's estimated
    accuracies (None otherwise): the quality route's answer and the quality page's figures."""
    estimated = (
        store.project_reliability(session, project=project)["annotators"]
        if project.consensus_rule == DAWID_SKENE
        else None
    )
    return {"gold": store.gold_accuracy(session, project=project), "estimated": estimated}


@router.get("/projects/{project_id}/quality")
def quality(project_id: Id, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Per annotator, their labels of gold clips and per dimension (and the whole 4-tuple) the
    share that equals the known value, with a 95 % Wilson interval; for dawid-skene projects
    also `estimated`, each annotator's accuracy per dimension as the model estimates it."""
    project = policies.projects.require_review(session, user, project_id)
    return quality_figures(session, project)
