"""The annotation store's tables (SQLModel). Schema changes go through Alembic (`migrations/`).

The tables live on their own metadata, `STORE_METADATA` (with its naming convention), not on
SQLModel's shared one: importing fgtext changes nothing for other SQLModel code in the process.
Timestamps are timezone-aware UTC; SQLite hands them back naive, so compare them through
`as_utc`. Table names are plural and explicit (`user` is reserved in PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, MetaData, UniqueConstraint, event, inspect
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from fgtext.schema import DIMENSIONS
from fgtext.vocabulary import (
    DEFAULT_CONSENSUS_RULE,
    DEFAULT_POSTERIOR_THRESHOLD,
    ClipStatus,
    SuggestionMode,
)

# Named constraints, so migrations can drop and alter them by name on every back end.
STORE_METADATA = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class StoreTable(SQLModel, registry=registry(metadata=STORE_METADATA)):
    """The base of the store's tables: fgtext's own registry and metadata."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite returns them naive)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _timestamp(**kw: Any) -> Any:
    return Field(default_factory=utc_now, sa_type=DateTime(timezone=True), **kw)


class FourValues(SQLModel):
    """The four FG-Text values of a label (columns of annotations and adjudications)."""

    initiator: str = Field(max_length=100)
    receiver: str = Field(max_length=100)
    direction: str = Field(max_length=100)
    motion_type: str = Field(max_length=100)

    @property
    def attributes(self) -> dict[str, str]:
        return {d: getattr(self, d) for d in DIMENSIONS}


class User(StoreTable, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True, index=True)
    password_hash: str = Field(max_length=500)
    role: str = Field(max_length=20)  # a fgtext.vocabulary.Role
    is_active: bool = True
    created_at: datetime = _timestamp()


class Project(StoreTable, table=True):
    __tablename__ = "projects"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True, index=True)
    # fgtext.schema.Schema.to_dict(): the project's own copy, so later schema files never
    # change what its stored labels mean.
    schema_spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    annotators_per_clip: int = 2  # k
    consensus_rule: str = Field(default=DEFAULT_CONSENSUS_RULE, max_length=20)  # a ProjectRule
    # The dawid-skene rule: final when every dimension's posterior reaches it.
    confidence_threshold: float = DEFAULT_POSTERIOR_THRESHOLD
    # Adaptive k (dawid-skene projects; None: k is fixed): from k_min labels a clip gets another
    # annotator only while below the threshold, never more than k_max.
    k_min: int | None = None
    k_max: int | None = None
    # Absolute folder that relative Clip.video paths are relative to ("" if all are absolute).
    media_root: str = Field(default="", max_length=1000)
    # Share of each annotator's clips drawn from the gold clips (`fgtext.store.gold`); 0: gold
    # clips are handed in the ordinary order, like any other.
    gold_rate: float = 0.0
    # Whether and when the annotation page offers suggestions (`fgtext.store.suggestions`).
    suggestion_mode: str = Field(default=SuggestionMode.OFF, max_length=20)  # a SuggestionMode
    # Bumped by every write that changes labels; the agreement cache is keyed by it.
    labels_revision: int = 0
    created_at: datetime = _timestamp()

    @property
    def min_annotators(self) -> int:
        """The labels a clip needs before its labels can decide it (k, or k_min)."""
        return self.k_min if self.k_max is not None else self.annotators_per_clip

    @property
    def max_annotators(self) -> int:
        """The most annotators a clip is ever handed to (k, or k_max)."""
        return self.k_max if self.k_max is not None else self.annotators_per_clip


