"""Assignment, submitting and editing labels, blindness, review and export, through the API."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fgtext.dataset import open_dataset

RUB_EYES = {"initiator": "right_hand", "receiver": "eyes", "direction": "back_and_forth",
            "motion_type": "rub"}  # fmt: skip
TOUCH_NECK = {"initiator": "left_hand", "receiver": "neck", "direction": "static",
              "motion_type": "touch"}  # fmt: skip


def next_clip(actor, project) -> dict | None:
    reply = actor.client.post(f"/api/v1/projects/{project['id']}/next")
    assert reply.status_code in (200, 204), reply.text
    return reply.json() if reply.status_code == 200 else None


def submit(actor, clip, attributes, **extra):
    return actor.client.post(
        f"/api/v1/clips/{clip['id']}/annotations", json={"attributes": attributes, **extra}
    )


def test_label_a_clip_resubmit_idempotently_and_edit_with_versions(project, member):
    ivan = member("ivan")
    clip = next_clip(ivan, project)
    assert next_clip(ivan, project) == clip  # asking again renews the same lease
    first = submit(ivan, clip, RUB_EYES, note="fast", seconds_spent=4.5)
    assert first.status_code == 201
    stored = first.json()
    assert (stored["attributes"], stored["version"], stored["note"]) == (RUB_EYES, 1, "fast")
    assert stored["user_id"] == ivan.user.id and stored["clip_id"] == clip["id"]
    assert stored["created_at"].endswith("Z")  # UTC on every back end

    again = submit(ivan, clip, RUB_EYES, note="fast", seconds_spent=4.5)
    assert again.json()["id"] == stored["id"] and again.json()["version"] == 1
    different = submit(ivan, clip, TOUCH_NECK)
    assert different.status_code == 409 and "edit" in different.json()["detail"]

    path = f"/api/v1/annotations/{stored['id']}"
    edited = ivan.client.put(path, json={"attributes": TOUCH_NECK, "version": 1})
    assert edited.status_code == 200
    assert (edited.json()["attributes"], edited.json()["version"]) == (TOUCH_NECK, 2)
    # A second tab still at version 1: refused, and the stored label is unchanged.
    stale = ivan.client.put(path, json={"attributes": RUB_EYES, "version": 1})
    assert stale.status_code == 409
    assert "version 2" in stale.json()["detail"]
    now = ivan.client.get(path).json()
    assert (now["attributes"], now["version"]) == (TOUCH_NECK, 2)

    mine = ivan.client.get(f"/api/v1/projects/{project['id']}/annotations/mine").json()
    assert [(a["id"], a["attributes"]) for a in mine] == [(stored["id"], TOUCH_NECK)]
    assert next_clip(ivan, project)["id"] != clip["id"]  # labelled clips are not offered again


def test_values_outside_the_schema_are_422_naming_dimension_and_allowed_values(project, member):
    ivan = member("ivan")
    clip = next_clip(ivan, project)
    reply = submit(ivan, clip, RUB_EYES | {"motion_type": "wiggle"})
    assert reply.status_code == 422
    body = reply.json()
    allowed = list(project["schema"]["dimensions"]["motion_type"]["values"])
    assert (body["dimension"], body["value"], body["allowed"]) == ("motion_type", "wiggle", allowed)
    assert "motion_type" in body["detail"] and "'wiggle'" in body["detail"]
    assert "rub, scratch" in body["detail"]  # the allowed values, in the message too
    missing = submit(ivan, clip, {k: v for k, v in RUB_EYES.items() if k != "receiver"})
    assert missing.status_code == 422 and missing.json()["dimension"] == "receiver"
    extra = submit(ivan, clip, RUB_EYES | {"speed": "fast"})
    assert extra.status_code == 422 and "speed" in extra.json()["detail"]
    shape = ivan.client.post(f"/api/v1/clips/{clip['id']}/annotations", json={"attributes": "rub"})
    assert shape.status_code == 422  # not an object: the request model refuses it
    assert ivan.client.get(f"/api/v1/projects/{project['id']}/annotations/mine").json() == []


def test_annotation_is_blind(project, member, make_user):
    ivan, jana = member("ivan"), member("jana")
    outsider = make_user("olga")
    clip = next_clip(ivan, project)
    mine = submit(ivan, clip, RUB_EYES).json()
    path = f"/api/v1/annotations/{mine['id']}"
    for other in (jana, outsider):
        for reply in (
            other.client.get(path),
            other.client.put(path, json={"attributes": TOUCH_NECK, "version": 1}),
        ):
            assert reply.status_code == 404
            assert reply.json() == {"detail": f"annotation {mine['id']} does not exist"}
        assert other.client.get(f"/api/v1/clips/{clip['id']}/annotations").status_code in (403, 404)
    assert jana.client.get(f"/api/v1/projects/{project['id']}/annotations/mine").json() == []
    # Outside one's projects a clip does not exist, its video neither.
    assert outsider.client.get(f"/api/v1/clips/{clip['id']}").status_code == 404
    assert outsider.client.get(f"/media/{clip['id']}").status_code == 404
    assert submit(outsider, clip, RUB_EYES).status_code == 404
    assert ivan.client.get(path).json()["attributes"] == RUB_EYES  # still intact
    # Reviewers read everyone's labels, but only in their own projects, and edit none.
    rita, rex = member("rita", "reviewer"), make_user("rex", "reviewer")
    assert rita.client.get(path).json()["attributes"] == RUB_EYES
    edit = rita.client.put(path, json={"attributes": TOUCH_NECK, "version": 1})
    assert edit.status_code == 403 and "ivan" in edit.json()["detail"]
    assert rex.client.get(path).status_code == 404
    assert rex.client.get(f"/api/v1/clips/{clip['id']}/annotations").status_code == 404
    assert rex.client.get(f"/api/v1/projects/{project['id']}/agreement").status_code == 404


def test_skip_and_nothing_left_is_204(project, member):
    ivan = member("ivan")
    seen = []
    while (clip := next_clip(ivan, project)) is not None:
        seen.append(clip["id"])
        if len(seen) % 2:
            reply = ivan.client.post(
                f"/api/v1/clips/{clip['id']}/skip", json={"reason": "too dark"}
            )
            assert reply.status_code == 204
        else:
            assert submit(ivan, clip, RUB_EYES).status_code == 201
    assert len(seen) == len(set(seen)) == 6  # every clip once, skipped ones never again
    no_reason = ivan.client.post(f"/api/v1/clips/{seen[0]}/skip", json={"reason": ""})
    assert no_reason.status_code == 422


def test_review_agreement_adjudication_and_export(admin, project, member, tmp_path):
    ivan, jana = member("ivan"), member("jana")
    rita = member("rita", "reviewer")
    pid = project["id"]
    # Both label every clip; they disagree on the direction of the first one they share.
    labelled = {}
    for actor in (ivan, jana):
        while (clip := next_clip(actor, project)) is not None:
            values = dict(RUB_EYES)
            if actor is jana and not labelled.get("disputed"):
                values["direction"] = "circular"
                labelled["disputed"] = clip["id"]
            assert submit(actor, clip, values).status_code == 201
    disputed = labelled["disputed"]

    queue = rita.client.get(f"/api/v1/projects/{pid}/review").json()
    assert [c["clip"]["id"] for c in queue] == [disputed]
    (item,) = queue
    assert item["status"] == "disputed" and item["final"] is None
    assert sorted((a["username"], a["attributes"]["direction"]) for a in item["annotations"]) == [
        ("ivan", "back_and_forth"), ("jana", "circular")
    ]  # fmt: skip
    assert ivan.client.get(f"/api/v1/projects/{pid}/review").status_code == 403
    assert rita.client.get(f"/api/v1/projects/{pid}/review?offset=1").json() == []

    agreement = rita.client.get(f"/api/v1/projects/{pid}/agreement")
    assert agreement.status_code == 200
    dims = agreement.json()["dimensions"]
    assert dims["initiator"]["percent_agreement"]["value"] == 1.0
    assert abs(dims["direction"]["percent_agreement"]["value"] - 5 / 6) < 1e-9
    assert ivan.client.get(f"/api/v1/projects/{pid}/agreement").status_code == 403

    bad = rita.client.post(
        f"/api/v1/clips/{disputed}/adjudication",
        json={"attributes": RUB_EYES | {"direction": "sideways"}, "reason": "watched it"},
    )
    assert bad.status_code == 422 and bad.json()["dimension"] == "direction"
    decided = rita.client.post(
        f"/api/v1/clips/{disputed}/adjudication",
        json={"attributes": RUB_EYES | {"direction": "circular"}, "reason": "watched it twice"},
    )
    assert decided.status_code == 200 and decided.json()["reviewer_id"] == rita.user.id
    view = rita.client.get(f"/api/v1/clips/{disputed}/annotations").json()
    assert view["status"] == "adjudicated" and view["final"]["direction"] == "circular"
    assert rita.client.get(f"/api/v1/projects/{pid}/review").json() == []
    denied = ivan.client.post(
        f"/api/v1/clips/{disputed}/adjudication", json={"attributes": RUB_EYES, "reason": "mine"}
    )
    assert denied.status_code == 403

    assert rita.client.get(f"/api/v1/projects/{pid}/export").status_code == 403
    reply = admin.client.get(f"/api/v1/projects/{pid}/export")
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/zip"
    assert 'filename="gestures.zip"' in reply.headers["content-disposition"]
    out = _unzip(reply.content, tmp_path)
    ds = open_dataset(out / "gestures")
    clips = {c.clip_id: c for c in ds.clips()}
    assert len(clips) == 6
    by_db_id = {
        c["id"]: c["clip_id"] for c in admin.client.get(f"/api/v1/projects/{pid}/clips").json()
    }
    for db_id, name in by_db_id.items():
        clip = clips[name]
        if db_id == disputed:
            assert clip.status == "adjudicated" and clip.attributes["direction"] == "circular"
        else:
            assert clip.status == "consensus" and clip.attributes == RUB_EYES
        assert sorted(a.annotator for a in clip.annotations) == ["ivan", "jana"]


def _unzip(content: bytes, out: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        z.extractall(out)
    return out


def test_export_of_unfinished_clips_is_optional(admin, project, member, tmp_path):
    ivan = member("ivan")
    clip = next_clip(ivan, project)
    submit(ivan, clip, RUB_EYES)
    pid = project["id"]
    finished = _unzip(admin.client.get(f"/api/v1/projects/{pid}/export").content, tmp_path / "a")
    assert len(list(open_dataset(finished / "gestures").clips())) == 0
    everything = admin.client.get(f"/api/v1/projects/{pid}/export?include_unfinished=true")
    ds = open_dataset(_unzip(everything.content, tmp_path / "b") / "gestures")
    statuses = sorted(c.status for c in ds.clips())
    assert statuses == ["unlabelled"] * 6
    # with the videos: the zip alone is a complete dataset
    reply = admin.client.get(
        f"/api/v1/projects/{pid}/export?include_unfinished=true&include_videos=true"
    )
    carried = open_dataset(_unzip(reply.content, tmp_path / "c") / "gestures")
    for clip in carried.clips():
        assert clip.video.startswith("videos/")
        assert carried.video_path(clip).stat().st_size > 1000  # an mp4, inside the download


def test_submit_and_withdraw_on_every_clip_cannot_block_a_third_annotator(project, member):
    """The hoarding attack, through the API: two annotators of the k=2 project label every clip
    without asking for it and withdraw the label at once, twice over; a third still gets work."""
    ivan, jana, olga = member("ivan"), member("jana"), member("olga")
    clips = ivan.client.get(f"/api/v1/projects/{project['id']}/clips").json()
    for _ in range(2):
        for clip in clips:
            for actor in (ivan, jana):
                label = submit(actor, clip, RUB_EYES)
                assert label.status_code == 201, label.text
                undone = actor.client.delete(f"/api/v1/annotations/{label.json()['id']}")
                assert undone.status_code == 200, undone.text
    handed = []
    while (clip := next_clip(olga, project)) is not None:
        handed.append(clip["id"])
        assert submit(olga, clip, RUB_EYES).status_code == 201
    # only the last clip, given back to both of them, stays reserved
    assert handed == [c["id"] for c in clips[:-1]]
