"""Suggestions of the four values on the annotation page, and what they do to the labels.

A project's `suggestion_mode` (`fgtext.vocabulary.SuggestionMode`) says whether the page offers
suggestions: numbered choices that fill all four values with one key. What it offers for a
clip is `offered_suggestions`, the only definition:

- the clip's **model** suggestions, best score first: a trained model's predictions, imported
  from an `fgtext-suggestions/1` file (`import_suggestions`; each import replaces the
  project's previous ones and is recorded in `suggestion_imports`);
- then the **class** suggestions: the typical combinations of the clip's class
  (`ProjectClass.typical`, filled at project creation: `fgtext.store.class_suggestions`) not
  already listed;

at most `fgtext.suggestions.MAX_SUGGESTIONS_PER_CLIP`, none when the mode is off. Nothing in it
comes from any annotation, so it is the same for every annotator whatever anyone labelled
(annotation stays blind).

A submission says what was shown and chosen (`suggestion_use`, which recomputes the offered
list and refuses a choice that was not on it); the annotation keeps it from its first
submission (`Annotation.suggestions_shown`, `suggestion_chosen`, `suggestion_accepted`), and
`suggestion_label_records` hands the project's labels with their condition (not shown,
accepted, edited) and the gold values to `fgtext.agreement.suggestion_bias`, the analysis of
what suggesting does to the labels.
Agreement, consensus and the export read none of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, delete, func, insert, update
from sqlmodel import Session, select

from fgtext.agreement.suggestion_bias import SuggestionRecord, suggestion_bias
from fgtext.compose import compose_fg_text
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS
from fgtext.store.db import audit, write_transaction
from fgtext.store.errors import InvalidInputError, InvalidLabelError, NotFoundError
from fgtext.store.gold import gold_values
from fgtext.store.labels import validate_attributes
from fgtext.store.models import (
    Annotation,
    Clip,
    ModelSuggestion,
    Project,
    ProjectClass,
    SuggestionBiasCache,
    SuggestionImport,
    User,
    utc_now,
)
from fgtext.store.projects import check_suggestion_mode, project_schema, set_project_setting
from fgtext.store.review import AGREEMENT_BOOTSTRAP, cached_until_labels_change
from fgtext.suggestions import MAX_SUGGESTIONS_PER_CLIP, check_suggestions
from fgtext.validation import check_text, finite_or_none
from fgtext.vocabulary import (
    SuggestionCondition,
    SuggestionMode,
    SuggestionSource,
)

_INSERT_CHUNK = 1000  # suggestions per multi-row INSERT
MAX_SOURCE_CHARS = 10_000  # a file's `source` (provenance) as stored, in JSON characters
_MAX_SOURCE_DEPTH = 20


# -- the project's setting ------------------------------------------------------------------


def set_suggestion_mode(
    session: Session, *, project: Project, mode: str, actor: User | None
) -> Project:
    """Whether and when the project's annotation page offers suggestions."""
    mode = check_suggestion_mode(mode).value
    return set_project_setting(
        session, project=project, field="suggestion_mode", value=mode, actor=actor
    )


# -- model suggestions ----------------------------------------------------------------------


def _source_problem(value: object, path: str, depth: int = 0) -> tuple[str, str] | None:
    """(where, what) of the first thing in a file's provenance that cannot be stored and shown
    as JSON: text with NUL or a lone surrogate, a non-finite number, nesting without end."""
    if depth > _MAX_SOURCE_DEPTH:
        return path, f"nested deeper than {_MAX_SOURCE_DEPTH} levels"
    if isinstance(value, str):
        try:
            check_text(value)
        except ValueError as e:
            return path, str(e)
    elif isinstance(value, float) and finite_or_none(value) is None:
        return path, f"{value!r} is not a finite, normal number"
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            problem = _source_problem(key, path, depth + 1) or _source_problem(
                inner, f"{path}.{str(key)[:50]}", depth + 1
            )
            if problem:
                return problem
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            if problem := _source_problem(inner, f"{path}.{i}", depth + 1):
                return problem
    elif not (value is None or isinstance(value, bool | int | float)):
        return path, f"{type(value).__name__} is not JSON"
    return None


