"""The `dawid-skene` consensus rule in the store: decided at submission by the clip's votes and
the last fit's accuracies, refitted lazily (cached by labels_revision), review queue least
certain first, export with posteriors and annotator accuracies."""

from __future__ import annotations

import json
import random

import pytest
from sqlmodel import select

from fgtext import store
from fgtext.agreement import LabelTable, fit_reliability
from fgtext.consensus import posterior_status
from fgtext.dataset import open_dataset
from fgtext.schema import DIMENSIONS, default_schema, load_class_list
from fgtext.store.models import ReliabilityCache
from tests.fgtext.store.helpers import make_project

N_CLIPS = 40
ACCURACY = {"careful": 0.97, "careless1": 0.55, "careless2": 0.5}


def _project(session, admin, *, threshold: float = 0.9) -> store.Project:
    return make_project(
        session, admin, n_clips=N_CLIPS, k=3, name="ds", consensus_rule="dawid-skene",
        confidence_threshold=threshold,
    )  # fmt: skip


def _label_everything(session, project) -> dict[str, dict[str, str]]:
    """Three simulated annotators (one careful, two careless) label every clip; the truth."""
    schema = default_schema()
    rng = random.Random(3)
    users = {
        name: store.create_user(session, username=name, password_hash="h", role="annotator")
        for name in ACCURACY
    }
    truth = {}
    for clip in store.list_clips(session, project=project, limit=N_CLIPS):
        truth[clip.clip_id] = {d: rng.choice(schema.values(d)[:4]) for d in DIMENSIONS}
        for name, user in users.items():
            values = {
                d: v if rng.random() < ACCURACY[name] else rng.choice(schema.values(d)[:4])
                for d, v in truth[clip.clip_id].items()
            }
            store.submit_annotation(session, clip=clip, user=user, attributes=values)
    return truth


def test_the_rule_decides_by_votes_then_by_the_refitted_model(session, admin, tmp_path):
    project = _project(session, admin)
    _label_everything(session, project)
    assert session.get(ReliabilityCache, project.id) is None  # nothing fitted on the hot path
    clips = store.list_clips(session, project=project, limit=N_CLIPS)
    statuses = {c.status for c in clips}
    assert statuses <= {"consensus", "disputed"} and len(statuses) == 2

    queue = store.review_queue(session, project=project)  # refits: labels changed
    cached = session.get(ReliabilityCache, project.id, populate_existing=True)
    project = session.get(store.Project, project.id, populate_existing=True)
    assert cached.labels_revision == project.labels_revision
    accuracy = cached.model["annotators"]
    for d in DIMENSIONS:
        assert accuracy["careful"][d] > max(accuracy["careless1"][d], accuracy["careless2"][d])

    # the same fit as the library's on the same labels decides every clip
    rows = [
        {"clip_id": c.clip_id, "annotator": name, **a.attributes}
        for c in clips
        for name, a in session.exec(
            select(store.User.username, store.Annotation)
            .join(store.Annotation, store.Annotation.user_id == store.User.id)
            .where(store.Annotation.clip_id == c.id)
        ).all()
    ]
    fit = fit_reliability(LabelTable.from_rows(rows))
    index = fit.index()
    for clip in store.list_clips(session, project=project, limit=N_CLIPS):
        confidence = fit.confidence(index[clip.clip_id])
        assert clip.status == posterior_status(3, confidence, 0.9), clip.clip_id
        assert clip.confidence == pytest.approx(min(confidence.values()))
    assert queue  # some clips are unsure; least certain first, all below the threshold
    assert [c.confidence for c in queue] == sorted(c.confidence for c in queue)
    assert all(c.confidence < 0.9 and c.status == "disputed" for c in queue)
    assert store.review_queue(session, project=project) == queue  # cached: no refit

    out = store.export_project(session, project=project, out_dir=tmp_path / "out")
    ds = open_dataset(out)
    rows = {c.clip_id: c for c in ds.clips()}
    final = [c for c in rows.values() if c.status == "consensus"]
    assert len(final) == N_CLIPS - len(queue)
    for row in final:
        assert dict(row.attributes) == fit.final(index[row.clip_id])
        assert row.confidence == pytest.approx(fit.confidence(index[row.clip_id]))
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["annotators"] == fit.annotator_accuracy()
    assert meta["source"]["confidence_threshold"] == 0.9


def test_a_new_label_is_decided_by_the_last_fits_accuracies(session, admin):
    project = _project(session, admin, threshold=0.95)
    careful, sloppy, third = (
        store.create_user(session, username=n, password_hash="h", role="annotator")
        for n in ("careful", "sloppy", "third")
    )
    session.add(
        ReliabilityCache(
            project_id=project.id, labels_revision=-1,
            model={"annotators": {"careful": dict.fromkeys(DIMENSIONS, 0.99),
                                  "sloppy": dict.fromkeys(DIMENSIONS, 0.3)}},
        )
    )  # fmt: skip
    session.commit()
    clip = store.list_clips(session, project=project, limit=1)[0]
    values = {"initiator": "right_hand", "receiver": "eyes", "direction": "back_and_forth",
              "motion_type": "rub"}  # fmt: skip
    other = values | {"initiator": "left_hand"}
    store.submit_annotation(session, clip=clip, user=careful, attributes=values)
    store.submit_annotation(session, clip=clip, user=sloppy, attributes=other)
    assert store.get_clip(session, clip_id=clip.id).status == "in_progress"
    store.submit_annotation(session, clip=clip, user=third, attributes=other)  # 0.8: unknown
    clip = store.get_clip(session, clip_id=clip.id)
    # careful (0.99) outweighs 0.3 and 0.8 together (right_hand at about 0.76), not to 0.95
    final, status = store.clip_final_labels(session, clip=clip)
    assert status == "disputed" and final is None and 0.7 < clip.confidence < 0.8


def test_bad_rule_settings_are_clear_errors(session, admin):
    with pytest.raises(store.InvalidInputError, match="confidence_threshold is 0"):
        _project(session, admin, threshold=0)
    with pytest.raises(store.InvalidInputError, match="expected one of unanimous, majority, "):
        store.create_project(
            session, name="x", schema=default_schema(), classes=load_class_list("smg")[:2],
            consensus_rule="glad", actor=admin,
        )  # fmt: skip
