"""The annotation store: projects, clips, users, blind annotations, leases, adjudications and
an append-only audit log, on SQLite (embedded default) or PostgreSQL from one code path.

Database sessions are plain `sqlmodel.Session(engine)` objects on an engine from `create_db_engine`.
Every service function takes the session first and everything else by keyword, and is one
transaction: it commits before it returns (and rolls back on error), writing an `AuditEvent` in
the same transaction as the change. Read functions do not commit (except
`project_agreement` and `project_suggestion_bias`, which store what they computed in their
cache). Objects a function returns
are expired by its commit as usual and reload on first access; `Session(engine,
expire_on_commit=False)` avoids that round trip.

The store guards data invariants only: values from the project's schema, at most k
annotators per clip (labels plus other users' live leases), one annotation per annotator and
clip, versioned edits, a reviewer's decision standing (no withdrawal from an adjudicated
or complete clip), an append-only audit log. Who may see or do what (roles, membership, authorship,
deactivated users, blind annotation) is not its business: the app's policies decide that
(`annotator.policies`) before calling it.

Errors a caller can cause are `fgtext.store.errors` classes (subclasses of FgTextError):
NotFoundError (404), PermissionDeniedError (403, raised by the policies), ConflictError / StaleVersionError (409),
InvalidInputError / InvalidLabelError (422), OutdatedDatabaseError and
DatabaseUnavailableError (the server cannot start).

Login sessions (`UserSession`, a random token's SHA-256) and failed logins (`LoginFailure`) are
rows too (`fgtext.store.sessions`), so every server process sees the same ones; changing a user
(`update_user`) ends their sessions in the same transaction.

Suggestions (`fgtext.store.suggestions`): a project's suggestion mode, its classes' typical
combinations and imported model suggestions decide what the annotation page offers for a clip
(`offered_suggestions`, never from any annotation); a submission records what was shown and
chosen, which `suggestion_label_records` hands to the analysis of their effect
(`project_suggestion_bias`, cached like the agreement report).

The schema changes only through Alembic (`migrations/`); a server calls
`require_current_schema(engine, auto_upgrade=...)` at start-up.
"""

from fgtext.agreement import agreement_summary
from fgtext.store.annotations import (
    clip_annotations,
    count_annotations,
    get_annotation,
    list_annotations,
    recent_annotations,
    submit_annotation,
    update_annotation,
    withdraw_annotation,
)
from fgtext.store.assignment import (
    DEFAULT_LEASE_SECONDS,
    list_skips,
    next_clip,
    remaining_for,
    skip_clip,
)
from fgtext.store.class_suggestions import builtin_typicals, class_typicals
from fgtext.store.db import create_db_engine, describe_url, normalise_url
from fgtext.store.errors import (
    ConflictError,
    DatabaseUnavailableError,
    InvalidInputError,
    InvalidLabelError,
    NotFoundError,
    OutdatedDatabaseError,
    PermissionDeniedError,
    StaleVersionError,
)
from fgtext.store.export import export_project
from fgtext.store.gold import (
    dataset_gold_values,
    gold_accuracy,
    gold_values,
    is_gold_turn,
    list_gold,
    mark_gold,
    mark_gold_in,
    set_gold_rate,
    unmark_gold,
)
from fgtext.store.labels import validate_attributes
from fgtext.store.migrate import (
    SchemaStatus,
    downgrade_database,
    head_revision,
    require_current_schema,
    schema_status,
    upgrade_database,
)
from fgtext.store.models import (
    Adjudication,
    AgreementCache,
    Annotation,
    AuditEvent,
    Clip,
    GoldClip,
    Lease,
    LoginFailure,
    ModelSuggestion,
    Project,
    ProjectClass,
    ProjectMember,
    Skip,
    SuggestionBiasCache,
    SuggestionImport,
    User,
    UserSession,
)
from fgtext.store.projects import (
    AddClipsResult,
    add_clips_from_dataset,
    add_member,
    clip_video_path,
    count_clips,
    create_project,
    create_project_from_dataset,
    get_clip,
    get_project,
    get_project_by_name,
    is_member,
    list_clips,
    list_projects,
    project_classes,
    project_members,
    project_schema,
    update_class_text,
)
from fgtext.store.review import (
    adjudicate,
    clip_confidences,
    clip_final_labels,
    clip_posteriors,
    pair_confusion,
    project_agreement,
    project_progress,
    project_reliability,
    review_queue,
)
from fgtext.store.seen import (
    LABELS_EXPORT,
    LABELS_VIEW,
    has_seen_labels,
    record_labels_exported,
    record_labels_seen,
)
from fgtext.store.sessions import (
    LiveSession,
    clear_login_failures,
    count_sessions,
    create_session,
    end_session,
    end_user_sessions,
    login_retry_after,
    record_login_failure,
    resolve_session,
)
from fgtext.store.suggestions import (
    OfferedSuggestion,
    SuggestionLabels,
    clear_suggestions,
    condition_of,
    count_suggested_labels,
    current_import,
    import_suggestions,
    offered_suggestions,
    project_suggestion_bias,
    set_suggestion_mode,
    suggestion_label_records,
    suggestion_use,
)
from fgtext.store.users import (
    create_user,
    get_user,
    get_user_by_username,
    list_users,
    update_user,
)
from fgtext.vocabulary import FINAL_STATUSES, ROLES
from fgtext.vocabulary import WORKFLOW_STATUSES as CLIP_STATUSES