def _provenance(source: Mapping[str, Any], where: str) -> dict[str, Any]:
    if problem := _source_problem(source, "source"):
        raise InvalidInputError(f"{where}field {problem[0]!r}: {problem[1]}")
    size = len(json.dumps(source))
    if size > MAX_SOURCE_CHARS:
        raise InvalidInputError(
            f"{where}field 'source' has {size} characters as JSON; at most {MAX_SOURCE_CHARS} "
            "are kept (provenance: run, dataset, created)"
        )
    return dict(source)


def import_suggestions(
    session: Session, *, project: Project, data: object, actor: User | None, where: str = ""
) -> SuggestionImport:
    """Load a parsed `fgtext-suggestions/1` file into the project, replacing its previous model
    suggestions, in one transaction: every value checked against the project's schema and every
    clip id against its clips first, so a bad file (InvalidInputError, one message naming the
    clip and field; `where` prefixes it, e.g. the file's path) leaves the earlier ones as they
    were. Returns the import's record."""
    schema = project_schema(project)
    try:
        parsed = check_suggestions(data, schema=schema, where=where)
    except FgTextError as e:
        raise InvalidInputError(str(e)) from None
    source = _provenance(parsed.source, where)
    rows = []
    with write_transaction(session, lock_project=project.id):
        project = session.get(Project, project.id, populate_existing=True)
        if project is None:
            raise NotFoundError("project does not exist")
        ids = dict(
            session.exec(select(Clip.clip_id, Clip.id).where(Clip.project_id == project.id)).all()
        )
        for entry in parsed.clips:
            if entry.clip_id not in ids:
                raise InvalidInputError(
                    f"{where}clip {entry.clip_id!r} is not a clip of project {project.name!r}; "
                    "a suggestions file names the project's clips by their dataset clip_id"
                )
            rows += [
                {"clip_id": ids[entry.clip_id], "rank": rank, "score": s.score,
                 **{d: s.attributes[d] for d in DIMENSIONS}}
                for rank, s in enumerate(entry.suggestions)
            ]  # fmt: skip
        replaced = _clear(session, project)
        record = SuggestionImport(
            project_id=project.id, source=source, schema_ref=parsed.schema_,
            actor_id=actor.id if actor is not None else None, clips=len(parsed.clips),
            suggestions=len(rows),
        )  # fmt: skip
        session.add(record)
        session.flush()
        for row in rows:
            row.update(project_id=project.id, import_id=record.id)
        for start in range(0, len(rows), _INSERT_CHUNK):
            session.execute(insert(ModelSuggestion), rows[start : start + _INSERT_CHUNK])
        audit(
            session, actor=actor, action="suggestions.import", entity_type="suggestion_import",
            entity_id=record.id, project_id=project.id,
            payload={"source": source, "schema": parsed.schema_, "clips": record.clips,
                     "suggestions": record.suggestions, "replaced": replaced},
        )  # fmt: skip
    return record


def _clear(session: Session, project: Project) -> int:
    """Inside a write transaction: remove the project's model suggestions and end its current
    import; the number removed."""
    removed = session.execute(
        delete(ModelSuggestion).where(ModelSuggestion.project_id == project.id)
    ).rowcount
    session.execute(
        update(SuggestionImport)
        .where(SuggestionImport.project_id == project.id, SuggestionImport.cleared_at.is_(None))
        .values(cleared_at=utc_now())
    )
    return removed


def clear_suggestions(session: Session, *, project: Project, actor: User | None) -> int:
    """Remove the project's model suggestions (class suggestions stay); the number removed."""
    with write_transaction(session, lock_project=project.id):
        removed = _clear(session, project)
        audit(
            session, actor=actor, action="suggestions.clear", entity_type="project",
            entity_id=project.id, project_id=project.id, payload={"removed": removed},
        )  # fmt: skip
    return removed


