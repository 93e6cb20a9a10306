"""Gold clips: clips whose four values are known, hidden among the others to measure annotators.

An annotator is shown a gold clip exactly as any other clip: the same fields (the known values
live in their own table, `GoldClip`), the same k and lease rules (at most k annotators, so not
even annotators comparing notes see a clip labelled more often than k allows), the same
submission, edit and withdrawal rules, the same remaining count. Two things differ, and
annotators see neither:

- when it is handed: for each clip `next_clip` hands a user, `is_gold_turn` draws whether it is
  a gold turn (a hash of project, user and how many clips they have labelled or skipped there,
  below the project's `gold_rate`: deterministic, so tests can count). On a gold turn a gold
  clip with room goes first, else an ordinary one; on other turns the reverse, so the queue
  never ends early nor late. Inside each pool the order is the ordinary one (fullest first,
  then oldest). With `gold_rate` 0 there are no gold turns: gold clips come in the ordinary
  order.
- where it stands: a gold clip is never final by its labels nor disputed. With all its labels
  its status is `gold`: not in the review queue, not adjudicated (the store refuses), counted
  apart in the progress.

Gold labels are measurement, not data. They are left out of the agreement figures and of the
exported rows' annotations; the export writes a gold clip with status `gold` and its known
values. `gold_accuracy` counts, per annotator and dimension, their labels of gold clips that equal
the known value, with a 95 % Wilson interval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, select

from fgtext.dataset import open_dataset
from fgtext.schema import DIMENSIONS
from fgtext.stats import accuracy_figures
from fgtext.store.db import audit, write_transaction
from fgtext.store.errors import ConflictError, NotFoundError
from fgtext.store.labels import validate_attributes
from fgtext.store.models import Annotation, Clip, GoldClip, Project, Skip, User
from fgtext.store.projects import (
    bump_labels_revision,
    check_gold_rate,
    project_schema,
    set_project_setting,
)
from fgtext.store.review import refresh_clip_status
from fgtext.vocabulary import ClipStatus

TUPLE = "tuple"  # the whole 4-tuple, beside the four dimensions


def is_gold_turn(project_id: int, user_id: int, turn: int, rate: float) -> bool:
    """Whether the `turn`-th clip (0-based: clips labelled or skipped before it) handed to the
    user in the project is drawn from the gold clips; true for a share `rate` of turns."""
    digest = hashlib.sha256(f"{project_id}:{user_id}:{turn}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < rate * 2**64


def turns_taken(session: Session, *, project: Project, user: User) -> int:
    """How many clips of the project the user has labelled or skipped (their next turn)."""
    labelled = (
        select(func.count())
        .select_from(Annotation)
        .join(Clip)
        .where(Clip.project_id == project.id, Annotation.user_id == user.id)
    )
    skipped = (
        select(func.count())
        .select_from(Skip)
        .join(Clip)
        .where(Clip.project_id == project.id, Skip.user_id == user.id)
    )
    return session.exec(labelled).one() + session.exec(skipped).one()


def set_gold_rate(
    session: Session, *, project: Project, rate: float, actor: User | None
) -> Project:
    return set_project_setting(
        session, project=project, field="gold_rate", value=check_gold_rate(rate), actor=actor
    )


def _mark(
    session: Session, project: Project, clip: Clip, values: dict[str, str], actor: User | None
) -> GoldClip:
    """Inside a write transaction: make `clip` gold with `values` (validated)."""
    if clip.status == ClipStatus.ADJUDICATED:
        raise ConflictError(
            f"clip {clip.clip_id!r} has a reviewer's decision; a decided clip cannot become gold"
        )
    gold = session.get(GoldClip, clip.id)
    previous = gold.attributes if gold is not None else None
    if gold is None:
        gold = GoldClip(clip_id=clip.id, project_id=project.id, **values)
    else:
        for d, v in values.items():
            setattr(gold, d, v)
    session.add(gold)
    session.flush()
    refresh_clip_status(session, clip=clip, project=project)
    audit(
        session, actor=actor, action="clip.gold", entity_type="clip", entity_id=clip.id,
        project_id=project.id, payload={"attributes": values, "previous": previous},
    )  # fmt: skip
    return gold


def mark_gold(
    session: Session, *, clip: Clip, attributes: Mapping[str, str], actor: User | None
) -> GoldClip:
    """Make `clip` a gold clip with these known values (replaces earlier ones)."""
    with write_transaction(session, lock_project=clip.project_id):
        clip = session.get(Clip, clip.id, populate_existing=True)
        if clip is None:
            raise NotFoundError("clip does not exist")
        project = session.get(Project, clip.project_id)
        values = validate_attributes(project_schema(project), attributes)
        gold = _mark(session, project, clip, values, actor)
        bump_labels_revision(session, project=project)  # gold labels leave agreement
    return gold


def unmark_gold(session: Session, *, clip: Clip, actor: User | None) -> Clip:
    """Make a gold clip an ordinary one again; its labels count as data from now on."""
    with write_transaction(session, lock_project=clip.project_id):
        clip = session.get(Clip, clip.id, populate_existing=True)
        gold = session.get(GoldClip, clip.id) if clip is not None else None
        if gold is None:
            raise NotFoundError(f"clip {clip.clip_id if clip else ''!r} is not a gold clip")
        project = session.get(Project, clip.project_id)
        previous = gold.attributes
        session.execute(delete(GoldClip).where(GoldClip.clip_id == clip.id))
        session.flush()
        refresh_clip_status(session, clip=clip, project=project)
        bump_labels_revision(session, project=project)  # gold labels leave agreement
        audit(
            session, actor=actor, action="clip.ungold", entity_type="clip", entity_id=clip.id,
            project_id=project.id, payload={"previous": previous},
        )  # fmt: skip
    return clip


def mark_gold_in(
    session: Session,
    *,
    project: Project,
    values: Mapping[str, Mapping[str, str]],
    actor: User | None,
) -> int:
    """Make the project's clips named in `values` ({dataset clip id: four values}) gold, in one
    transaction; an id the project lacks is refused and nothing is changed. Returns the count."""
    with write_transaction(session, lock_project=project.id):
        project = session.get(Project, project.id, populate_existing=True)
        schema = project_schema(project)
        checked = {cid: validate_attributes(schema, v) for cid, v in values.items()}
        clips = {
            c.clip_id: c
            for c in session.exec(
                select(Clip).where(Clip.project_id == project.id, Clip.clip_id.in_(checked))
            )
        } if checked else {}  # fmt: skip
        missing = [cid for cid in checked if cid not in clips]
        if missing:
            raise NotFoundError(
                f"project {project.name!r} has no clip {', '.join(map(repr, missing[:5]))}"
                + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else "")
            )
        for cid, v in checked.items():
            _mark(session, project, clips[cid], v, actor)
        if checked:
            bump_labels_revision(session, project=project)  # gold labels leave agreement
    return len(checked)


def dataset_gold_values(dataset_dir: str | Path) -> dict[str, dict[str, str]]:
    """{clip id: four values} of a dataset's clips of status `gold` (e.g. `fgtext synth`'s)."""
    return {
        c.clip_id: dict(c.attributes)
        for c in open_dataset(dataset_dir).clips()
        if c.status == ClipStatus.GOLD and c.attributes
    }


def gold_values(session: Session, *, project: Project) -> dict[int, dict[str, str]]:
    """{clip database id: known values} of the project's gold clips."""
    return {
        g.clip_id: g.attributes
        for g in session.exec(select(GoldClip).where(GoldClip.project_id == project.id))
    }


