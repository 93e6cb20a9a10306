"""Request bodies and `XPublic` response models of the JSON API (never a password hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from fgtext.schema import BUILTIN_CLASS_LISTS, DIMENSIONS
from fgtext.store.annotations import MAX_SECONDS_SPENT
from fgtext.store.models import as_utc
from fgtext.validation import MAX_ID, Number, Text, finite_or_none
from fgtext.vocabulary import (
    DEFAULT_CONSENSUS_RULE,
    DEFAULT_POSTERIOR_THRESHOLD,
    ProjectRule,
    Role,
    SuggestionCondition,
    SuggestionMode,
    SuggestionSource,
)


class FieldProblem(BaseModel):
    """One refused part of a request: where (`["body", "note"]`), what, and its kind."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An error answer (`annotator.errors`). `detail` is a sentence, or for a request that does
    not match the schema one entry per refused field; a label outside the project's schema adds
    `dimension`, `value` and `allowed`."""

    model_config = ConfigDict(extra="allow")

    detail: str | list[FieldProblem]


# The error answers of `annotator.errors`, all a `Problem`; other codes (a 416 from a file
# response) have no body of ours.
PROBLEM_CODES = frozenset({400, 401, 403, 404, 409, 413, 422, 429})


def described(codes: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route from {status code: description}."""
    return {
        code: {"description": text, **({"model": Problem} if code in PROBLEM_CODES else {})}
        for code, text in codes.items()
    }


# What any route of the API may answer (`api_router` and the media routes document them).
COMMON_ERRORS = {
    400: "A body that is not JSON, or input the server cannot use (the detail says why)",
    401: "Not logged in",
    403: "Not allowed for this user, or a write without the session's X-CSRF-Token",
    404: "No such object, or not one this user may see",
    422: "The request does not match the schema (each refused field is named)",
}


# The 422 of every route that takes the four values.
NOT_IN_SCHEMA = "A value the project's schema does not allow"


# SQLite hands timestamps back naive; they are UTC, and the API says so ("...Z").
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]

# Every text and number a request carries is a `Text` or a `Number` (fgtext.validation): no NUL,
# no lone surrogate, nothing non-finite or denormal; a refusal is a 422 naming the field.
# Four values, as an annotator or a reviewer sends them (the schema then checks them).
Attributes = dict[Text, Text]


