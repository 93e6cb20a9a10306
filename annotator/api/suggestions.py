"""Suggestions: what the annotation page offers for a clip (`fgtext.store.suggestions`),
admins loading a trained model's suggestions file (`fgtext-suggestions/1`) into a project, and
what suggesting did to the labels (reviewers and admins)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool

from annotator import policies
from annotator.api.models import (
    ClipSuggestions,
    ProjectSuggestions,
    SuggestionBias,
    SuggestionImportPublic,
    SuggestionPublic,
    described,
)
from annotator.deps import CurrentUser, Id, SessionDep
from fgtext import store
from fgtext.errors import FgTextError
from fgtext.store import Project, SuggestionImport
from fgtext.suggestions import FORMAT, SuggestionsFile

router = APIRouter(tags=["suggestions"])

# The largest suggestions file the API takes (about 15,000 clips with 9 suggestions each);
# `fgtext-annotator import-suggestions` reads any size from disk.
MAX_SUGGESTIONS_BODY = 32 * 2**20


@router.get("/clips/{clip_id}/suggestions", response_model=ClipSuggestions)
def clip_suggestions(clip_id: Id, session: SessionDep, user: CurrentUser) -> ClipSuggestions:
    """The suggestions the annotation page offers for the clip, numbered from 0: the clip's
    model suggestions best first, then its class's typical combinations not already listed (at
    most 9; none while the project's mode is off). The same for everyone who may label it."""
    clip, project = policies.clips.require_suggestions(session, user, clip_id)
    offered = store.offered_suggestions(session, clip=clip, project=project)
    return ClipSuggestions(
        mode=project.suggestion_mode,
        suggestions=[
            SuggestionPublic(
                index=i, source=s.source, attributes=s.attributes, text=s.text, score=s.score
            )
            for i, s in enumerate(offered)
        ],
    )


def _managed_project(project_id: Id, session: SessionDep, user: CurrentUser) -> Project:
    return policies.projects.require_manage_suggestions(session, user, project_id)


ManagedProject = Annotated[Project, Depends(_managed_project)]


async def _suggestions_file(request: Request) -> Any:
    """The request's body parsed as JSON, read only up to MAX_SUGGESTIONS_BODY bytes (after
    the policy: a dependency of the route that comes after `ManagedProject`)."""
    too_large = HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"the body has more than {MAX_SUGGESTIONS_BODY // 2**20} MiB; import a file this "
        "large with fgtext-annotator import-suggestions",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_SUGGESTIONS_BODY:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_SUGGESTIONS_BODY:
            raise too_large
    try:
        return await run_in_threadpool(json.loads, bytes(body))
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested without end
        raise FgTextError(
            f"the body is not JSON; send the content of a {FORMAT} file as application/json"
        ) from None


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` references replaced by the definitions, so it
    stands on its own inside the OpenAPI document."""
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)


FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": f"A {FORMAT} file (what `fgsgl-train predict` writes), at most "
        f"{MAX_SUGGESTIONS_BODY // 2**20} MiB.",
        "content": {
            "application/json": {
                "schema": _inlined(SuggestionsFile.model_json_schema(by_alias=True))
            }
        },
    }
}


@router.post(
    "/projects/{project_id}/suggestions",
    response_model=SuggestionImportPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=FILE_BODY,
    responses=described(
        {
            400: "The body is not JSON",
            413: f"The body has more than {MAX_SUGGESTIONS_BODY // 2**20} MiB",
            422: "Not a valid suggestions file for this project: the detail names the clip "
            "and field (a value outside the project's schema, a clip the project lacks)",
        }
    ),
)
def import_suggestions(
    project: ManagedProject,
    data: Annotated[Any, Depends(_suggestions_file)],
    session: SessionDep,
    user: CurrentUser,
) -> SuggestionImport:
    """Load a trained model's suggestions file into the project (admins): it replaces the
    project's model suggestions, or nothing changes when any of it is refused."""
    return store.import_suggestions(session, project=project, data=data, actor=user)


@router.delete("/projects/{project_id}/suggestions", status_code=status.HTTP_204_NO_CONTENT)
def clear_suggestions(project: ManagedProject, session: SessionDep, user: CurrentUser) -> None:
    """Remove the project's model suggestions (admins); class suggestions stay."""
    store.clear_suggestions(session, project=project, actor=user)


@router.get("/projects/{project_id}/suggestions", response_model=ProjectSuggestions)
def project_suggestions(project: ManagedProject, session: SessionDep) -> ProjectSuggestions:
    """The project's suggestion mode, its current model suggestions' import and how many of
    its classes have typical combinations (admins)."""
    return project_suggestions_summary(session, project)


@router.get("/projects/{project_id}/suggestion-bias", response_model=SuggestionBias)
def suggestion_bias(project_id: Id, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Do suggestions bias the labels? Krippendorff's alpha (with 95 % bootstrap intervals), gold
    accuracy (95 % Wilson intervals) and median seconds of the project's labels per suggestion
    condition, and alpha(accepted) - alpha(not shown) with its paired interval (reviewers and
    admins, as the agreement report). Cached until the labels change."""
    project = policies.projects.require_review(session, user, project_id)
    return store.project_suggestion_bias(session, project=project)


def project_suggestions_summary(session, project: Project) -> ProjectSuggestions:
    """The answer of GET /projects/{id}/suggestions (the admin project page shows it too)."""
    classes = store.project_classes(session, project=project)
    current = store.current_import(session, project=project)
    return ProjectSuggestions(
        mode=project.suggestion_mode,
        current_import=SuggestionImportPublic.model_validate(current) if current else None,
        classes=len(classes),
        classes_with_typical=sum(1 for c in classes if c.typical),
    )
