"""Projects from dataset folders, members, clips, and user management, through the API."""

from __future__ import annotations

from fgtext.dataset import open_dataset
from tests.annotator.conftest import DATASET


def test_admin_creates_a_project_from_a_dataset_in_the_media_root(admin, project, media_root):
    ds = open_dataset(media_root / DATASET)
    assert project["name"] == "gestures" and project["annotators_per_clip"] == 2
    assert project["consensus_rule"] == "majority"
    assert project["schema"]["dimensions"].keys() == {
        "initiator", "receiver", "direction", "motion_type"
    }  # fmt: skip
    assert [(c["id"], c["name"], c["text"]) for c in project["classes"]] == [
        (c.id, c.name, c.text) for c in ds.classes
    ]
    clips = admin.client.get(f"/api/v1/projects/{project['id']}/clips").json()
    assert sorted(c["clip_id"] for c in clips) == sorted(c.clip_id for c in ds.clips())
    assert all(c["media_url"] == f"/media/{c['id']}" for c in clips)
    listed = admin.client.get("/api/v1/projects").json()
    assert [p["name"] for p in listed] == ["gestures"]


def test_dataset_dir_outside_the_media_root_is_refused(admin, tmp_path, synthetic_dataset):
    for outside in (str(synthetic_dataset), "../", "../" + DATASET, "nonexistent"):
        reply = admin.client.post("/api/v1/projects", json={"name": "x", "dataset_dir": outside})
        assert reply.status_code == 422, outside
        assert "media root" in reply.json()["detail"]
    nul = admin.client.post("/api/v1/projects", json={"name": "x", "dataset_dir": "a\x00b"})
    assert nul.status_code == 422 and nul.json()["detail"][0]["loc"] == ["body", "dataset_dir"]


def test_duplicate_project_name_is_409_and_bad_settings_are_422(admin, project):
    again = admin.client.post("/api/v1/projects", json={"name": "gestures", "dataset_dir": DATASET})
    assert again.status_code == 409 and "gestures" in again.json()["detail"]
    bad = admin.client.post(
        "/api/v1/projects",
        json={"name": "y", "dataset_dir": DATASET, "consensus_rule": "plurality"},
    )
    assert bad.status_code == 422


def test_adding_clips_again_leaves_existing_ones(admin, project):
    reply = admin.client.post(
        f"/api/v1/projects/{project['id']}/clips", json={"dataset_dir": DATASET}
    )
    assert reply.status_code == 201
    assert (reply.json()["added"], reply.json()["unchanged"]) == (0, 6)


def test_annotators_see_only_their_projects(admin, project, make_user, member):
    outsider = make_user("olga")
    insider = member("ivan")
    assert outsider.client.get("/api/v1/projects").json() == []
    assert [p["id"] for p in insider.client.get("/api/v1/projects").json()] == [project["id"]]
    for path in ("", "/clips", "/progress", "/annotations/mine"):
        reply = outsider.client.get(f"/api/v1/projects/{project['id']}{path}")
        assert reply.status_code == 404, path
        assert reply.json()["detail"] == f"project {project['id']} does not exist"
    assert outsider.client.post(f"/api/v1/projects/{project['id']}/next").status_code == 404
    # Hidden looks exactly like missing.
    missing = outsider.client.get("/api/v1/projects/999")
    assert (missing.status_code, missing.json()) == (404, {"detail": "project 999 does not exist"})
    # A member who is not an admin cannot change the project.
    create = insider.client.post("/api/v1/projects", json={"name": "z", "dataset_dir": DATASET})
    assert create.status_code == 403 and "admin" in create.json()["detail"]
    add = insider.client.post(
        f"/api/v1/projects/{project['id']}/members", json={"username": "olga"}
    )
    assert add.status_code == 403


def test_admin_manages_users_and_no_response_carries_a_password_hash(admin, make_user):
    created = admin.client.post(
        "/api/v1/users",
        json={"username": "rita", "password": "a long password", "role": "reviewer"},
    )
    assert created.status_code == 201
    rita = created.json()
    assert rita["role"] == "reviewer" and rita["is_active"] is True
    assert "password" not in str(rita)
    taken = admin.client.post(
        "/api/v1/users", json={"username": "rita", "password": "another password"}
    )
    assert taken.status_code == 409
    short = admin.client.post("/api/v1/users", json={"username": "sam", "password": "short"})
    assert short.status_code == 422

    changed = admin.client.patch(f"/api/v1/users/{rita['id']}", json={"role": "annotator"})
    assert changed.json()["role"] == "annotator"
    listed = admin.client.get("/api/v1/users").json()
    assert {u["username"]: u["role"] for u in listed} == {"ada": "admin", "rita": "annotator"}
    assert all("password_hash" not in u for u in listed)

    # The new password works, the old one does not.
    admin.client.patch(f"/api/v1/users/{rita['id']}", json={"password": "a new long password"})
    login = admin.client.post  # any client; login is exempt from CSRF
    assert (
        login(
            "/api/v1/auth/login", json={"username": "rita", "password": "a long password"}
        ).status_code
        == 401
    )

    # Annotators manage nobody; an admin cannot lock themselves out.
    bea = make_user("bea")
    assert bea.client.get("/api/v1/users").status_code == 403
    assert (
        bea.client.patch(f"/api/v1/users/{rita['id']}", json={"role": "admin"}).status_code == 403
    )
    self_lock = admin.client.patch(f"/api/v1/users/{admin.user.id}", json={"is_active": False})
    assert self_lock.status_code == 403
    assert admin.client.patch("/api/v1/users/999", json={"role": "admin"}).status_code == 404


def test_progress_shows_annotators_only_their_own_row(admin, project, member):
    ivan, jana = member("ivan"), member("jana")
    pid = project["id"]
    for actor, value in ((ivan, "right_hand"), (jana, "left_hand")):
        clip = actor.client.post(f"/api/v1/projects/{pid}/next").json()
        attributes = _valid_attributes(project) | {"initiator": value}
        reply = actor.client.post(
            f"/api/v1/clips/{clip['id']}/annotations", json={"attributes": attributes}
        )
        assert reply.status_code == 201, reply.text
    full = admin.client.get(f"/api/v1/projects/{pid}/progress").json()
    assert full["clips"] == 6 and full["annotations"] == 2
    assert [a["username"] for a in full["annotators"]] == ["ivan", "jana"]
    mine = ivan.client.get(f"/api/v1/projects/{pid}/progress").json()
    assert mine["clips"] == 6 and [a["username"] for a in mine["annotators"]] == ["ivan"]


def _valid_attributes(project: dict) -> dict[str, str]:
    return {d: next(iter(spec["values"])) for d, spec in project["schema"]["dimensions"].items()}
