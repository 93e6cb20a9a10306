"""Final labels, agreement, the review queue and adjudication.

A clip's status follows from its annotations and the project's settings (see
`fgtext.vocabulary.ClipStatus`): with k annotations it is final when they meet the project's consensus
rule (`fgtext.consensus.consensus`, the same rule `fgtext merge` applies), otherwise it is
disputed and waits in the review queue until a reviewer adjudicates it. A gold clip
(`fgtext.store.gold`) with all its labels is `gold` instead: known, never decided by votes.
The stored `Clip.status` is refreshed in the transaction of every write that can change it.
Gold clips' labels are measurement, not data: the agreement figures leave them out.

The `dawid-skene` rule needs all the project's labels, too slow to refit on every submission.
So a clip is decided when it is labelled by its own votes, each weighed by its annotator's
accuracy as estimated by the last fit (`fgtext.consensus.vote_posterior`; an annotator the fit
did not know counts as `DEFAULT_ACCURACY`), and the whole model (`fgtext.agreement.fit_reliability`,
anchored by the gold clips) is refitted lazily: when the review queue, the agreement or the
export is read and the labels changed since (`ReliabilityCache`, keyed by `labels_revision`).
A refit rewrites every undecided clip's status and `confidence` (its least certain dimension's
posterior) under the project's lock. The review queue of such a project is least certain first.
With adaptive k (`Project.k_min`/`k_max`), a clip with at least k_min labels stays open (in
progress) while `fgtext.consensus.needs_another_annotator` says so, and is decided at k_max.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import exists, func, true, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from fgtext.agreement import LabelTable, Reliability, agreement_report, fit_reliability
from fgtext.consensus import (
    consensus,
    needs_another_annotator,
    posterior_status,
    vote_posterior,
)
from fgtext.schema import DIMENSIONS
from fgtext.stats import median
from fgtext.store.db import audit, write_transaction
from fgtext.store.errors import ConflictError, InvalidInputError, NotFoundError
from fgtext.store.labels import validate_attributes
from fgtext.store.models import (
    Adjudication,
    AgreementCache,
    Annotation,
    Clip,
    GoldClip,
    Project,
    ProjectClass,
    ReliabilityCache,
    SuggestionBiasCache,
    User,
    utc_now,
)
from fgtext.store.projects import bump_labels_revision, project_schema
from fgtext.validation import finite_or_none
from fgtext.vocabulary import (
    DAWID_SKENE,
    FINAL_STATUSES,
    OPEN_STATUSES,
    WORKFLOW_STATUSES,
    ClipStatus,
)

AGREEMENT_BOOTSTRAP = 1000
DEFAULT_ACCURACY = 0.8  # an annotator the last Dawid-Skene fit did not know yet


def clip_status(
    annotations: list[Mapping[str, str]], *, k: int, rule: str
) -> tuple[dict[str, str] | None, str]:
    """(final attributes or None, status) of a clip from its annotations' attributes."""
    if not annotations:
        return None, ClipStatus.UNLABELLED
    if len(annotations) < k:
        return None, ClipStatus.IN_PROGRESS
    return consensus(annotations, rule)


def refresh_clip_status(
    session: Session,
    *,
    clip: Clip,
    project: Project,
    labels: list[Mapping[str, str]] | None = None,
) -> str:
    """Recompute and set `clip.status` (inside the write transaction); `labels` are the
    clip's annotations' attributes when the caller has them at hand, else they are read."""
    if clip.status != ClipStatus.ADJUDICATED:  # a reviewer's word stands
        clip.status, clip.confidence = decided_clip_status(
            session, clip=clip, project=project, labels=labels
        )
        session.add(clip)
    return clip.status


