"""Request bodies and `XPublic` response models of the JSON API (never a password hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from fgtext.schema import DIMENSIONS
from fgtext.store.models import as_utc
from fgtext.vocabulary import DEFAULT_CONSENSUS_RULE, ConsensusRule, Role


def described(codes: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route from {status code: description}."""
    return {code: {"description": text} for code, text in codes.items()}


# The 422 of every route that takes the four values.
NOT_IN_SCHEMA = "A value the project's schema does not allow"


# SQLite hands timestamps back naive; they are UTC, and the API says so ("...Z").
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class _FromRows(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# -- auth and users -------------------------------------------------------------------------


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class UserPublic(_FromRows):
    id: int
    username: str
    role: str
    is_active: bool
    created_at: UtcDatetime


class SessionPublic(BaseModel):
    """Who is logged in, and the CSRF token every write must echo in `X-CSRF-Token`."""

    user: UserPublic
    csrf_token: str


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=100, pattern=r"^[\w.@+-]+$")
    password: str = Field(min_length=8, max_length=1000)
    role: Role = Role.ANNOTATOR


class UserUpdate(BaseModel):
    role: Role | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1000)


# -- projects and clips ---------------------------------------------------------------------


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    dataset_dir: str = Field(
        min_length=1,
        description="An FG-Text dataset or manifest folder on the server, inside the media "
        "root (FGTEXT_MEDIA_ROOT); relative paths are relative to the media root.",
    )
    annotators_per_clip: int = Field(default=2, ge=1, le=50)
    consensus_rule: ConsensusRule = DEFAULT_CONSENSUS_RULE


class ClipsAdd(BaseModel):
    dataset_dir: str = Field(min_length=1, description="As in ProjectCreate.dataset_dir.")


class MemberAdd(BaseModel):
    username: str = Field(min_length=1, max_length=100)


class ClassPublic(BaseModel):
    id: int
    name: str
    text: str


# GET /projects/{id}/fg-text: one optional query parameter per dimension.
FgTextDraftQuery = create_model(
    "FgTextDraftQuery", **{d: (str | None, Field(default=None)) for d in DIMENSIONS}
)


class ProjectPublic(_FromRows):
    id: int
    name: str
    annotators_per_clip: int
    consensus_rule: str
    created_at: UtcDatetime


class ProjectDetail(ProjectPublic):
    """A project with what an annotator needs to label: the vocabulary and the classes."""

    schema_spec: dict[str, Any] = Field(serialization_alias="schema")
    classes: list[ClassPublic]


class ClipPublic(_FromRows):
    """A clip as an annotator sees it: no workflow status, nothing about others' labels."""

    id: int
    project_id: int
    clip_id: str
    label: int
    split: str
    start_frame: int | None
    end_frame: int | None
    media_url: str


class AddedClips(BaseModel):
    project: ProjectPublic
    added: int
    unchanged: int = Field(description="Clips the project had already (left as they were).")


# -- assignment and annotations -------------------------------------------------------------


class SkipRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class AnnotationSubmit(BaseModel):
    attributes: dict[str, str] = Field(
        description="The four values: initiator, receiver, direction, motion_type."
    )
    unsure: bool = False
    note: str = Field(default="", max_length=2000)
    seconds_spent: float | None = Field(default=None, ge=0)

    def labels(self) -> dict[str, object]:
        """The store's keyword arguments for these values (attributes, unsure, note, time)."""
        return self.model_dump(include={"attributes", "unsure", "note", "seconds_spent"})


class AnnotationUpdate(AnnotationSubmit):
    version: int = Field(ge=1, description="The version this edit is based on (409 if stale).")


class AnnotationPublic(_FromRows):
    id: int
    clip_id: int
    user_id: int
    attributes: dict[str, str]
    unsure: bool
    note: str
    seconds_spent: float | None
    version: int
    created_at: UtcDatetime
    updated_at: UtcDatetime


# -- review ---------------------------------------------------------------------------------


class AdjudicationRequest(BaseModel):
    attributes: dict[str, str]
    reason: str = Field(min_length=1, max_length=2000)


class LabelledAnnotation(AnnotationPublic):
    username: str


class AdjudicationPublic(_FromRows):
    id: int
    clip_id: int
    reviewer_id: int
    attributes: dict[str, str]
    reason: str
    version: int
    updated_at: UtcDatetime


class ClipReview(BaseModel):
    """A clip with everyone's labels and where it stands, for reviewers."""

    clip: ClipPublic
    status: str
    n_annotations: int
    annotations: list[LabelledAnnotation]
    final: dict[str, str] | None = Field(
        description="The final attributes (consensus or adjudicated), when the clip is final."
    )
