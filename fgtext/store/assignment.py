"""Which clip an annotator labels next: leases and skips (who may ask: `annotator.policies`).

A clip has room for another annotator while it is open (unlabelled or in progress) and its
annotations plus the live leases of other users are fewer than the project's k (with adaptive
k: k_max, and past k_min one lease at a time; its status says whether it still wants another,
`fgtext.store.review`). `next_clip` picks, among the clips with room that the
user has neither labelled nor skipped, the one with the most annotations (finish clips before
starting new ones), then the oldest. It leases the clip to the user for `lease_seconds`; asking
again while the lease is live renews it and returns the same clip. An expired lease counts for
nobody; its row goes when its owner next asks for a clip. A user holds at most one live
lease per project: `next_clip` only leases when they hold none, and withdrawing a label
(`fgtext.store.annotations`) replaces theirs, so nobody can reserve clips they are not labelling.

The check and the lease are one transaction that holds the project's write lock (SQLite:
BEGIN IMMEDIATE; PostgreSQL: a per-project advisory lock), so concurrent requests can never
hand a clip to more than k (k_max) annotators.

Gold clips (`fgtext.store.gold`) follow the same rules; with a project `gold_rate`, each pick is
first drawn as a gold turn or not (`is_gold_turn`), and the pool of that turn goes first.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from sqlalchemy import bindparam, delete, exists, func, insert, update
from sqlmodel import Session, select

from fgtext.store.db import (
    INSERT_AUDIT_EVENT,
    audit,
    audit_event,
    get_row,
    write_together,
    write_transaction,
)
from fgtext.store.errors import ConflictError, InvalidInputError
from fgtext.store.gold import is_gold_turn, turns_taken
from fgtext.store.models import (
    Annotation,
    Clip,
    GoldClip,
    Lease,
    Project,
    Skip,
    User,
    as_utc,
    utc_now,
)
from fgtext.store.seen import has_seen_labels, seen_labels
from fgtext.vocabulary import OPEN_STATUSES, ClipStatus

DEFAULT_LEASE_SECONDS = 600


def live_leases_of_others(clip_id_column, user_id, now) -> object:
    """A scalar subquery: how many other users hold a live lease on the clip."""
    return (
        select(func.count())
        .select_from(Lease)
        .where(Lease.clip_id == clip_id_column, Lease.user_id != user_id, Lease.expires_at > now)
        .scalar_subquery()
    )


def open_leases(project: Project, n_annotations: int) -> int:
    """How many other users may hold live leases on a clip with `n_annotations` labels while
    it is still handed on: up to k in all. With adaptive k, up to k_min in all, then one at a
    time, so a clip is not handed to more annotators than its labels turn out to need."""
    room = project.max_annotators - n_annotations
    if project.k_max is None:
        return room
    return min(room, max(project.min_annotators - n_annotations, 1))


# The hot path's statements, built once with bind parameters: every request of every annotator
# runs them, and SQLAlchemy neither rebuilds nor recompiles a statement it has seen.
_leases = Lease.__table__
_USERS_LEASES = (
    select(_leases.c.id, _leases.c.clip_id, _leases.c.expires_at)
    .where(
        _leases.c.project_id == bindparam("project_id"), _leases.c.user_id == bindparam("user_id")
    )
    .order_by(_leases.c.created_at, _leases.c.id)
)
_RENEW_LEASE = (
    update(_leases)
    .where(_leases.c.id == bindparam("lease_id"))
    .values(expires_at=bindparam("expires"))
)
_DELETE_LEASE = delete(_leases).where(_leases.c.id == bindparam("lease_id"))
# Parameters named unlike any column: the lease and its audit event are written together
# (`fgtext.store.db.write_together`).
_INSERT_LEASE = insert(_leases).values(
    project_id=bindparam("lease_project"),
    clip_id=bindparam("lease_clip"),
    user_id=bindparam("lease_user"),
    expires_at=bindparam("lease_expires"),
    created_at=bindparam("lease_created"),
)
_LEASE_WITH_EVENT = (_INSERT_LEASE, INSERT_AUDIT_EVENT)


def next_clip(
    session: Session,
    *,
    project: Project,
    user: User,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    exclude_seen_labels: bool = False,
) -> Clip | None:
    """The clip `user` should label next in `project`, leased to them; None when none is left.
    `exclude_seen_labels`: never a clip whose labels they have been shown (`fgtext.store.seen`;
    the app asks it for the roles that can see labels, so plain annotators pay nothing)."""
    if lease_seconds <= 0:
        raise InvalidInputError(f"lease_seconds is {lease_seconds}; expected a positive number")
    # Not durable: a lease is a reservation, which a crash of the database may as well drop.
    with write_transaction(session, lock_project=project.id, durable=False) as connection:
        project = session.get(Project, project.id)
        now = utc_now()
        expires = now + timedelta(seconds=lease_seconds)
        mine = {"project_id": project.id, "user_id": user.id}
        live, gone = [], []
        for lease in connection.execute(_USERS_LEASES, mine):
            (live if as_utc(lease.expires_at) > now else gone).append(lease)
        held, *extra = live or [None]
        # One live lease per annotator and project (extra: rows of older versions). Expired
        # rows count for nobody (`live_leases_of_others`); their owner's go here.
        for lease in [*extra, *gone]:
            connection.execute(_DELETE_LEASE, {"lease_id": lease.id})
        if held is not None:
            clip = get_row(session, Clip, held.clip_id, "clip")  # as stored now
            if clip.status in OPEN_STATUSES and not (
                exclude_seen_labels and has_seen_labels(session, user=user, clip=clip)
            ):
                connection.execute(_RENEW_LEASE, {"lease_id": held.id, "expires": expires})
                return clip
            # a reviewer finalised the clip meanwhile, or they saw its labels
            connection.execute(_DELETE_LEASE, {"lease_id": held.id})

        clip = _first_open_clip(
            session, project=project, user=user, now=now, exclude_seen_labels=exclude_seen_labels
        )
        if clip is None:
            return None
        lease = {
            "lease_project": project.id, "lease_clip": clip.id, "lease_user": user.id,
            "lease_expires": expires, "lease_created": now,
        }  # fmt: skip
        event = audit_event(
            actor=user, action="clip.lease", entity_type="clip", entity_id=clip.id,
            project_id=project.id, payload={"seconds": lease_seconds},
        )  # fmt: skip
        write_together(connection, _LEASE_WITH_EVENT, lease | event)
    return clip


def _not_for(user_id, project_id, *, exclude_seen_labels: bool) -> list:
    """Conditions on the project's Clip rows: clips the user has not labelled or skipped (nor,
    if asked, been shown the labels of). Ids are values or bind parameters."""
    labelled = exists().where(Annotation.clip_id == Clip.id, Annotation.user_id == user_id)
    skipped = exists().where(Skip.clip_id == Clip.id, Skip.user_id == user_id)
    conditions = [~labelled, ~skipped]
    if exclude_seen_labels:
        conditions.append(~seen_labels(Clip.id, project_id, user_id))
    return conditions


def _first_open_clip(
    session: Session, *, project: Project, user: User, now, exclude_seen_labels: bool
) -> Clip | None:
    """The first clip, fullest first and then oldest, with room for `user`: on a gold turn
    among the gold clips first, else among the others first. One index range scan per
    annotation count (k at most) and pool, each stopping at its first match."""
    pools: tuple[bool | None, ...] = (None,)  # None: every clip; True/False: gold or not
    if project.gold_rate > 0:
        turn = turns_taken(session, project=project, user=user)
        gold_turn = is_gold_turn(project.id, user.id, turn, project.gold_rate)
        pools = (True, False) if gold_turn else (False, True)
    for gold in pools:
        query = _first_in_pool_query(gold, exclude_seen_labels)
        for count in range(project.max_annotators - 1, -1, -1):
            params = {
                "project_id": project.id, "user_id": user.id, "now": now, "n": count,
                "status": ClipStatus.IN_PROGRESS if count else ClipStatus.UNLABELLED,
                "room": open_leases(project, count),
            }  # fmt: skip
            clip = session.execute(query, params).scalars().first()
            if clip is not None:
                return clip
    return None


@cache
def _first_in_pool_query(gold: bool | None, exclude_seen_labels: bool):
    """The first clip of one annotation count `n` and status with room for the user, in one
    pool (gold clips, the others, or all): built once per kind, then bound per call."""
    user_id, project_id = bindparam("user_id"), bindparam("project_id")
    pool = []
    if gold is not None:
        is_gold = exists().where(GoldClip.clip_id == Clip.id)
        pool = [is_gold if gold else ~is_gold]
    return (
        select(Clip)
        .where(
            *pool,
            Clip.project_id == project_id,
            Clip.status == bindparam("status"),
            Clip.n_annotations == bindparam("n"),
            *_not_for(user_id, project_id, exclude_seen_labels=exclude_seen_labels),
            live_leases_of_others(Clip.id, user_id, bindparam("now")) < bindparam("room"),
        )
        .order_by(Clip.id)
        .limit(1)
    )


def remaining_for(
    session: Session, *, project: Project, user: User, exclude_seen_labels: bool = False
) -> int:
    """How many clips `user` could still be handed: clips with room for another annotation
    that they have neither labelled nor skipped (leases aside, which come and go)."""
    return session.exec(
        select(func.count())
        .select_from(Clip)
        .where(
            Clip.project_id == project.id,
            Clip.status.in_(OPEN_STATUSES),
            Clip.n_annotations < project.max_annotators,
            *_not_for(user.id, project.id, exclude_seen_labels=exclude_seen_labels),
        )
    ).one()


def skip_clip(session: Session, *, project: Project, clip: Clip, user: User, reason: str) -> Skip:
    """Record that `user` passes on `clip` (never offered to them again) and free its lease."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise InvalidInputError("a skip needs a reason (e.g. 'video does not play')")
    if clip.project_id != project.id:
        raise InvalidInputError(f"clip {clip.clip_id!r} is not in project {project.name!r}")
    with write_transaction(session, lock_project=project.id):
        labelled = session.exec(
            select(Annotation).where(Annotation.clip_id == clip.id, Annotation.user_id == user.id)
        ).first()
        if labelled is not None:
            raise ConflictError(
                f"user {user.username!r} has labelled clip {clip.clip_id!r}; it cannot be skipped"
            )
        session.execute(delete(Lease).where(Lease.clip_id == clip.id, Lease.user_id == user.id))
        skip = session.exec(
            select(Skip).where(Skip.clip_id == clip.id, Skip.user_id == user.id)
        ).first()
        if skip is None:
            skip = Skip(clip_id=clip.id, user_id=user.id, reason=reason)
            session.add(skip)
            audit(
                session, actor=user, action="clip.skip", entity_type="clip", entity_id=clip.id,
                project_id=project.id, payload={"reason": reason},
            )  # fmt: skip
    return skip


def list_skips(session: Session, *, project: Project) -> list[Skip]:
    """Every skip in the project (for admins: broken videos show up here)."""
    return list(
        session.exec(
            select(Skip).join(Clip, Clip.id == Skip.clip_id).where(Clip.project_id == project.id)
        )
    )
