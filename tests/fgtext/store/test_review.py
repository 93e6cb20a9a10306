"""Final labels, the review queue, adjudication, agreement (cached) and progress."""

from __future__ import annotations

import pytest
from sqlmodel import select

from fgtext import store
from fgtext.agreement import LabelTable, agreement_report
from fgtext.store import review
from tests.fgtext.store.helpers import LABELS, make_project

SCRATCH = LABELS | {"motion_type": "scratch"}
TOUCH = LABELS | {"motion_type": "touch"}


def label(session, project, clip, users, values) -> None:
    for user, attributes in zip(users, values, strict=True):
        store.submit_annotation(session, clip=clip, user=user, attributes=attributes)


@pytest.fixture
def setup(session, admin, make_annotators):
    project = make_project(session, admin, n_clips=4, k=3)  # majority rule
    users = make_annotators(3, project)
    reviewer = store.create_user(session, username="rev", password_hash="h", role="reviewer")
    return project, users, reviewer, store.list_clips(session, project=project)


def test_statuses_follow_the_consensus_rule(session, setup):
    project, users, _, clips = setup
    label(session, project, clips[0], users, [LABELS, LABELS, LABELS])  # unanimous
    label(session, project, clips[1], users, [LABELS, LABELS, SCRATCH])  # 2 of 3: majority
    label(session, project, clips[2], users, [LABELS, SCRATCH, TOUCH])  # no majority
    label(session, project, clips[3], users[:2], [LABELS, LABELS])  # 2 of k=3 so far
    finals = [store.clip_final_labels(session, clip=c) for c in clips]
    assert finals == [
        (LABELS, "consensus"), (LABELS, "consensus"), (None, "disputed"), (None, "in_progress"),
    ]  # fmt: skip
    assert [c.clip_id for c in store.review_queue(session, project=project)] == ["c002"]
    assert [store.get_clip(session, clip_id=c.id).status for c in clips] == [
        "consensus", "consensus", "disputed", "in_progress",
    ]  # fmt: skip


def test_unanimous_projects_send_majorities_to_review(session, admin, make_annotators):
    project = make_project(session, admin, n_clips=1, k=2, name="strict")
    project.consensus_rule = "unanimous"
    session.add(project)
    session.commit()
    a, b = make_annotators(2, project)
    clip = store.list_clips(session, project=project)[0]
    label(session, project, clip, [a, b], [LABELS, SCRATCH])
    assert store.clip_final_labels(session, clip=clip) == (None, "disputed")


def test_adjudication_sets_final_values_with_a_reason(session, setup):
    project, users, reviewer, clips = setup
    label(session, project, clips[2], users, [LABELS, SCRATCH, TOUCH])
    decision = store.adjudicate(
        session, clip=clips[2], reviewer=reviewer, attributes=SCRATCH, reason="nails visible"
    )
    assert (decision.attributes, decision.reason, decision.version) == (SCRATCH, "nails visible", 1)
    assert store.clip_final_labels(session, clip=clips[2]) == (SCRATCH, "adjudicated")
    assert store.review_queue(session, project=project) == []
    # a second decision replaces the first; both are in the audit log
    store.adjudicate(
        session, clip=clips[2], reviewer=reviewer, attributes=TOUCH, reason="on replay"
    )
    assert store.clip_final_labels(session, clip=clips[2]) == (TOUCH, "adjudicated")
    events = session.exec(
        select(store.AuditEvent).where(store.AuditEvent.action == "clip.adjudicate")
    ).all()
    assert [(e.payload["attributes"], e.payload["previous"]) for e in events] == [
        (SCRATCH, None), (TOUCH, SCRATCH),
    ]  # fmt: skip
    # editing an annotation later does not undo the reviewer's decision
    mine = store.list_annotations(session, project=project, user=users[2])[0]
    store.update_annotation(
        session, annotation=mine, user=users[2], attributes=LABELS, expected_version=1
    )
    assert store.clip_final_labels(session, clip=clips[2]) == (TOUCH, "adjudicated")


def test_adjudication_is_validated(session, setup):
    # that only reviewers adjudicate is annotator.policies: tests/annotator/test_policies.py
    _, _, reviewer, clips = setup
    with pytest.raises(store.InvalidLabelError, match="direction 'sideways' is not allowed"):
        store.adjudicate(
            session, clip=clips[0], reviewer=reviewer,
            attributes=LABELS | {"direction": "sideways"}, reason="r",
        )  # fmt: skip
    with pytest.raises(store.InvalidInputError, match="an adjudication needs a reason"):
        store.adjudicate(session, clip=clips[0], reviewer=reviewer, attributes=LABELS, reason="")
    assert session.exec(select(store.Adjudication)).all() == []