def list_gold(session: Session, *, project: Project) -> list[tuple[Clip, GoldClip]]:
    """The project's gold clips with their known values, oldest clip first."""
    return [
        tuple(row)
        for row in session.exec(
            select(Clip, GoldClip)
            .join(GoldClip, GoldClip.clip_id == Clip.id)
            .where(GoldClip.project_id == project.id)
            .order_by(Clip.id)
        )
    ]


def gold_accuracy(session: Session, *, project: Project) -> dict[str, Any]:
    """Per annotator (by username): their labels of gold clips, and per dimension (and the whole
    4-tuple) how many equal the known value, the share, and its 95 % Wilson interval."""
    counts: dict[tuple[int, str], dict[str, int]] = {}
    labels: dict[tuple[int, str], int] = {}
    for user_id, username, a, gold in session.exec(
        select(User.id, User.username, Annotation, GoldClip)
        .join(Annotation, Annotation.user_id == User.id)
        .join(GoldClip, GoldClip.clip_id == Annotation.clip_id)
        .where(GoldClip.project_id == project.id)
    ).all():
        key = (user_id, username)
        right = counts.setdefault(key, dict.fromkeys((*DIMENSIONS, TUPLE), 0))
        labels[key] = labels.get(key, 0) + 1
        hits = [getattr(a, d) == getattr(gold, d) for d in DIMENSIONS]
        for d, hit in zip(DIMENSIONS, hits, strict=True):
            right[d] += hit
        right[TUPLE] += all(hits)
    n_gold = session.exec(
        select(func.count()).select_from(GoldClip).where(GoldClip.project_id == project.id)
    ).one()
    return {
        "gold_clips": n_gold,
        "annotators": [
            {
                "user_id": user_id,
                "username": username,
                "gold_labels": labels[user_id, username],
                "accuracy": {
                    d: accuracy_figures(right[d], labels[user_id, username])
                    for d in (*DIMENSIONS, TUPLE)
                },
            }
            for (user_id, username), right in sorted(counts.items(), key=lambda kv: kv[0][1])
        ],
    }
