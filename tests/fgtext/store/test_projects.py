"""Users, projects from FG-Text datasets, members and clips, on both back ends."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlmodel import select

from fgtext import store
from fgtext.dataset import open_dataset
from fgtext.schema import default_schema, load_class_list


def audit_actions(session) -> list[str]:
    return list(session.exec(select(store.AuditEvent.action).order_by(store.AuditEvent.id)))


def test_users_roles_and_updates(session, admin):
    reviewer = store.create_user(session, username="rita", password_hash="h1", role="reviewer")
    assert [u.username for u in store.list_users(session)] == ["admin", "rita"]
    assert store.get_user(session, user_id=reviewer.id).role == "reviewer"
    assert store.get_user_by_username(session, username="nobody") is None
    with pytest.raises(store.ConflictError, match="username 'rita' is taken"):
        store.create_user(session, username="rita", password_hash="h", role="annotator")
    with pytest.raises(store.InvalidInputError, match="role 'boss' does not exist; expected one"):
        store.create_user(session, username="bob", password_hash="h", role="boss")
    store.update_user(
        session, user=reviewer, role="annotator", is_active=False, password_hash="h2", actor=admin
    )
    fresh = store.get_user(session, user_id=reviewer.id)
    assert (fresh.role, fresh.is_active, fresh.password_hash) == ("annotator", False, "h2")
    last = session.exec(select(store.AuditEvent).order_by(store.AuditEvent.id.desc())).first()
    assert last.action == "user.update" and last.actor_id == admin.id
    assert last.payload == {
        "role": ["reviewer", "annotator"], "is_active": [True, False], "password": "changed"
    }  # fmt: skip
    with pytest.raises(store.NotFoundError, match="user 999 does not exist"):
        store.get_user(session, user_id=999)


def test_project_from_dataset_keeps_schema_classes_and_clips(session, admin, synth_dataset):
    ds = open_dataset(synth_dataset)
    project = store.create_project_from_dataset(
        session, name="smg-pilot", dataset_dir=synth_dataset, annotators_per_clip=2,
        consensus_rule="unanimous", actor=admin, media_root=synth_dataset,
    )  # fmt: skip
    assert store.project_schema(project) == ds.schema
    assert [
        (c.class_id, c.name, c.text) for c in store.project_classes(session, project=project)
    ] == [(c.id, c.name, c.text) for c in ds.classes]
    clips = store.list_clips(session, project=project, offset=0, limit=100)
    assert [c.clip_id for c in clips] == [c.clip_id for c in ds.clips()]
    first = next(ds.clips())
    assert (clips[0].video, clips[0].label, clips[0].split, clips[0].status) == (
        first.video, first.label, first.split, "unlabelled",
    )  # fmt: skip
    # stored relative to the media root; resolved back to the real file
    assert store.clip_video_path(project, clips[0]) == ds.video_path(first).resolve()
    assert store.clip_video_path(project, clips[0]).is_file()
    assert store.count_clips(session, project=project) == len(ds) == 12
    assert [c.clip_id for c in store.list_clips(session, project=project, offset=10, limit=5)] == [
        c.clip_id for c in list(ds.clips())[10:]
    ]
    assert store.get_project_by_name(session, name="smg-pilot").id == project.id
    assert {"project.create", "project.add_clips"} <= set(audit_actions(session))


def test_videos_outside_the_media_root_are_stored_absolute(session, admin, synth_dataset, tmp_path):
    project = store.create_project_from_dataset(
        session, name="elsewhere", dataset_dir=synth_dataset, actor=admin, media_root=tmp_path
    )
    clip = store.list_clips(session, project=project, limit=1)[0]
    assert clip.video == str((synth_dataset / "videos" / f"{clip.clip_id}.mp4").resolve())
    assert store.clip_video_path(project, clip).is_file()


def test_adding_clips_again_is_a_counted_no_op(session, admin, synth_dataset, tmp_path):
    bigger = tmp_path / "bigger"
    shutil.copytree(synth_dataset, bigger)
    rows = (bigger / "clips.jsonl").read_text().splitlines()
    extra = json.loads(rows[0]) | {"clip_id": "extra-1"}
    (bigger / "clips.jsonl").write_text("\n".join([*rows, json.dumps(extra)]) + "\n")
    info = json.loads((bigger / "dataset.json").read_text())
    info["splits"][extra["split"]] += 1
    (bigger / "dataset.json").write_text(json.dumps(info))

    project = store.create_project_from_dataset(
        session, name="p", dataset_dir=synth_dataset, annotators_per_clip=1, actor=admin,
        media_root=synth_dataset,
    )  # fmt: skip
    clip = store.list_clips(session, project=project, limit=1)[0]
    ann = store.create_user(session, username="a", password_hash="h", role="annotator")
    store.add_member(session, project=project, user=ann, actor=admin)
    labels = {
        "initiator": "head",
        "receiver": "none",
        "direction": "static",
        "motion_type": "shake",
    }
    store.submit_annotation(session, clip=clip, user=ann, attributes=labels)

    result = store.add_clips_from_dataset(session, project=project, dataset_dir=bigger, actor=admin)
    assert result == store.AddClipsResult(added=1, unchanged=12)
    assert store.count_clips(session, project=project) == 13
    again = store.add_clips_from_dataset(session, project=project, dataset_dir=bigger, actor=admin)
    assert again == store.AddClipsResult(added=0, unchanged=13)
    # the labelled clip is untouched
    assert store.clip_final_labels(session, clip=store.get_clip(session, clip_id=clip.id)) == (
        labels, "single",
    )  # fmt: skip


def test_adding_clips_with_other_classes_is_refused(session, admin, synth_dataset, tmp_path):
    project = store.create_project_from_dataset(
        session, name="p", dataset_dir=synth_dataset, actor=admin
    )
    other = tmp_path / "other"
    shutil.copytree(synth_dataset, other)
    info = json.loads((other / "dataset.json").read_text())
    info["classes"][1]["name"] = "waving"
    (other / "dataset.json").write_text(json.dumps(info))
    with pytest.raises(store.ConflictError, match="class 1 is 'waving' there but project 'p' has"):
        store.add_clips_from_dataset(session, project=project, dataset_dir=other, actor=admin)
    assert store.count_clips(session, project=project) == 12


def test_project_settings_are_checked(session, admin):
    classes = load_class_list("smg")[:2]
    with pytest.raises(store.InvalidInputError, match="annotators_per_clip is 0; expected"):
        store.create_project(
            session, name="x", schema=default_schema(), classes=classes, annotators_per_clip=0,
            actor=admin,
        )  # fmt: skip
    with pytest.raises(store.InvalidInputError, match="consensus rule 'most' is unknown"):
        store.create_project(
            session, name="x", schema=default_schema(), classes=classes, consensus_rule="most",
            actor=admin,
        )  # fmt: skip
    store.create_project(session, name="x", schema=default_schema(), classes=classes, actor=admin)
    with pytest.raises(store.ConflictError, match="project 'x' exists already"):
        store.create_project(
            session, name="x", schema=default_schema(), classes=classes, actor=admin
        )
    with pytest.raises(store.NotFoundError, match=r"project 'y' does not exist \(projects: 'x'\)"):
        store.get_project_by_name(session, name="y")


def test_members(session, admin, make_annotators):
    # which projects a user sees is annotator.policies: tests/annotator/test_policies.py
    classes = load_class_list("smg")[:2]
    mine = store.create_project(
        session, name="mine", schema=default_schema(), classes=classes, actor=admin
    )
    store.create_project(
        session, name="other", schema=default_schema(), classes=classes, actor=admin
    )
    (ann,) = make_annotators(1, mine)
    store.add_member(session, project=mine, user=ann, actor=admin)  # idempotent
    assert store.is_member(session, project=mine, user=ann)
    assert [p.name for p in store.list_projects(session)] == ["mine", "other"]
    assert audit_actions(session).count("project.add_member") == 1


def test_class_text_is_editable(session, admin):
    project = store.create_project(
        session, name="x", schema=default_schema(), classes=load_class_list("smg")[:2], actor=admin
    )
    store.update_class_text(
        session, project=project, class_id=1, text="Rubbing one's eyes.", actor=admin
    )
    texts = [c.text for c in store.project_classes(session, project=project)]
    assert texts[1] == "Rubbing one's eyes."
    with pytest.raises(store.NotFoundError, match="project 'x' has no class 7"):
        store.update_class_text(session, project=project, class_id=7, text="t", actor=admin)