def decided_clip_status(
    session: Session,
    *,
    clip: Clip,
    project: Project,
    labels: list[Mapping[str, str]] | None = None,
) -> tuple[str, float | None]:
    """(status, confidence) that the clip's stored labels give it now; writes nothing.
    `labels`: its annotations' attributes, when the caller has them at hand."""
    # Every adjudication sets the status, and nothing takes it back: a reviewer's word stands.
    if clip.status == ClipStatus.ADJUDICATED:
        return clip.status, clip.confidence
    confidence = clip.confidence
    if project.consensus_rule == DAWID_SKENE:
        _, status, confidence = _posterior_of_votes(session, clip=clip, project=project)
    else:
        if labels is None:
            rows = session.exec(select(Annotation).where(Annotation.clip_id == clip.id)).all()
            labels = [a.attributes for a in rows]
        _, status = clip_status(labels, k=project.annotators_per_clip, rule=project.consensus_rule)
    if status not in OPEN_STATUSES and session.get(GoldClip, clip.id) is not None:
        status = ClipStatus.GOLD
    return status, confidence


def clip_final_labels(session: Session, *, clip: Clip) -> tuple[dict[str, str] | None, str]:
    """(final attributes or None, status): the reviewer's values for an adjudicated clip, the
    consensus of its annotations for a final one, the known values of a gold clip, None for the
    rest (status says why)."""
    gold = session.get(GoldClip, clip.id)
    if gold is not None:
        return gold.attributes, ClipStatus.GOLD
    project = session.get(Project, clip.project_id)
    adjudication = session.exec(select(Adjudication).where(Adjudication.clip_id == clip.id)).first()
    if adjudication is not None:
        return adjudication.attributes, ClipStatus.ADJUDICATED
    if project.consensus_rule == DAWID_SKENE:
        final, _, _ = _posterior_of_votes(session, clip=clip, project=project)
        return (final, clip.status) if clip.status in FINAL_STATUSES else (None, clip.status)
    rows = session.exec(select(Annotation).where(Annotation.clip_id == clip.id)).all()
    return clip_status(
        [a.attributes for a in rows], k=project.annotators_per_clip,
        rule=project.consensus_rule,
    )  # fmt: skip


def review_queue(session: Session, *, project: Project) -> list[Clip]:
    """Clips with k annotations and no consensus, not yet adjudicated; oldest first (for the
    dawid-skene rule: least certain first, after a refit if labels changed)."""
    order = [Clip.id]
    if project.consensus_rule == DAWID_SKENE:
        project_reliability(session, project=project)
        order = [Clip.confidence, Clip.id]
    return list(
        session.exec(
            select(Clip)
            .where(Clip.project_id == project.id, Clip.status == ClipStatus.DISPUTED)
            .order_by(*order)
        )
    )


# -- the dawid-skene rule ---------------------------------------------------------------------


def _votes(session: Session, clip: Clip) -> list[tuple[str, Annotation]]:
    return session.exec(
        select(User.username, Annotation)
        .join(Annotation, Annotation.user_id == User.id)
        .where(Annotation.clip_id == clip.id)
        .order_by(Annotation.id)
    ).all()


def _weigh_votes(
    session: Session, project: Project, votes: list[tuple[str, Annotation]]
) -> tuple[dict[str, str], dict[str, float]]:
    """(most probable value, its posterior) per dimension of a clip's votes, each weighed by
    its annotator's accuracy from the last fit."""
    cached = session.get(ReliabilityCache, project.id)
    known = cached.model.get("annotators", {}) if cached is not None else {}
    schema = project_schema(project)

    def accuracy(username: str, dimension: str) -> float:
        return (known.get(username) or {}).get(dimension) or DEFAULT_ACCURACY

    final, confidence = {}, {}
    for d in DIMENSIONS:  # one dimension at a time: each has its own accuracies
        f, c = vote_posterior(
            [(accuracy(name, d), a.attributes) for name, a in votes],
            {x: len(schema.values(x)) for x in DIMENSIONS},
        )
        final[d], confidence[d] = f[d], c[d]
    return final, confidence


def _posterior_of_votes(
    session: Session, *, clip: Clip, project: Project
) -> tuple[dict[str, str] | None, str, float | None]:
    """(most probable values, status, least certain posterior) of a clip of a dawid-skene
    project from its own votes and the last fit's accuracies."""
    votes = _votes(session, clip)
    if len(votes) < project.min_annotators:
        return None, ClipStatus.IN_PROGRESS if votes else ClipStatus.UNLABELLED, None
    final, confidence = _weigh_votes(session, project, votes)
    return final, posterior_rule(project, len(votes), confidence), min(confidence.values())