def current_import(session: Session, *, project: Project) -> SuggestionImport | None:
    """The import whose model suggestions the project offers, if any."""
    return session.exec(
        select(SuggestionImport).where(
            SuggestionImport.project_id == project.id, SuggestionImport.cleared_at.is_(None)
        )
    ).first()


# -- what is offered, and what was chosen ---------------------------------------------------


@dataclass(frozen=True)
class OfferedSuggestion:
    source: SuggestionSource
    attributes: dict[str, str]
    text: str  # T_fg of the attributes under the project's schema
    score: float | None  # the model's (None for class suggestions)


def offered_suggestions(
    session: Session, *, clip: Clip, project: Project
) -> list[OfferedSuggestion]:
    """What the annotation page offers for `clip` of `project` (the module docstring says what
    and in which order). Reads the mode, the clip's model suggestions and its class's typical
    combinations, never an annotation."""
    if project.suggestion_mode == SuggestionMode.OFF:
        return []
    listed = [
        (SuggestionSource.MODEL, s.attributes, s.score)
        for s in session.exec(
            select(ModelSuggestion)
            .where(ModelSuggestion.clip_id == clip.id)
            .order_by(ModelSuggestion.rank)
        )
    ]
    typical = session.exec(
        select(ProjectClass.typical).where(
            ProjectClass.project_id == project.id, ProjectClass.class_id == clip.label
        )
    ).first()
    seen = [attributes for _, attributes, _ in listed]
    listed += [(SuggestionSource.CLASS, dict(a), None) for a in typical or () if a not in seen]
    schema = project_schema(project)
    return [
        OfferedSuggestion(source, attributes, compose_fg_text(attributes, schema), score)
        for source, attributes, score in listed[:MAX_SUGGESTIONS_PER_CLIP]
    ]


def suggestion_use(
    session: Session,
    *,
    clip: Clip,
    project: Project,
    suggestion: Mapping[str, object] | None,
    values: Mapping[str, str],
) -> dict[str, Any]:
    """The annotation's suggestion columns for a submission of `values` that says
    `suggestion` ({"shown": bool, "chosen": {"source", "attributes"} | None}; None: nothing was
    shown). A choice must be one of the clip's `offered_suggestions` (recomputed here), and
    suggestions can only have been shown where some are offered: otherwise InvalidInputError
    naming the field."""
    if suggestion is None:
        return {"suggestions_shown": False, "suggestion_chosen": None, "suggestion_accepted": None}
    shown, chosen = bool(suggestion.get("shown")), suggestion.get("chosen")
    if chosen is not None:
        chosen = _checked_choice(project, chosen)
        if not shown:
            raise InvalidInputError(
                "suggestion.chosen is given but suggestion.shown is false; a suggestion can "
                "only be chosen from those shown"
            )
    if not shown:
        return {"suggestions_shown": False, "suggestion_chosen": None, "suggestion_accepted": None}
    offered = offered_suggestions(session, clip=clip, project=project)
    if not offered:
        raise InvalidInputError(
            f"suggestion.shown is true, but clip {clip.clip_id!r} has no suggestions to show "
            f"(project {project.name!r}: suggestion mode {project.suggestion_mode})"
        )
    if chosen is not None and not any(
        (o.source, o.attributes) == (chosen["source"], chosen["attributes"]) for o in offered
    ):
        raise InvalidInputError(
            f"suggestion.chosen is not one of the suggestions offered for clip {clip.clip_id!r} "
            f"({chosen['source']} {chosen['attributes']}); send one of those "
            f"GET /api/v1/clips/{clip.id}/suggestions lists"
        )
    return {
        "suggestions_shown": True,
        "suggestion_chosen": chosen,
        "suggestion_accepted": None if chosen is None else dict(values) == chosen["attributes"],
    }


