"""next_clip / skip_clip: order, leases, skips, and no over-assignment under real concurrency."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from fgtext import store
from fgtext.store import assignment
from tests.fgtext.store.helpers import LABELS, make_project


def test_next_clip_finishes_started_clips_first_and_renews_its_lease(
    session, admin, make_annotators
):
    project = make_project(session, admin, n_clips=3, k=2)
    a, b, c = make_annotators(3, project)
    first = store.next_clip(session, project=project, user=a)
    assert first.clip_id == "c000"
    again = store.next_clip(session, project=project, user=a, lease_seconds=900)
    assert again.id == first.id  # same clip while the lease lives
    leases = session.exec(select(store.Lease)).all()
    assert len(leases) == 1
    assert store.models.as_utc(leases[0].expires_at) > store.models.utc_now() + timedelta(
        seconds=800
    )

    # b is offered c000 too (k=2: one slot left beside a's lease) ...
    assert store.next_clip(session, project=project, user=b).clip_id == "c000"
    # ... and c gets c001: c000 has a's and b's leases, no room
    assert store.next_clip(session, project=project, user=c).clip_id == "c001"
    store.submit_annotation(session, clip=first, user=a, attributes=LABELS)
    # a labelled c000; c001 has one lease (c's): a gets it (started clips first, then oldest)
    assert store.next_clip(session, project=project, user=a).clip_id == "c001"


def test_partly_labelled_clips_come_before_fresh_ones(session, admin, make_annotators):
    project = make_project(session, admin, n_clips=4, k=3)
    a, b = make_annotators(2, project)
    last = store.list_clips(session, project=project)[-1]
    store.submit_annotation(session, clip=last, user=a, attributes=LABELS)  # free capacity
    assert store.next_clip(session, project=project, user=b).clip_id == "c003"


def test_skip_releases_the_lease_and_is_never_offered_again(session, admin, make_annotators):
    project = make_project(session, admin, n_clips=3, k=1)
    a, b, c = make_annotators(3, project)
    clip = store.next_clip(session, project=project, user=a)
    assert store.next_clip(session, project=project, user=b).clip_id == "c001"  # c000 is leased
    skip = store.skip_clip(session, project=project, clip=clip, user=a, reason="video is black")
    assert skip.reason == "video is black"
    assert store.next_clip(session, project=project, user=a).clip_id == "c002"  # not c000 again
    assert store.next_clip(session, project=project, user=c).clip_id == "c000"  # lease released
    store.skip_clip(session, project=project, clip=clip, user=a, reason="twice")  # idempotent
    assert [(s.clip_id, s.reason) for s in store.list_skips(session, project=project)] == [
        (clip.id, "video is black")
    ]
    with pytest.raises(store.InvalidInputError, match="a skip needs a reason"):
        store.skip_clip(session, project=project, clip=clip, user=b, reason="  ")
    actions = session.exec(select(store.AuditEvent.action)).all()
    assert actions.count("clip.skip") == 1 and actions.count("clip.lease") == 4


def test_expired_leases_free_the_clip(session, admin, make_annotators, monkeypatch):
    project = make_project(session, admin, n_clips=1, k=1)
    a, b = make_annotators(2, project)
    clip = store.next_clip(session, project=project, user=a, lease_seconds=60)
    assert store.next_clip(session, project=project, user=b) is None
    later = store.models.utc_now() + timedelta(seconds=61)
    monkeypatch.setattr(assignment, "utc_now", lambda: later)
    assert store.next_clip(session, project=project, user=b).id == clip.id


def test_no_clip_left(session, admin, make_annotators):
    # who may ask (members, active users) is annotator.policies: tests/annotator/test_policies.py
    project = make_project(session, admin, n_clips=1, k=1)
    (a,) = make_annotators(1, project)
    clip = store.next_clip(session, project=project, user=a)
    store.submit_annotation(session, clip=clip, user=a, attributes=LABELS)
    assert store.next_clip(session, project=project, user=a) is None


def _hammer(engine, project_id, users, *, submit: bool, rounds: int):
    """Each user in its own thread asks for clips (and labels them) until none is left."""
    handed: dict[int, set[int]] = defaultdict(set)
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(len(users))

    def work(user_id: int) -> None:
        try:
            with Session(engine) as session:
                project = session.get(store.Project, project_id)
                user = session.get(store.User, user_id)
                session.commit()  # back to the pool: 16 threads share 15 connections
                start.wait(timeout=60)
                for _ in range(rounds):
                    clip = store.next_clip(session, project=project, user=user)
                    if clip is None:
                        return
                    # asking again while holding the lease returns the same clip
                    assert store.next_clip(session, project=project, user=user).id == clip.id
                    with lock:
                        handed[clip.id].add(user_id)
                    if submit:
                        store.submit_annotation(session, clip=clip, user=user, attributes=LABELS)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u.id,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return handed, errors


@pytest.mark.parametrize("k", [2, 3])
def test_sixteen_concurrent_annotators_never_over_assign(
    engine, session, admin, make_annotators, k
):
    project = make_project(session, admin, n_clips=12, k=k)
    users = make_annotators(16, project)
    handed, errors = _hammer(engine, project.id, users, submit=True, rounds=100)
    assert errors == []
    session.rollback()  # end this session's read snapshot (SQLite WAL) to see the threads' work
    assert max(len(holders) for holders in handed.values()) <= k
    counts = defaultdict(int)
    for annotation in session.exec(select(store.Annotation)).all():
        counts[annotation.clip_id] += 1
    # every clip got exactly k annotations: none over-assigned, none lost
    assert sorted(counts.values()) == [k] * 12
    clips = store.list_clips(session, project=project)
    assert {(c.n_annotations, c.status) for c in clips} == {(k, "consensus")}
    assert session.exec(select(store.Lease)).all() == []


@pytest.mark.parametrize("k", [2, 3])
def test_concurrent_leases_fill_exactly_the_capacity(engine, session, admin, make_annotators, k):
    project = make_project(session, admin, n_clips=3, k=k)
    users = make_annotators(16, project)
    handed, errors = _hammer(engine, project.id, users, submit=False, rounds=1)
    assert errors == []
    assert sorted(len(h) for h in handed.values()) == [k, k, k]  # 3k of the 16 got a clip


def test_a_lease_on_a_clip_a_reviewer_finalised_is_dropped(session, admin, make_annotators):
    project = make_project(session, admin, n_clips=2, k=2)
    (a,) = make_annotators(1, project)
    clip = store.next_clip(session, project=project, user=a)
    store.adjudicate(session, clip=clip, reviewer=admin, attributes=LABELS, reason="obvious")
    assert store.next_clip(session, project=project, user=a).clip_id == "c001"
    assert [lease.clip_id for lease in session.exec(select(store.Lease)).all()] == [
        store.list_clips(session, project=project)[1].id
    ]


def _leases_of(session, user) -> list[store.Lease]:
    session.rollback()  # a fresh read snapshot (SQLite WAL)
    return session.exec(select(store.Lease).where(store.Lease.user_id == user.id)).all()


def test_submit_and_withdraw_cannot_hoard_clips(session, admin, make_annotators):
    """The attack: two annotators of a k=2 project label every clip without asking for it and
    withdraw the label at once, twice over. Each withdrawal leases the clip back to its author;
    if those leases piled up, every clip would hold two and a third annotator would get none."""
    project = make_project(session, admin, n_clips=4, k=2)
    a, b, c = make_annotators(3, project)
    for _ in range(2):
        for clip in store.list_clips(session, project=project):
            for user in (a, b):
                label = store.submit_annotation(session, clip=clip, user=user, attributes=LABELS)
                store.withdraw_annotation(session, annotation=label, user=user)
                assert len(_leases_of(session, user)) == 1
    last = store.list_clips(session, project=project)[-1].id
    assert [lease.clip_id for lease in _leases_of(session, a)] == [last]
    handed = []
    while (clip := store.next_clip(session, project=project, user=c)) is not None:
        handed.append(clip.clip_id)
        store.submit_annotation(session, clip=clip, user=c, attributes=LABELS)
    # only the clip a and b were last given back stays reserved for them
    assert handed == ["c000", "c001", "c002"]


def test_withdrawing_replaces_the_lease_next_clip_gave(session, admin, make_annotators):
    project = make_project(session, admin, n_clips=3, k=2)
    (a,) = make_annotators(1, project)
    first = store.next_clip(session, project=project, user=a)
    store.submit_annotation(session, clip=first, user=a, attributes=LABELS)
    second = store.next_clip(session, project=project, user=a)
    label = store.list_annotations(session, project=project, user=a)[0]
    store.withdraw_annotation(session, annotation=label, user=a)  # undo while holding `second`
    assert [lease.clip_id for lease in _leases_of(session, a)] == [first.id]
    assert store.next_clip(session, project=project, user=a).id == first.id != second.id


def test_next_clip_keeps_one_lease_of_several(session, admin, make_annotators):
    """Rows written before the one-lease rule (two leases of one user) shrink to the oldest."""
    project = make_project(session, admin, n_clips=3, k=2)
    (a,) = make_annotators(1, project)
    clips = store.list_clips(session, project=project)
    later = store.models.utc_now() + timedelta(minutes=5)
    for clip in clips[:2]:
        session.add(
            store.Lease(project_id=project.id, clip_id=clip.id, user_id=a.id, expires_at=later)
        )
        session.commit()
    assert store.next_clip(session, project=project, user=a).id == clips[0].id
    assert [lease.clip_id for lease in _leases_of(session, a)] == [clips[0].id]


def test_an_expired_lease_counts_for_nobody_and_goes_when_its_owner_asks_again(
    session, admin, make_annotators
):
    project = make_project(session, admin, n_clips=2, k=1)
    a, b = make_annotators(2, project)
    first = store.next_clip(session, project=project, user=a)
    # a walks away: the lease runs out
    lease = session.exec(select(store.Lease).where(store.Lease.user_id == a.id)).one()
    lease.expires_at = store.models.utc_now() - timedelta(seconds=1)
    session.add(lease)
    session.commit()
    # k = 1: a live lease would keep b off the clip; the expired one does not
    assert store.next_clip(session, project=project, user=b).id == first.id
    assert [x.clip_id for x in _leases_of(session, a)] == [first.id]  # still there ...
    second = store.next_clip(session, project=project, user=a)
    assert second.id != first.id
    assert [x.clip_id for x in _leases_of(session, a)] == [second.id]  # ... until a asks again


def test_a_lease_does_not_wait_for_the_disk_and_a_label_does(
    database_url, session, admin, make_annotators
):
    """On PostgreSQL a lease's transaction turns synchronous_commit off (a reservation may be
    lost in a crash of the database); a submitted label's does not."""
    from sqlalchemy import event

    project = make_project(session, admin, n_clips=2, k=1)
    (a,) = make_annotators(1, project)
    statements: list[str] = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        clip = store.next_clip(session, project=project, user=a)
        leased, statements[:] = list(statements), []
        store.submit_annotation(session, clip=clip, user=a, attributes=LABELS)
        labelled = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    not_durable = [s for s in leased + labelled if "set_config" in s]  # synchronous_commit off
    if database_url.startswith("sqlite"):
        assert not_durable == []  # WAL with synchronous=NORMAL: no commit waits for the disk
    else:
        assert not_durable and all(s in leased for s in not_durable)
        assert not any("set_config" in s for s in labelled)
