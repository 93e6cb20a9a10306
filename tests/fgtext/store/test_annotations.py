"""Submitting and editing annotations: validation, idempotency, capacity, stale edits."""

from __future__ import annotations

import pytest
from sqlmodel import select

from fgtext import store
from fgtext.schema import DIMENSIONS, default_schema
from tests.fgtext.store.helpers import LABELS, make_project

OTHER = LABELS | {"motion_type": "scratch"}


@pytest.fixture
def project(session, admin):
    return make_project(session, admin, n_clips=2, k=2)


@pytest.fixture
def annotators(project, make_annotators):
    return make_annotators(3, project)


def test_submit_stores_the_values_and_releases_the_lease(session, project, annotators):
    a = annotators[0]
    clip = store.next_clip(session, project=project, user=a)
    annotation = store.submit_annotation(
        session, clip=clip, user=a, attributes=LABELS, unsure=True, note="dim light",
        seconds_spent=12.5,
    )  # fmt: skip
    stored = store.get_annotation(session, annotation_id=annotation.id)
    assert stored.attributes == LABELS and stored.version == 1
    assert (stored.unsure, stored.note, stored.seconds_spent) == (True, "dim light", 12.5)
    assert session.exec(select(store.Lease)).all() == []
    clip = store.get_clip(session, clip_id=clip.id)
    assert (clip.n_annotations, clip.status) == (1, "in_progress")
    assert session.get(store.Project, project.id).labels_revision == 1
    event = session.exec(
        select(store.AuditEvent).where(store.AuditEvent.action == "annotation.submit")
    ).one()
    assert (event.actor_id, event.entity_id, event.project_id) == (
        a.id,
        str(annotation.id),
        project.id,
    )
    assert event.payload["attributes"] == LABELS and event.payload["seconds_spent"] == 12.5


def test_a_submission_writes_only_what_it_should(engine, session, project, annotators):
    """Read back from a fresh session, every column of the clip, the project and the other
    annotator's lease is as before but for what a submission sets (its last writes run as
    one statement on PostgreSQL, and a stray parameter would set a column it names)."""
    from sqlmodel import Session

    a, b = annotators[:2]
    clip = store.next_clip(session, project=project, user=a)
    assert store.next_clip(session, project=project, user=b).id == clip.id  # k = 2
    with Session(engine) as fresh:
        clip_before = fresh.get(store.Clip, clip.id).model_dump()
        project_before = fresh.get(store.Project, project.id).model_dump()
    store.submit_annotation(session, clip=clip, user=a, attributes=LABELS, seconds_spent=3.0)
    store.submit_annotation(session, clip=clip, user=b, attributes=LABELS, seconds_spent=4.0)
    with Session(engine) as fresh:
        clip_after = fresh.get(store.Clip, clip.id).model_dump()
        project_after = fresh.get(store.Project, project.id).model_dump()
        leases = fresh.exec(select(store.Lease)).all()
        events = fresh.exec(
            select(store.AuditEvent).where(store.AuditEvent.action == "annotation.submit")
        ).all()
    assert clip_after == clip_before | {"n_annotations": 2, "status": "consensus"}
    assert project_after == project_before | {
        "labels_revision": project_before["labels_revision"] + 2
    }
    assert leases == []
    assert [(e.actor_id, e.entity_type, e.project_id) for e in events] == [
        (a.id, "annotation", project.id), (b.id, "annotation", project.id),
    ]  # fmt: skip
    # the request's own objects follow the rows
    assert (clip.n_annotations, clip.status) == (2, "consensus")
    assert project.labels_revision == project_after["labels_revision"]


BAD_LABELS = [
    (LABELS | {"motion_type": "lick"}, "motion_type", "lick", "motion_type 'lick' is not allowed"),
    ({k: v for k, v in LABELS.items() if k != "receiver"}, "receiver", None, "receiver is missing"),
    (LABELS | {"mood": "calm"}, "mood", "calm", "'mood' is not a dimension"),
]