def clip_posteriors(
    session: Session, *, clip: Clip, project: Project
) -> dict[str, dict[str, Any]] | None:
    """Per dimension of a clip of a dawid-skene project, {"value", "posterior"}: its votes'
    most probable value and that value's posterior, the votes weighed by the last fit's
    accuracies (as at submission; the cache keeps accuracies, not each clip's full-model
    posteriors). None without labels."""
    votes = _votes(session, clip)
    if not votes:
        return None
    final, confidence = _weigh_votes(session, project, votes)
    return {d: {"value": final[d], "posterior": confidence[d]} for d in DIMENSIONS}


def clip_confidences(session: Session, *, project: Project) -> list[float]:
    """The least certain posterior (`Clip.confidence`) of every clip of the project that has
    one, gold clips aside (measured, not decided)."""
    return list(
        session.exec(
            select(Clip.confidence).where(
                Clip.project_id == project.id,
                Clip.confidence.is_not(None),
                ~exists().where(GoldClip.clip_id == Clip.id),
            )
        )
    )


def posterior_rule(project: Project, n_annotations: int, confidence: Mapping[str, float]) -> str:
    """The status of a clip with at least the project's minimum of labels under the
    dawid-skene rule: in progress while adaptive k asks for another annotator, else final or
    disputed by the threshold."""
    if project.k_max is not None and needs_another_annotator(
        n_annotations, confidence, k_min=project.k_min, k_max=project.k_max,
        threshold=project.confidence_threshold,
    ):  # fmt: skip
        return ClipStatus.IN_PROGRESS
    return posterior_status(n_annotations, confidence, project.confidence_threshold)


def fit_project(session: Session, *, project: Project) -> Reliability | None:
    """Dawid-Skene on every label of the project, anchored by its gold clips (None: no
    labels). Gold clips' labels are in the fit: with known values they calibrate the
    annotators' confusion matrices."""
    rows = label_rows(session, project=project, with_gold=True)
    if not rows:
        return None
    gold = dict(
        (clip_id, g.attributes)
        for clip_id, g in session.exec(
            select(Clip.clip_id, GoldClip)
            .join(GoldClip, GoldClip.clip_id == Clip.id)
            .where(GoldClip.project_id == project.id)
        ).all()
    )
    return fit_reliability(LabelTable.from_rows(rows), gold=gold)


def project_reliability(session: Session, *, project: Project) -> dict[str, Any]:
    """The project's Dawid-Skene estimates ({"annotators": {username: {dimension: accuracy}}}),
    refitted under the project's lock when its labels changed since the cached fit; a refit
    rewrites the status and confidence of every clip whose labels decide it."""
    revision = session.exec(select(Project.labels_revision).where(Project.id == project.id)).one()
    cached = session.get(ReliabilityCache, project.id, populate_existing=True)
    if cached is not None and cached.labels_revision == revision:
        return cached.model
    with write_transaction(session, lock_project=project.id):
        project = session.get(Project, project.id, populate_existing=True)
        cached = session.get(ReliabilityCache, project.id, populate_existing=True)
        if cached is not None and cached.labels_revision == project.labels_revision:
            return cached.model  # another request refitted meanwhile
        fit = fit_project(session, project=project)
        model = {"annotators": fit.annotator_accuracy() if fit is not None else {}}
        if cached is None:
            cached = ReliabilityCache(project_id=project.id, labels_revision=0, model=model)
        cached.labels_revision, cached.model = project.labels_revision, model
        cached.computed_at = utc_now()
        session.add(cached)
        if fit is not None:
            _rewrite_statuses(session, project, fit)
    return model


def _rewrite_statuses(session: Session, project: Project, fit: Reliability) -> None:
    index = fit.index()
    changes = []
    for clip_db_id, clip_id, n in session.exec(
        select(Clip.id, Clip.clip_id, Clip.n_annotations).where(
            Clip.project_id == project.id,
            Clip.status.not_in((ClipStatus.ADJUDICATED, ClipStatus.GOLD)),
            Clip.n_annotations >= project.min_annotators,
            ~exists().where(GoldClip.clip_id == Clip.id),
        )
    ).all():
        confidence = fit.confidence(index[clip_id])
        status = posterior_rule(project, n, confidence)
        changes.append({"id": clip_db_id, "status": status, "confidence": min(confidence.values())})
    if changes:
        session.execute(update(Clip), changes)