class _FromRows(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# -- auth and users -------------------------------------------------------------------------


class LoginRequest(BaseModel):
    username: Text = Field(min_length=1, max_length=100)
    password: Text = Field(min_length=1, max_length=1000)


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
    username: Text = Field(min_length=1, max_length=100, pattern=r"^[\w.@+-]+$")
    password: Text = Field(min_length=8, max_length=1000)
    role: Role = Role.ANNOTATOR


class UserUpdate(BaseModel):
    role: Role | None = None
    is_active: bool | None = None
    password: Text | None = Field(default=None, min_length=8, max_length=1000)


# -- projects and clips ---------------------------------------------------------------------


IMPORT_GOLD = (
    "Make the dataset's clips of status `gold` gold clips with their values (`fgtext synth` "
    "marks every clip gold, so this is asked for)."
)


SUGGESTION_MODE = (
    "Whether the annotation page offers suggestions (the clip's model suggestions, then its "
    "class's typical combinations): off, after_first (once the annotator has chosen the "
    "initiator) or at_once."
)


ADAPTIVE_K = (
    "Adaptive k (dawid-skene rule; both or neither): from k_min labels a clip gets another "
    "annotator only while a posterior is below the threshold, never more than k_max."
)


class ProjectCreate(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    dataset_dir: Text = Field(
        min_length=1,
        max_length=1000,
        description="An FG-Text dataset or manifest folder on the server, inside the media "
        "root (FGTEXT_MEDIA_ROOT); relative paths are relative to the media root.",
    )
    annotators_per_clip: int = Field(default=2, ge=1, le=50)
    consensus_rule: ProjectRule = DEFAULT_CONSENSUS_RULE.value
    confidence_threshold: Number = Field(
        default=DEFAULT_POSTERIOR_THRESHOLD, gt=0, le=1,
        description="The dawid-skene rule: a clip is final when every dimension's posterior "
        "reaches this.",
    )  # fmt: skip
    k_min: int | None = Field(default=None, ge=1, le=50, description=ADAPTIVE_K)
    k_max: int | None = Field(default=None, ge=1, le=50, description=ADAPTIVE_K)
    gold_rate: Number = Field(
        default=0.0, ge=0, le=1, description="Share of each annotator's clips drawn from the "
        "gold clips (0.05: 1 in 20); 0: gold clips come in the ordinary order.",
    )  # fmt: skip
    import_gold: bool = Field(default=False, description=IMPORT_GOLD)
    suggestion_mode: SuggestionMode = Field(default=SuggestionMode.OFF, description=SUGGESTION_MODE)
    class_list: Literal[BUILTIN_CLASS_LISTS] | None = Field(
        default=None,
        description="The built-in class list whose typical attribute combinations become the "
        "class suggestions; default: the list the dataset's class names match.",
    )


class ClipsAdd(BaseModel):
    dataset_dir: Text = Field(
        min_length=1, max_length=1000, description="As in ProjectCreate.dataset_dir."
    )
    import_gold: bool = Field(default=False, description=IMPORT_GOLD)


class ProjectSettings(_FromRows):
    """A project's settings that only admins and reviewers see (annotators are not told that
    gold clips are mixed in)."""

    gold_rate: float
    suggestion_mode: SuggestionMode


class ProjectSettingsUpdate(BaseModel):
    gold_rate: Number | None = Field(default=None, ge=0, le=1)
    suggestion_mode: SuggestionMode | None = Field(default=None, description=SUGGESTION_MODE)


class GoldRequest(BaseModel):
    attributes: Attributes = Field(description="The clip's four known values.")


class MemberAdd(BaseModel):
    username: Text = Field(min_length=1, max_length=100)


class ClassPublic(BaseModel):
    id: int
    name: str
    text: str


# GET /projects/{id}/fg-text: one optional query parameter per dimension.
FgTextDraftQuery = create_model(
    "FgTextDraftQuery", **{d: (Text | None, Field(default=None)) for d in DIMENSIONS}
)


class ProjectPublic(_FromRows):
    id: int
    name: str
    annotators_per_clip: int
    consensus_rule: str
    confidence_threshold: float
    k_min: int | None
    k_max: int | None
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
    reason: Text = Field(min_length=1, max_length=2000)


class _Labels(BaseModel):
    attributes: Attributes = Field(
        description="The four values: initiator, receiver, direction, motion_type."
    )
    unsure: bool = False
    note: Text = Field(default="", max_length=2000)
    seconds_spent: Number | None = Field(default=None, ge=0, le=MAX_SECONDS_SPENT)

    def labels(self) -> dict[str, object]:
        """The store's keyword arguments for these values (attributes, unsure, note, time)."""
        return self.model_dump(include={"attributes", "unsure", "note", "seconds_spent"})


class SuggestionChoice(BaseModel):
    source: SuggestionSource
    attributes: Attributes


class SuggestionShown(BaseModel):
    """What the annotation page showed of GET /clips/{id}/suggestions, and which was chosen."""

    shown: bool = Field(description="Suggestions were shown (never while the mode is off).")
    chosen: SuggestionChoice | None = Field(
        default=None,
        description="The suggestion chosen (one of those offered, with its source), if any.",
    )


class AnnotationSubmit(_Labels):
    suggestion: SuggestionShown | None = Field(
        default=None, description="Absent: no suggestion was shown."
    )

    def labels(self) -> dict[str, object]:
        """The store's keyword arguments: the values, and what suggestions were shown."""
        return {**super().labels(), "suggestion": self.model_dump()["suggestion"]}


class AnnotationUpdate(_Labels):
    version: int = Field(
        ge=1, le=MAX_ID, description="The version this edit is based on (409 if stale)."
    )


class AnnotationPublic(_FromRows):
    id: int
    clip_id: int
    user_id: int
    attributes: dict[str, str]
    unsure: bool
    note: str
    # Shown as unknown where an earlier version stored a non-finite or denormal time.
    seconds_spent: Annotated[float | None, AfterValidator(finite_or_none)]
    version: int
    # What the first submission was shown and chose (edits leave them as they were).
    suggestions_shown: bool
    suggestion_chosen: dict[str, Any] | None = Field(
        description="The suggestion chosen at the first submission: {source, attributes}."
    )
    suggestion_accepted: bool | None = Field(
        description="The first submission equals the chosen suggestion (null: none chosen)."
    )
    created_at: UtcDatetime
    updated_at: UtcDatetime


# -- review ---------------------------------------------------------------------------------


class AdjudicationRequest(BaseModel):
    attributes: Attributes
    reason: Text = Field(min_length=1, max_length=2000)


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


class GoldPublic(BaseModel):
    clip: ClipPublic
    attributes: dict[str, str]


class ClipReview(BaseModel):
    """A clip with everyone's labels and where it stands, for reviewers."""

    clip: ClipPublic
    status: str
    n_annotations: int
    annotations: list[LabelledAnnotation]
    final: dict[str, str] | None = Field(
        description="The final attributes (consensus or adjudicated), when the clip is final."
    )


# -- suggestions ----------------------------------------------------------------------------


class SuggestionPublic(BaseModel):
    index: int = Field(description="0-based; the page's key for it is index + 1.")
    source: SuggestionSource
    attributes: dict[str, str]
    text: str = Field(description="The FG-Text sentence of the attributes (the project's schema).")
    score: float | None = Field(description="The model's score (null for class suggestions).")


class ClipSuggestions(BaseModel):
    mode: SuggestionMode
    suggestions: list[SuggestionPublic] = Field(
        description="Model suggestions best first, then the class's typical combinations not "
        "already listed; at most 9, [] while the mode is off."
    )


class SuggestionImportPublic(_FromRows):
    """One suggestions file loaded into a project: its provenance."""

    id: int
    project_id: int
    source: dict[str, Any]
    schema_ref: dict[str, Any] | None = Field(description="The file's `schema` field.")
    actor_id: int | None = Field(description="The admin who imported it (null: the CLI).")
    clips: int
    suggestions: int
    created_at: UtcDatetime


class ProjectSuggestions(BaseModel):
    """What a project offers: its mode, the current model suggestions' import (if any) and how
    many of its classes have typical combinations."""

    mode: SuggestionMode
    current_import: SuggestionImportPublic | None
    classes: int
    classes_with_typical: int


# -- what suggesting does to the labels (fgtext.agreement.suggestion_bias) -------------------

Interval = Annotated[list[float], Field(min_length=2, max_length=2)]


class AlphaFigure(BaseModel):
    value: float | None = Field(description="Krippendorff's alpha (nominal); null: undefined.")
    ci95: Interval | None = Field(description="95 % bootstrap percentile interval [low, high].")
    n_units: int = Field(description="Clips with two or more values in the condition.")
    n_values: int = Field(description="The values on those clips.")
    note: str | None = Field(description="Why the value is null (null otherwise).")


class AccuracyFigure(BaseModel):
    labels: int = Field(description="Labels of gold clips (with all four values, for the tuple).")
    correct: int = Field(description="Those equal to the known value (all four, for the tuple).")
    accuracy: float | None = Field(description="correct / labels; null without labels.")
    ci95: Interval | None = Field(description="95 % Wilson interval; null without labels.")


class SecondsFigure(BaseModel):
    median: float | None = Field(description="Median seconds per label; null: none timed.")
    n_timed: int = Field(description="Labels with a stored time (finite, not negative).")


class ConditionFigures(BaseModel):
    n_annotations: int
    n_clips: int
    alpha: dict[str, AlphaFigure] = Field(
        description="Per dimension and `tuple` (the 4-tuple as one value), on this condition's "
        "labels only; gold clips are left out, as in the agreement report."
    )
    accuracy: dict[str, AccuracyFigure] = Field(
        description="Per dimension and `tuple`, against the gold clips' known values."
    )
    seconds: SecondsFigure


class AlphaDifference(BaseModel):
    value: float | None
    ci95: Interval | None = Field(
        description="95 % interval of the paired bootstrap differences (same resampled clips)."
    )


class BootstrapFigure(BaseModel):
    n_resamples: int
    seed: int
    n_units: int = Field(description="The clips resampled.")
    units: str


class SuggestionBias(BaseModel):
    """Agreement, gold accuracy and time of a project's labels split by suggestion condition:
    `not_shown` (no suggestion on screen), `accepted` (a suggestion chosen and submitted
    unchanged), `edited` (shown, and none submitted unchanged). Undefined figures are null."""

    conditions: dict[SuggestionCondition, ConditionFigures]
    all: ConditionFigures = Field(description="Every label, whatever its condition.")
    accepted_minus_not_shown: dict[str, AlphaDifference] = Field(
        description="alpha(accepted) - alpha(not_shown) per dimension and `tuple`: above 0, "
        "accepted labels agree more than labels made without suggestions."
    )
    n_gold_clips: int
    bootstrap: BootstrapFigure