def test_agreement_matches_fgtext_agreement_and_is_cached(session, setup, monkeypatch):
    project, users, _, clips = setup
    label(session, project, clips[0], users, [LABELS, LABELS, LABELS])
    label(session, project, clips[1], users, [LABELS, LABELS, SCRATCH])
    label(session, project, clips[2], users, [LABELS, SCRATCH, TOUCH])
    rows = [
        {"clip_id": c.clip_id, "annotator": u.username, "class": "turtling neck and shoulder"
         if c.label == 0 else "rubbing eyes and forehead", **values}
        for c, values_of_clip in zip(
            clips[:3],
            [[LABELS] * 3, [LABELS, LABELS, SCRATCH], [LABELS, SCRATCH, TOUCH]],
            strict=True,
        )
        for u, values in zip(users, values_of_clip, strict=True)
    ]  # fmt: skip
    expected = agreement_report(LabelTable.from_rows(rows), n_bootstrap=1000).to_dict()

    calls = []
    real = review.agreement_report
    monkeypatch.setattr(
        review, "agreement_report", lambda *a, **kw: calls.append(1) or real(*a, **kw)
    )
    report = store.project_agreement(session, project=project)
    assert report == expected
    assert report["n_clips"] == 3 and report["n_labels"] == 9
    # By hand, motion_type's coincidences: rub-rub 4, rub-scratch 3, rub-touch 1,
    # scratch-touch 1 (n = 9; n_rub 6, n_scratch 2, n_touch 1): D_o = 5/9 and
    # D_e = (81 - 36 - 4 - 1) / 72 = 5/9, so alpha = 1 - D_o / D_e = 0. The other three
    # dimensions never vary, so their alpha is undefined.
    assert report["dimensions"]["motion_type"]["krippendorff_alpha"]["value"] == pytest.approx(0)
    assert report["dimensions"]["initiator"]["krippendorff_alpha"]["value"] is None
    assert report["dimensions"]["motion_type"]["per_class"].keys() == {
        "turtling neck and shoulder", "rubbing eyes and forehead",
    }  # fmt: skip
    assert store.project_agreement(session, project=project) == expected
    assert len(calls) == 1  # cached: no new labels, no recomputation
    cache = session.get(store.AgreementCache, project.id)
    assert cache.labels_revision == session.get(store.Project, project.id).labels_revision == 9

    label(session, project, clips[3], users, [LABELS, LABELS, LABELS])
    assert store.project_agreement(session, project=project)["n_clips"] == 4
    assert len(calls) == 2


def test_agreement_of_a_project_without_labels(session, setup):
    project = setup[0]
    report = store.project_agreement(session, project=project)
    assert (report["n_clips"], report["n_labels"], report["dimensions"]) == (0, 0, {})


def test_progress_counts_clips_and_time_per_annotator(session, setup):
    project, users, _, clips = setup
    for clip, seconds in zip(clips[:3], (10, 20, 60), strict=True):
        store.submit_annotation(session, clip=clip, user=users[0], attributes=LABELS,
                                seconds_spent=seconds)  # fmt: skip
    for clip, values in zip(clips[:2], (LABELS, SCRATCH), strict=True):
        store.submit_annotation(session, clip=clip, user=users[1], attributes=values)
        store.submit_annotation(session, clip=clip, user=users[2], attributes=TOUCH)
    progress = store.project_progress(session, project=project)
    assert progress["clips"] == 4
    # c000 LABELS, LABELS, TOUCH: majority; c001 LABELS, SCRATCH, TOUCH: disputed
    assert progress["by_status"] == {
        "unlabelled": 1, "in_progress": 1, "consensus": 1, "single": 0, "disputed": 1,
        "adjudicated": 0,
    }  # fmt: skip
    assert (progress["final"], progress["in_review"], progress["remaining"]) == (1, 1, 2)
    assert progress["annotations"] == 7
    assert progress["annotators"] == [
        {"user_id": users[0].id, "username": "ann0", "annotations": 3, "median_seconds": 20.0},
        {"user_id": users[1].id, "username": "ann1", "annotations": 2, "median_seconds": None},
        {"user_id": users[2].id, "username": "ann2", "annotations": 2, "median_seconds": None},
    ]