def adjudicate(
    session: Session,
    *,
    clip: Clip,
    reviewer: User,
    attributes: Mapping[str, str],
    reason: str,
) -> Adjudication:
    """Set a clip's final values (`reviewer` decides; the app lets only reviewers and admins,
    `annotator.policies.clips`). A later decision replaces an earlier
    one (its version goes up); both are in the audit log."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise InvalidInputError("an adjudication needs a reason (why these are the values)")
    with write_transaction(session, lock_project=clip.project_id):
        reviewer = session.get(User, reviewer.id)
        clip = session.get(Clip, clip.id, populate_existing=True)
        if clip is None:
            raise NotFoundError("clip does not exist")
        project = session.get(Project, clip.project_id)
        if session.get(GoldClip, clip.id) is not None:
            raise ConflictError(
                f"clip {clip.clip_id!r} is a gold clip: its values are known, not decided"
            )
        values = validate_attributes(project_schema(project), attributes)
        decision = session.exec(select(Adjudication).where(Adjudication.clip_id == clip.id)).first()
        previous = decision.attributes if decision is not None else None
        if decision is None:
            decision = Adjudication(
                clip_id=clip.id, reviewer_id=reviewer.id, reason=reason, **values
            )
        else:
            for d, v in values.items():
                setattr(decision, d, v)
            decision.reviewer_id, decision.reason = reviewer.id, reason
            decision.version += 1
            decision.updated_at = utc_now()
        session.add(decision)
        clip.status = ClipStatus.ADJUDICATED
        session.add(clip)
        session.flush()
        bump_labels_revision(session, project=project)
        audit(
            session, actor=reviewer, action="clip.adjudicate", entity_type="clip",
            entity_id=clip.id, project_id=project.id,
            payload={"attributes": values, "previous": previous, "reason": reason},
        )  # fmt: skip
    return decision


# -- agreement --------------------------------------------------------------------------------


def _empty_report() -> dict[str, Any]:
    return {
        "n_clips": 0, "n_annotators": 0, "n_labels": 0, "annotators": [], "dimensions": {},
        "bootstrap": {"n_resamples": 0},
    }  # fmt: skip


def label_rows(
    session: Session, *, project: Project, with_gold: bool = False
) -> list[dict[str, Any]]:
    """Long rows (clip_id, annotator, class, four dimensions) of every stored annotation but
    gold clips' (measurement, not data), unless `with_gold`."""
    class_names = dict(
        session.exec(
            select(ProjectClass.class_id, ProjectClass.name).where(
                ProjectClass.project_id == project.id
            )
        ).all()
    )
    rows = session.exec(
        select(Clip.clip_id, Clip.label, User.username, Annotation)
        .join(Annotation, Annotation.clip_id == Clip.id)
        .join(User, User.id == Annotation.user_id)
        .where(
            Clip.project_id == project.id,
            true() if with_gold else ~exists().where(GoldClip.clip_id == Clip.id),
        )
        .order_by(Clip.id, Annotation.id)
    ).all()
    return [
        {"clip_id": clip_id, "annotator": username,
         "class": class_names.get(label, str(label)), **a.attributes}
        for clip_id, label, username, a in rows
    ]  # fmt: skip


def project_agreement(session: Session, *, project: Project) -> dict[str, Any]:
    """The project's `fgtext.agreement` report (`AgreementReport.to_dict()`: per dimension,
    per annotator pair, per class) of its stored annotations; cached in the database and
    recomputed only when its labels changed since."""
    if project.consensus_rule == DAWID_SKENE:
        project_reliability(session, project=project)

    def compute() -> dict[str, Any]:
        rows = label_rows(session, project=project)
        if not rows:
            return _empty_report()
        return agreement_report(
            LabelTable.from_rows(rows), n_bootstrap=AGREEMENT_BOOTSTRAP
        ).to_dict()

    return cached_until_labels_change(
        session, project=project, cache=AgreementCache, field="report", compute=compute
    )