def _checked_choice(project: Project, chosen: object) -> dict[str, Any]:
    if not isinstance(chosen, Mapping) or chosen.get("source") not in tuple(SuggestionSource):
        raise InvalidInputError(
            "suggestion.chosen must be {source: " + " or ".join(SuggestionSource) + ", attributes}"
        )
    try:
        attributes = validate_attributes(project_schema(project), chosen.get("attributes"))
    except InvalidLabelError as e:
        raise InvalidLabelError(
            f"suggestion.chosen.attributes: {e}", dimension=e.dimension, value=e.value,
            allowed=e.allowed,
        ) from None  # fmt: skip
    except InvalidInputError as e:
        raise InvalidInputError(f"suggestion.chosen.attributes: {e}") from None
    return {"source": SuggestionSource(chosen["source"]).value, "attributes": attributes}


# -- what suggesting does to the labels -----------------------------------------------------


@dataclass(frozen=True)
class SuggestionLabels:
    """What `fgtext.agreement.suggestion_bias` reads: `suggestion_bias(labels.records,
    gold=labels.gold)`."""

    records: list[SuggestionRecord]  # by clip, then annotation; clips by database id
    gold: dict[int, dict[str, str]]  # {clip database id: known values} of the gold clips


def condition_of(annotation: Annotation | Row) -> SuggestionCondition:
    """An annotation's (or a row with its two columns') condition: not_shown when no suggestion was shown, accepted when a chosen one was submitted
    unchanged, else edited (shown, and none chosen or the chosen one changed)."""
    if not annotation.suggestions_shown:
        return SuggestionCondition.NOT_SHOWN
    if annotation.suggestion_accepted:
        return SuggestionCondition.ACCEPTED
    return SuggestionCondition.EDITED


def suggestion_label_records(session: Session, *, project: Project) -> SuggestionLabels:
    """Every annotation of the project with its suggestion condition and time, and the gold
    clips' known values: what the dashboard's bias figures (agreement and gold accuracy per
    condition, time per condition) are computed from. Gold clips' labels are included, so
    leave them out of agreement as `project_agreement` does (`project_suggestion_bias`)."""
    columns = (
        Annotation.clip_id, User.username, *(getattr(Annotation, d) for d in DIMENSIONS),
        Annotation.suggestions_shown, Annotation.suggestion_accepted, Annotation.seconds_spent,
    )  # fmt: skip
    rows = session.exec(
        select(*columns)
        .join(Clip, Clip.id == Annotation.clip_id)
        .join(User, User.id == Annotation.user_id)
        .where(Clip.project_id == project.id)
        .order_by(Annotation.clip_id, Annotation.id)
    ).all()
    records = [
        SuggestionRecord(
            clip=row.clip_id,
            annotator=row.username,
            attributes={d: getattr(row, d) for d in DIMENSIONS},
            condition=condition_of(row),
            seconds=finite_or_none(row.seconds_spent),
        )
        for row in rows
    ]
    return SuggestionLabels(records=records, gold=gold_values(session, project=project))


def project_suggestion_bias(session: Session, *, project: Project) -> dict[str, Any]:
    """`fgtext.agreement.suggestion_bias` of the project's labels (agreement, gold accuracy and
    time per suggestion condition), gold clips counting in accuracy only, as the agreement
    report leaves them out; cached in the database until the labels change."""

    def compute() -> dict[str, Any]:
        labels = suggestion_label_records(session, project=project)
        return suggestion_bias(
            labels.records, gold=labels.gold, n_bootstrap=AGREEMENT_BOOTSTRAP,
            gold_in_agreement=False,
        )  # fmt: skip

    return cached_until_labels_change(
        session, project=project, cache=SuggestionBiasCache, field="figures", compute=compute
    )


def count_suggested_labels(session: Session, *, project: Project) -> int:
    """How many of the project's labels were made with suggestions shown."""
    return session.exec(
        select(func.count())
        .select_from(Annotation)
        .join(Clip, Clip.id == Annotation.clip_id)
        .where(Clip.project_id == project.id, Annotation.suggestions_shown)
    ).one()