class ProjectClass(StoreTable, table=True):
    """A gesture class of a project with its class-level text T_c (editable per project)."""

    __tablename__ = "project_classes"
    __table_args__ = (UniqueConstraint("project_id", "class_id"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    class_id: int  # the dataset's class id (Clip.label)
    name: str = Field(max_length=300)
    text: str = Field(max_length=2000)
    # The class's typical combinations of the four values ([{initiator, receiver, direction,
    # motion_type}, ...], from a class list): offered as class suggestions.
    typical: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )


class ProjectMember(StoreTable, table=True):
    __tablename__ = "project_members"

    project_id: int = Field(foreign_key="projects.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE", index=True)
    created_at: datetime = _timestamp()


class Clip(StoreTable, table=True):
    __tablename__ = "clips"
    __table_args__ = (
        UniqueConstraint("project_id", "clip_id"),
        # next_clip walks this in order: a project's clips of one status and annotation count
        # by id, so finding the next clip never sorts the project's clips
        Index("ix_clips_assignment", "project_id", "status", "n_annotations", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", ondelete="CASCADE")
    clip_id: str = Field(max_length=300)  # the dataset's clip id
    video: str = Field(max_length=1000)  # relative to Project.media_root, or absolute
    start_frame: int | None = None
    end_frame: int | None = None  # exclusive
    label: int  # class id
    split: str = Field(max_length=50)
    source: str = Field(default="", max_length=1000)  # the dataset it was added from
    status: str = Field(default=ClipStatus.UNLABELLED, max_length=20)  # WORKFLOW_STATUSES
    n_annotations: int = 0  # kept equal to the clip's annotation count (assignment reads it)
    # dawid-skene projects: the least certain dimension's posterior (None: not estimated)
    confidence: float | None = None
    created_at: datetime = _timestamp()


class Annotation(StoreTable, FourValues, table=True):
    """One annotator's four values for one clip; edits bump `version`."""

    __tablename__ = "annotations"
    __table_args__ = (UniqueConstraint("clip_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = Field(foreign_key="clips.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True)
    unsure: bool = False
    note: str = Field(default="", max_length=2000)
    seconds_spent: float | None = None
    version: int = 1
    # The first submission's suggestions (`fgtext.store.suggestions`); edits leave them: were
    # suggestions shown, which one was chosen ({source, attributes}), and were its values
    # submitted unchanged (None: none was chosen).
    suggestions_shown: bool = False
    suggestion_chosen: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    suggestion_accepted: bool | None = None
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class Lease(StoreTable, table=True):
    """A clip handed to an annotator by `next_clip`, reserved for them until `expires_at`."""

    __tablename__ = "leases"
    __table_args__ = (
        UniqueConstraint("clip_id", "user_id"),
        Index("ix_leases_project_expiry", "project_id", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", ondelete="CASCADE")
    clip_id: int = Field(foreign_key="clips.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True)
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    created_at: datetime = _timestamp()


class Skip(StoreTable, table=True):
    """An annotator passed on a clip; it is never handed to them again."""

    __tablename__ = "skips"
    __table_args__ = (UniqueConstraint("clip_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = Field(foreign_key="clips.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True)
    reason: str = Field(max_length=2000)
    created_at: datetime = _timestamp()


class Adjudication(StoreTable, FourValues, table=True):
    """A reviewer's final values for a clip (one per clip; a new decision replaces it)."""

    __tablename__ = "adjudications"

    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = Field(foreign_key="clips.id", unique=True, ondelete="CASCADE")
    reviewer_id: int = Field(foreign_key="users.id", index=True)
    reason: str = Field(max_length=2000)
    version: int = 1
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class GoldClip(StoreTable, FourValues, table=True):
    """A clip whose four values are known (`fgtext.store.gold`): annotators' labels of it
    measure them. Its own table, so nothing an annotator is shown of the clip changes."""

    __tablename__ = "gold_clips"

    clip_id: int = Field(foreign_key="clips.id", primary_key=True, ondelete="CASCADE")
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    created_at: datetime = _timestamp()


class SuggestionImport(StoreTable, table=True):
    """One suggestions file loaded into a project (`fgtext.store.suggestions`): its provenance.
    A later import or a clear ends it (`cleared_at`); the row stays as the record."""

    __tablename__ = "suggestion_imports"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    source: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # the file's
    schema_ref: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))  # the file's
    actor_id: int | None = Field(default=None, foreign_key="users.id")  # None: the CLI
    clips: int
    suggestions: int
    created_at: datetime = _timestamp()
    cleared_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ModelSuggestion(StoreTable, FourValues, table=True):
    """A trained model's suggested values for a clip, `rank` 0 the best (highest score)."""

    __tablename__ = "model_suggestions"
    __table_args__ = (UniqueConstraint("clip_id", "rank"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    import_id: int = Field(foreign_key="suggestion_imports.id", index=True, ondelete="CASCADE")
    clip_id: int = Field(foreign_key="clips.id", ondelete="CASCADE")
    rank: int
    score: float


class AgreementCache(StoreTable, table=True):
    """The project's agreement report as of `labels_revision` (recomputed when it moves)."""

    __tablename__ = "agreement_cache"

    project_id: int = Field(foreign_key="projects.id", primary_key=True, ondelete="CASCADE")
    labels_revision: int
    report: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    computed_at: datetime = _timestamp()


class SuggestionBiasCache(StoreTable, table=True):
    """The project's figures per suggestion condition (`fgtext.agreement.suggestion_bias`) as of
    `labels_revision` (recomputed when it moves)."""

    __tablename__ = "suggestion_bias_cache"

    project_id: int = Field(foreign_key="projects.id", primary_key=True, ondelete="CASCADE")
    labels_revision: int
    figures: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    computed_at: datetime = _timestamp()


class UserSession(StoreTable, table=True):
    """A logged-in browser or client. The cookie holds a random token; only its SHA-256 is
    stored, so a copy of the database cannot be replayed as cookies. Ending a session deletes
    its row; `last_seen_at` (idle expiry) is refreshed at most once a minute."""

    __tablename__ = "sessions"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie's token
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    csrf_token: str = Field(max_length=100)
    created_at: datetime = _timestamp()
    last_seen_at: datetime = Field(sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))  # absolute, from login


class LoginFailure(StoreTable, table=True):
    """One failed login, kept for the throttling window: counted per username (casefolded)
    across clients and per client across usernames, by every server process alike."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_client_at", "client", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100)
    client: str = Field(max_length=100)
    at: datetime = _timestamp(index=True)


class ReliabilityCache(StoreTable, table=True):
    """The project's Dawid-Skene estimates as of `labels_revision` (`fgtext.store.reliability`):
    {"annotators": {username: {dimension: accuracy}}}, refitted when labels changed."""

    __tablename__ = "reliability_cache"

    project_id: int = Field(foreign_key="projects.id", primary_key=True, ondelete="CASCADE")
    labels_revision: int
    model: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    computed_at: datetime = _timestamp()


class AuditEvent(StoreTable, table=True):
    """One write, recorded in the same transaction as the write itself. Append-only: the
    store never updates or deletes these rows (a flush that tries is refused)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _timestamp(index=True)
    actor_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    project_id: int | None = Field(default=None, index=True)  # no FK: the log outlives rows
    action: str = Field(max_length=100)  # e.g. "annotation.submit"
    entity_type: str = Field(max_length=50)
    entity_id: str = Field(max_length=100)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# Mapper events of AuditEvent alone (not every Session's flush): other code is not affected.
@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _audit_log_is_append_only(_mapper, _connection, row: AuditEvent) -> None:
    state = inspect(row)
    if (
        state.deleted
        or row in (state.session.deleted if state.session else ())
        or any(attr.history.has_changes() for attr in state.attrs)
    ):
        raise AssertionError("audit events are append-only; never update or delete them")