def cached_until_labels_change(
    session: Session,
    *,
    project: Project,
    cache: type[AgreementCache | SuggestionBiasCache],
    field: str,
    compute: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """`compute()`'s figures of the project's labels, kept in `cache` (one row per project: the
    `labels_revision` they were computed at and the JSON column `field`) and computed again only
    when the labels changed since, so every server process shares one computation."""
    revision = session.exec(select(Project.labels_revision).where(Project.id == project.id)).one()
    cached = session.get(cache, project.id, populate_existing=True)
    if cached is not None and cached.labels_revision == revision:
        return getattr(cached, field)
    figures = compute()
    with write_transaction(session, lock_project=project.id):
        # Another request may have cached a newer revision meanwhile; never go backwards.
        cached = session.get(cache, project.id, populate_existing=True)
        if cached is None:
            session.add(cache(project_id=project.id, labels_revision=revision, **{field: figures}))
        elif cached.labels_revision < revision:
            cached.labels_revision = revision
            setattr(cached, field, figures)
            cached.computed_at = utc_now()
            session.add(cached)
    return figures


def pair_confusion(
    session: Session, *, project: Project, dimension: str, first: User, second: User
) -> dict[tuple[str, str], int]:
    """How often `first` gave value a and `second` value b on the same clip, over the clips of
    the project both labelled: {(a, b): clips}. `dimension` "tuple" compares the whole
    4-tuple (values joined by " | ", as in the agreement report). One grouped self-join."""
    dims = DIMENSIONS if dimension == "tuple" else (dimension,)
    if any(d not in DIMENSIONS for d in dims):
        raise InvalidInputError(
            f"dimension {dimension!r}: expected one of {', '.join(DIMENSIONS)} or tuple"
        )
    a, b = aliased(Annotation), aliased(Annotation)
    columns = [getattr(a, d) for d in dims] + [getattr(b, d) for d in dims]
    rows = session.exec(
        select(*columns, func.count())
        .select_from(a)
        .join(b, b.clip_id == a.clip_id)
        .join(Clip, Clip.id == a.clip_id)
        .where(Clip.project_id == project.id, a.user_id == first.id, b.user_id == second.id)
        .group_by(*columns)
    ).all()
    n = len(dims)
    return {(" | ".join(r[:n]), " | ".join(r[n : 2 * n])): r[-1] for r in rows}


# -- progress ---------------------------------------------------------------------------------


def project_progress(session: Session, *, project: Project) -> dict[str, Any]:
    """Clips by status (total, final, in review, remaining) and per annotator the number of
    annotations and the median seconds spent per clip."""
    by_status = dict.fromkeys(map(str, WORKFLOW_STATUSES), 0)
    for status, n in session.exec(
        select(Clip.status, func.count()).where(Clip.project_id == project.id).group_by(Clip.status)
    ).all():
        by_status[status] = n
    seconds: dict[tuple[int, str], list[float]] = defaultdict(list)
    counts: dict[tuple[int, str], int] = defaultdict(int)
    for user_id, username, spent in session.exec(
        select(User.id, User.username, Annotation.seconds_spent)
        .join(Annotation, Annotation.user_id == User.id)
        .join(Clip, Clip.id == Annotation.clip_id)
        .where(Clip.project_id == project.id)
    ).all():
        counts[user_id, username] += 1
        if finite_or_none(spent) is not None:  # an earlier version stored some that are not
            seconds[user_id, username].append(spent)
    total = sum(by_status.values())
    final = sum(by_status[s] for s in FINAL_STATUSES)
    gold = by_status.get(ClipStatus.GOLD, 0)  # gold clips with all their labels
    return {
        "clips": total,
        "final": final,
        "in_review": by_status[ClipStatus.DISPUTED],
        "remaining": total - final - gold - by_status[ClipStatus.DISPUTED],
        "by_status": by_status,
        "annotations": sum(counts.values()),
        "annotators": [
            {
                "user_id": user_id,
                "username": username,
                "annotations": n,
                "median_seconds": median(seconds[user_id, username]),
            }
            for (user_id, username), n in sorted(counts.items(), key=lambda kv: kv[0][1])
        ],
    }