def test_a_bad_value_names_the_dimension_and_the_allowed_values(session, project, annotators):
    clip = store.next_clip(session, project=project, user=annotators[0])
    for attributes, dimension, value, message in BAD_LABELS:
        with pytest.raises(store.InvalidLabelError) as error:
            store.submit_annotation(session, clip=clip, user=annotators[0], attributes=attributes)
        assert message in str(error.value)
        assert (error.value.dimension, error.value.value) == (dimension, value)
        allowed = default_schema().values(dimension) if dimension != "mood" else DIMENSIONS
        assert error.value.allowed == tuple(allowed)
        assert ", ".join(allowed) in str(error.value)
    for seconds in (-1, float("nan"), float("inf"), 1e-320, 86401, 10**400):
        with pytest.raises(
            store.InvalidInputError, match=r"seconds_spent is .*; expected a number from 0 to 86400"
        ):
            store.submit_annotation(
                session, clip=clip, user=annotators[0], attributes=LABELS, seconds_spent=seconds
            )
    with pytest.raises(store.InvalidInputError, match="note has 2001 characters"):
        store.submit_annotation(
            session, clip=clip, user=annotators[0], attributes=LABELS, note="x" * 2001
        )
    assert session.exec(select(store.Annotation)).all() == []


def test_resubmitting_the_same_values_is_a_no_op_and_other_values_a_conflict(
    session, project, annotators
):
    a = annotators[0]
    clip = store.next_clip(session, project=project, user=a)
    first = store.submit_annotation(session, clip=clip, user=a, attributes=LABELS)
    again = store.submit_annotation(session, clip=clip, user=a, attributes=dict(LABELS))
    assert again.id == first.id and again.version == 1
    with pytest.raises(store.ConflictError, match=r"has already labelled clip 'c000' .* edit that"):
        store.submit_annotation(session, clip=clip, user=a, attributes=OTHER)
    assert len(session.exec(select(store.Annotation)).all()) == 1
    assert session.get(store.Project, project.id).labels_revision == 1


def test_submit_without_a_lease_needs_free_capacity(session, project, annotators):
    a, b, c = annotators
    clip = store.get_clip(session, clip_id=store.list_clips(session, project=project)[0].id)
    store.next_clip(session, project=project, user=a)  # leases c000
    store.next_clip(session, project=project, user=b)  # leases c000 (k=2)
    with pytest.raises(store.ConflictError, match="'c000' already has its 2 annotators"):
        store.submit_annotation(session, clip=clip, user=c, attributes=LABELS)
    store.submit_annotation(session, clip=clip, user=a, attributes=LABELS)  # a's lease
    store.submit_annotation(session, clip=clip, user=b, attributes=LABELS)  # b's lease
    assert store.get_clip(session, clip_id=clip.id).status == "consensus"


def test_edit_with_the_current_version_and_a_stale_one(session, project, annotators):
    a = annotators[0]
    clip = store.next_clip(session, project=project, user=a)
    annotation = store.submit_annotation(
        session, clip=clip, user=a, attributes=LABELS, seconds_spent=5
    )
    edited = store.update_annotation(
        session, annotation=annotation, user=a, attributes=OTHER, expected_version=1,
        note="it is a scratch", seconds_spent=3,
    )  # fmt: skip
    assert (edited.version, edited.attributes, edited.note, edited.seconds_spent) == (
        2, OTHER, "it is a scratch", 8.0,
    )  # fmt: skip
    with pytest.raises(store.StaleVersionError) as error:
        store.update_annotation(
            session, annotation=annotation, user=a, attributes=LABELS, expected_version=1
        )
    assert (error.value.expected, error.value.current) == (1, 2)
    assert "is at version 2, not 1" in str(error.value)
    assert isinstance(error.value, store.ConflictError)
    stored = store.get_annotation(session, annotation_id=annotation.id)
    assert (stored.version, stored.attributes) == (2, OTHER)  # nothing overwritten
    # an edit that changes nothing keeps the version
    same = store.update_annotation(
        session, annotation=annotation, user=a, attributes=OTHER, expected_version=2
    )
    assert same.version == 2
    assert session.get(store.Project, project.id).labels_revision == 2


def test_each_lists_only_their_own(session, project, annotators):
    # that only the author edits is annotator.policies: tests/annotator/test_policies.py
    a, b, _ = annotators
    clip = store.next_clip(session, project=project, user=a)
    mine = store.submit_annotation(session, clip=clip, user=a, attributes=LABELS)
    theirs = store.submit_annotation(session, clip=clip, user=b, attributes=OTHER)
    assert [x.id for x in store.list_annotations(session, project=project, user=a)] == [mine.id]
    assert [x.id for x in store.list_annotations(session, project=project, user=b)] == [theirs.id]
    assert [x.id for x in store.clip_annotations(session, clip=clip)] == [mine.id, theirs.id]
    assert store.get_clip(session, clip_id=clip.id).status == "disputed"
    with pytest.raises(store.NotFoundError, match="annotation 999 does not exist"):
        store.get_annotation(session, annotation_id=999)
