"""Gold clips: hidden from annotators through every route, mixed in at the project's rate,
measured per annotator and dimension; left out of agreement and of the export's annotations."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from fgtext import store
from fgtext.dataset import open_dataset
from fgtext.stats import binomial_interval
from tests.annotator.conftest import DATASET
from tests.annotator.test_annotations import RUB_EYES, TOUCH_NECK, _unzip, next_clip, submit
from tests.annotator.test_blindness import World, _assert_same, _client, _everything, _world_app

# Truth of the first clip in the gold world: Ann is right on three dimensions, Bo on one.
TRUTH = {"initiator": "right_hand", "receiver": "eyes", "direction": "static",
         "motion_type": "rub"}  # fmt: skip


def _build_world(url: str, media_root: Path, password_hash: str, *, gold: bool) -> World:
    """Ann and Bo label the first clip (disagreeing), Ann holds the second. The project mixes
    in gold at rate 1 in both worlds; only in the gold world is the first clip gold."""
    app, admin = _world_app(url, media_root, password_hash)
    body = {"name": "p", "dataset_dir": DATASET, "annotators_per_clip": 2, "gold_rate": 1.0}
    pid = admin.post("/api/v1/projects", json=body).json()["id"]
    for name in ("ann", "bo"):
        assert admin.post(f"/api/v1/projects/{pid}/members", json={"username": name}).is_success
    first = admin.get(f"/api/v1/projects/{pid}/clips").json()[0]["id"]
    if gold:
        marked = admin.put(f"/api/v1/clips/{first}/gold", json={"attributes": TRUTH})
        assert marked.status_code == 200, marked.text
    ann, csrf = _client(app, "ann")
    bo, _ = _client(app, "bo")
    clip = ann.post(f"/api/v1/projects/{pid}/next").json()
    assert clip["id"] == first
    mine = ann.post(f"/api/v1/clips/{first}/annotations", json={"attributes": RUB_EYES})
    assert bo.post(f"/api/v1/projects/{pid}/next").json()["id"] == first
    theirs = bo.post(f"/api/v1/clips/{first}/annotations", json={"attributes": TOUCH_NECK})
    assert mine.status_code == theirs.status_code == 201
    ids = {"project_id": pid, "clip_id": first, "annotation_id": mine.json()["id"]}
    return World(app=app, ann=ann, csrf=csrf, ids=ids, bos_annotation=theirs.json()["id"])


def test_an_annotator_cannot_tell_a_gold_clip_from_another(
    database_url, second_database_url, media_root, password_hash
):
    worlds = [
        _build_world(database_url, media_root, password_hash, gold=False),
        _build_world(second_database_url, media_root, password_hash, gold=True),
    ]
    try:
        plain, gold = worlds
        for world, status in ((plain, "disputed"), (gold, "gold")):  # they differ where it matters
            with Session(world.app.state.engine) as session:
                assert store.get_clip(session, clip_id=world.ids["clip_id"]).status == status
        views = [_everything(w) for w in worlds]
        _assert_same(*views)
        pid = plain.ids["project_id"]
        for route in ("gold", "settings", "quality", "review"):  # not for annotators
            assert views[1][f"/api/v1/projects/{pid}/{route}"][0] == 403
        assert views[1]["next"][0] == 200

        url = f"/api/v1/annotations/{plain.ids['annotation_id']}"
        edit = {"attributes": TOUCH_NECK, "version": 1}
        _assert_same(*[{"edit": w.request("PUT", url, json=edit)} for w in worlds])
        _assert_same(*[_everything(w) for w in worlds])
        refused = [{"withdraw": w.request("DELETE", url)} for w in worlds]
        assert refused[0]["withdraw"][0] == 409  # full in both: k = 2 labels
        _assert_same(*refused)
        _assert_same(*[_everything(w) for w in worlds])
        clip = f"/api/v1/clips/{plain.ids['clip_id']}"
        _assert_same(*[{"mark": w.request("PUT", f"{clip}/gold", json={"attributes": TRUTH})}
                       for w in worlds])  # fmt: skip
    finally:
        for world in worlds:
            world.ann.close()
            world.app.state.engine.dispose()


def _mark(admin, clip_id: int, values: dict) -> None:
    reply = admin.client.put(f"/api/v1/clips/{clip_id}/gold", json={"attributes": values})
    assert reply.status_code == 200, reply.text
    assert reply.json()["attributes"] == values


def test_gold_accuracy_equals_a_hand_count(admin, project, member):
    ann, bo, rita = member("ann"), member("bo"), member("rita", "reviewer")
    clips = admin.client.get(f"/api/v1/projects/{project['id']}/clips").json()
    first, second = clips[0]["id"], clips[1]["id"]
    _mark(admin, first, TRUTH)
    _mark(admin, second, TOUCH_NECK)
    labels = [  # (labeller, clip, values)
        (ann, first, RUB_EYES),  # right on initiator, receiver, motion_type
        (ann, second, TOUCH_NECK),  # right on all four
        (bo, first, TOUCH_NECK),  # right on direction only
    ]
    for who, clip_id, values in labels:
        assert submit(who, {"id": clip_id}, values).status_code == 201
    assert submit(bo, clips[2], RUB_EYES).status_code == 201  # an ordinary clip: not counted

    assert ann.client.get(f"/api/v1/projects/{project['id']}/quality").status_code == 403
    reply = rita.client.get(f"/api/v1/projects/{project['id']}/quality")
    assert reply.status_code == 200
    assert reply.json()["estimated"] is None  # a majority project has no model
    report = reply.json()["gold"]
    assert report["gold_clips"] == 2
    by_name = {row["username"]: row for row in report["annotators"]}
    assert sorted(by_name) == ["ann", "bo"]
    expected = {
        "ann": {"initiator": 2, "receiver": 2, "direction": 1, "motion_type": 2, "tuple": 1},
        "bo": {"initiator": 0, "receiver": 0, "direction": 1, "motion_type": 0, "tuple": 0},
    }
    for name, right in expected.items():
        n = 2 if name == "ann" else 1
        assert by_name[name]["gold_labels"] == n
        for dimension, correct in right.items():
            score = by_name[name]["accuracy"][dimension]
            assert score["labels"] == n and score["correct"] == correct
            assert score["accuracy"] == pytest.approx(correct / n)
            assert score["ci95"] == pytest.approx(list(binomial_interval(correct, n)))
    assert by_name["ann"]["accuracy"]["initiator"]["ci95"][0] > 0.3  # 2 of 2: Wilson, not 1


def test_gold_turns_follow_the_rate_and_fall_back(admin, project, member, engine):
    """Ann labels every clip alone: at each turn the pool `is_gold_turn` draws goes first."""
    ann = member("ann")
    pid = project["id"]
    assert admin.client.patch(
        f"/api/v1/projects/{pid}/settings", json={"gold_rate": 0.5}
    ).json() == {"gold_rate": 0.5, "suggestion_mode": "off"}
    clips = [c["id"] for c in admin.client.get(f"/api/v1/projects/{pid}/clips").json()]
    gold = set(clips[3:])
    for clip_id in gold:
        _mark(admin, clip_id, TRUTH)
    handed, left = [], list(clips)
    for turn in range(len(clips)):
        gold_turn = store.is_gold_turn(pid, ann.user.id, turn, 0.5)
        preferred = [c for c in left if (c in gold) == gold_turn] or left
        clip = next_clip(ann, project)
        assert clip["id"] == preferred[0], f"turn {turn}"
        handed.append(clip["id"])
        left.remove(clip["id"])
        assert submit(ann, clip, RUB_EYES).status_code == 201
    assert next_clip(ann, project) is None and sorted(handed) == clips


def test_the_gold_rate_is_the_share_of_gold_turns():
    for rate in (0.05, 0.2):
        share = sum(store.is_gold_turn(1, 7, t, rate) for t in range(20000)) / 20000
        lo, hi = binomial_interval(round(rate * 20000), 20000, level=0.999)
        assert lo <= share <= hi
    assert not any(store.is_gold_turn(1, 7, t, 0.0) for t in range(1000))
    assert all(store.is_gold_turn(1, 7, t, 1.0) for t in range(1000))


def test_gold_is_measurement_not_data(admin, project, member, tmp_path):
    """Not in the review queue, not adjudicated, not in agreement nor in the export's
    annotations; exported with status gold and its values; unmarked, it is data again."""
    ann, bo = member("ann"), member("bo")
    pid = project["id"]
    clip = next_clip(ann, project)
    _mark(admin, clip["id"], TRUTH)
    assert submit(ann, clip, RUB_EYES).status_code == 201
    assert next_clip(bo, project)["id"] == clip["id"]  # the same rules as any clip
    assert submit(bo, clip, TOUCH_NECK).status_code == 201
    assert admin.client.get(f"/api/v1/projects/{pid}/review").json() == []
    review = admin.client.get(f"/api/v1/clips/{clip['id']}/annotations").json()
    assert review["status"] == "gold" and review["final"] == TRUTH
    decision = {"attributes": RUB_EYES, "reason": "looks like rubbing"}
    refused = admin.client.post(f"/api/v1/clips/{clip['id']}/adjudication", json=decision)
    assert refused.status_code == 409 and "gold" in refused.json()["detail"]
    assert admin.client.get(f"/api/v1/projects/{pid}/agreement").json()["n_labels"] == 0
    progress = admin.client.get(f"/api/v1/projects/{pid}/progress").json()
    assert progress["by_status"]["gold"] == 1 and progress["remaining"] == 5

    exported = admin.client.get(f"/api/v1/projects/{pid}/export")
    ds = open_dataset(_unzip(exported.content, tmp_path / "out") / "gestures")
    (row,) = list(ds.clips())
    assert row.status == "gold" and dict(row.attributes) == TRUTH and row.annotations == []

    assert admin.client.delete(f"/api/v1/clips/{clip['id']}/gold").status_code == 204
    assert admin.client.delete(f"/api/v1/clips/{clip['id']}/gold").status_code == 404
    queue = admin.client.get(f"/api/v1/projects/{pid}/review").json()
    assert [r["clip"]["id"] for r in queue] == [clip["id"]]  # disputed: data again
    assert admin.client.get(f"/api/v1/projects/{pid}/agreement").json()["n_labels"] == 2
    assert admin.client.get(f"/api/v1/projects/{pid}/gold").json() == []


def test_only_admins_mark_gold_and_bad_input_is_a_clear_4xx(admin, project, member):
    ann, rita = member("ann"), member("rita", "reviewer")
    clip = admin.client.get(f"/api/v1/projects/{project['id']}/clips").json()[0]
    url = f"/api/v1/clips/{clip['id']}/gold"
    for who in (ann, rita):
        assert who.client.put(url, json={"attributes": TRUTH}).status_code == 403
        assert who.client.delete(url).status_code == 403
    bad = admin.client.put(url, json={"attributes": TRUTH | {"receiver": "moon"}})
    assert bad.status_code == 422 and bad.json()["dimension"] == "receiver"
    assert admin.client.delete(url).status_code == 404
    settings = f"/api/v1/projects/{project['id']}/settings"
    for rate in (1.5, -0.1, "a lot"):
        assert admin.client.patch(settings, json={"gold_rate": rate}).status_code == 422
    assert rita.client.get(settings).json() == {"gold_rate": 0.0, "suggestion_mode": "off"}
    assert rita.client.patch(settings, json={"gold_rate": 0.1}).status_code == 403
    create = {"name": "q", "dataset_dir": DATASET, "gold_rate": 2}
    assert admin.client.post("/api/v1/projects", json=create).status_code == 422


def test_import_gold_takes_the_datasets_gold_clips(admin, media_root):
    truth = {c.clip_id: dict(c.attributes) for c in open_dataset(media_root / DATASET).clips()}
    for import_gold, expected in ((False, {}), (True, truth)):
        body = {"name": f"gold-{import_gold}", "dataset_dir": DATASET, "import_gold": import_gold}
        pid = admin.client.post("/api/v1/projects", json=body).json()["id"]
        listed = admin.client.get(f"/api/v1/projects/{pid}/gold").json()
        assert {g["clip"]["clip_id"]: g["attributes"] for g in listed} == expected


def test_the_gold_command_marks_a_datasets_gold_clips(cli, media_root, settings, admin, project):
    dataset = str(media_root / DATASET)
    code, out, _ = cli("gold", "gestures", "--from", dataset, "--db", settings.database_url)
    assert code == 0 and "6 gold clips in gestures" in out
    assert len(admin.client.get(f"/api/v1/projects/{project['id']}/gold").json()) == 6
    code, _, err = cli("gold", "nope", "--from", dataset, "--db", settings.database_url)
    assert code == 1 and "project 'nope' does not exist" in err