__all__ = [
    "CLIP_STATUSES",
    "DEFAULT_LEASE_SECONDS",
    "FINAL_STATUSES",
    "LABELS_EXPORT",
    "LABELS_VIEW",
    "ROLES",
    "AddClipsResult",
    "Adjudication",
    "AgreementCache",
    "Annotation",
    "AuditEvent",
    "Clip",
    "ConflictError",
    "DatabaseUnavailableError",
    "GoldClip",
    "InvalidInputError",
    "InvalidLabelError",
    "Lease",
    "LiveSession",
    "LoginFailure",
    "ModelSuggestion",
    "NotFoundError",
    "OfferedSuggestion",
    "OutdatedDatabaseError",
    "PermissionDeniedError",
    "Project",
    "ProjectClass",
    "ProjectMember",
    "SchemaStatus",
    "Skip",
    "StaleVersionError",
    "SuggestionBiasCache",
    "SuggestionImport",
    "SuggestionLabels",
    "User",
    "UserSession",
    "add_clips_from_dataset",
    "add_member",
    "adjudicate",
    "agreement_summary",
    "builtin_typicals",
    "class_typicals",
    "clear_login_failures",
    "clear_suggestions",
    "clip_annotations",
    "clip_confidences",
    "clip_final_labels",
    "clip_posteriors",
    "clip_video_path",
    "condition_of",
    "count_annotations",
    "count_clips",
    "count_sessions",
    "count_suggested_labels",
    "create_db_engine",
    "create_project",
    "create_project_from_dataset",
    "create_session",
    "create_user",
    "current_import",
    "dataset_gold_values",
    "describe_url",
    "downgrade_database",
    "end_session",
    "end_user_sessions",
    "export_project",
    "get_annotation",
    "get_clip",
    "get_project",
    "get_project_by_name",
    "get_user",
    "get_user_by_username",
    "gold_accuracy",
    "gold_values",
    "has_seen_labels",
    "head_revision",
    "import_suggestions",
    "is_gold_turn",
    "is_member",
    "list_annotations",
    "list_clips",
    "list_gold",
    "list_projects",
    "list_skips",
    "list_users",
    "login_retry_after",
    "mark_gold",
    "mark_gold_in",
    "next_clip",
    "normalise_url",
    "offered_suggestions",
    "pair_confusion",
    "project_agreement",
    "project_classes",
    "project_members",
    "project_progress",
    "project_reliability",
    "project_schema",
    "project_suggestion_bias",
    "recent_annotations",
    "record_labels_exported",
    "record_labels_seen",
    "record_login_failure",
    "remaining_for",
    "require_current_schema",
    "resolve_session",
    "review_queue",
    "schema_status",
    "set_gold_rate",
    "set_suggestion_mode",
    "skip_clip",
    "submit_annotation",
    "suggestion_label_records",
    "suggestion_use",
    "unmark_gold",
    "update_annotation",
    "update_class_text",
    "update_user",
    "upgrade_database",
    "validate_attributes",
    "withdraw_annotation",
]
