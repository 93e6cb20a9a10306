"""Blind by inference: nothing an annotator can request changes when another annotator agrees
or disagrees with them; and reviewers who also label never label a clip whose labels they saw.

Two worlds are built the same way (each its own database and app), except that the other
annotator, Bo, gives Ann's values in one and different values in the other. Ann then requests
every GET route of the app (enumerated from `app.routes`, so a new route cannot be missed) and
asks for her next clip; then edits her label (which flips agreement in both worlds) and asks
again; then tries to withdraw it (refused alike: the clip has all its labels) and asks again.
Every answer, the edit's and the withdrawal's too, must be byte for byte the same in both
worlds once CSRF tokens and timestamps are normalised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from starlette.routing import Mount

from annotator.app import create_app
from annotator.settings import Settings
from fgtext import store
from fgtext.store import AuditEvent, Lease
from tests.annotator.conftest import DATASET, PASSWORD
from tests.annotator.test_annotations import RUB_EYES, TOUCH_NECK, next_clip, submit

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?")


@dataclass
class World:
    app: FastAPI
    ann: TestClient
    csrf: str
    ids: dict[str, int]  # the path parameters of Ann's requests
    bos_annotation: int

    def request(self, method: str, url: str, **kw) -> tuple[int, str, bytes]:
        """(status, content type, body with Ann's CSRF token and timestamps normalised)."""
        reply = self.ann.request(method, url, **kw)
        body = reply.content
        if "video" not in reply.headers.get("content-type", ""):
            text = reply.text.replace(self.csrf, "<csrf>")
            body = TIMESTAMP.sub("<time>", text).encode()
        return reply.status_code, reply.headers.get("content-type", ""), body


def _world_app(url: str, media_root: Path, password_hash: str) -> tuple[FastAPI, TestClient]:
    """A fresh app on database `url` with Ada (admin), Ann and Bo (annotators); Ada's client."""
    store.upgrade_database(url)
    settings = Settings(
        env="development", database_url=url, media_root=media_root, auto_upgrade=False
    )
    app = create_app(settings)
    with Session(app.state.engine) as session:
        for name, role in (("ada", "admin"), ("ann", "annotator"), ("bo", "annotator")):
            store.create_user(session, username=name, password_hash=password_hash, role=role)
    return app, _client(app, "ada")[0]


def _client(app: FastAPI, username: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    reply = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    csrf = reply.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = csrf
    return client, csrf


def _build_world(url: str, media_root: Path, password_hash: str, bo_values: dict) -> World:
    """Ann labels the first clip, Bo labels it with `bo_values`, Ann holds the second clip."""
    app, admin = _world_app(url, media_root, password_hash)
    project = admin.post(
        "/api/v1/projects", json={"name": "p", "dataset_dir": DATASET, "annotators_per_clip": 2}
    ).json()
    pid = project["id"]
    for name in ("ann", "bo"):
        assert admin.post(f"/api/v1/projects/{pid}/members", json={"username": name}).is_success
    ann, csrf = _client(app, "ann")
    bo, _ = _client(app, "bo")
    clip = ann.post(f"/api/v1/projects/{pid}/next").json()
    mine = ann.post(f"/api/v1/clips/{clip['id']}/annotations", json={"attributes": RUB_EYES})
    assert bo.post(f"/api/v1/projects/{pid}/next").json()["id"] == clip["id"]
    theirs = bo.post(f"/api/v1/clips/{clip['id']}/annotations", json={"attributes": bo_values})
    assert mine.status_code == theirs.status_code == 201
    ids = {"project_id": pid, "clip_id": clip["id"], "annotation_id": mine.json()["id"]}
    return World(app=app, ann=ann, csrf=csrf, ids=ids, bos_annotation=theirs.json()["id"])


def _get_routes(app: FastAPI) -> list[str]:
    """Every GET path of the app (FastAPI's included routers flattened; static files aside)."""
    paths = []
    for route in app.routes:
        contexts = (
            route.effective_route_contexts()
            if hasattr(route, "effective_route_contexts")
            else [route]
        )
        paths += [c.path for c in contexts if not isinstance(c, Mount) and "GET" in c.methods]
    return paths


def _urls(world: World) -> list[str]:
    urls = []
    for path in _get_routes(world.app):
        names = set(re.findall(r"{(\w+)}", path))
        assert names <= world.ids.keys(), f"{path}: teach this test the ids of {names}"
        urls.append(path.format(**world.ids))
    pid, clip = world.ids["project_id"], world.ids["clip_id"]
    urls += [  # the query variants an annotator's pages use
        f"/projects/{pid}/annotate?clip={clip}",
        f"/api/v1/projects/{pid}/clips?offset=1&limit=2",
        f"/api/v1/projects/{pid}/fg-text?initiator=shoulders",
        f"/api/v1/annotations/{world.bos_annotation}",  # hidden: 404 in both worlds
    ]
    return urls


def _everything(world: World) -> dict[str, tuple[int, str, bytes]]:
    """Ann's view: every GET route, then her next clip."""
    seen = {url: world.request("GET", url) for url in _urls(world)}
    seen["next"] = world.request("POST", f"/api/v1/projects/{world.ids['project_id']}/next")
    return seen


def _assert_same(agree: dict, disagree: dict) -> None:
    assert agree.keys() == disagree.keys()
    differ = [url for url in agree if agree[url] != disagree[url]]
    assert differ == [], f"these answers tell Ann whether Bo agreed: {differ}"


def test_nothing_ann_sees_depends_on_whether_bo_agreed(
    database_url, second_database_url, media_root, password_hash
):
    worlds = [
        _build_world(database_url, media_root, password_hash, RUB_EYES),  # Bo agrees
        _build_world(second_database_url, media_root, password_hash, TOUCH_NECK),  # disagrees
    ]
    try:
        agree, disagree = worlds
        with Session(agree.app.state.engine) as session:  # the worlds differ where it matters
            assert store.get_clip(session, clip_id=agree.ids["clip_id"]).status == "consensus"
        with Session(disagree.app.state.engine) as session:
            assert store.get_clip(session, clip_id=disagree.ids["clip_id"]).status == "disputed"
        views = [_everything(w) for w in worlds]
        _assert_same(*views)
        routes = views[1]
        pid = agree.ids["project_id"]
        assert routes[f"/api/v1/projects/{pid}/review"][0] == 403  # reviewers' routes: refused
        assert routes[f"/api/v1/annotations/{disagree.bos_annotation}"][0] == 404  # Bo's: hidden
        assert routes[f"/projects/{pid}/annotate"][0] == 200  # Ann's own: shown
        assert b"disputed" not in routes[f"/projects/{pid}/annotate"][2]

        # Ann edits her label to Bo's values in the disagreeing world (and away from them in
        # the agreeing one): the edit's answer and everything after it stay the same.
        url = f"/api/v1/annotations/{agree.ids['annotation_id']}"
        edit = {"attributes": TOUCH_NECK, "version": 1}
        _assert_same(*[{"edit": w.request("PUT", url, json=edit)} for w in worlds])
        _assert_same(*[_everything(w) for w in worlds])

        _assert_same(*[{"withdraw": w.request("DELETE", url)} for w in worlds])
        _assert_same(*[_everything(w) for w in worlds])
    finally:
        for world in worlds:
            world.ann.close()
            world.app.state.engine.dispose()


# -- reviewers who label --------------------------------------------------------------------


def _views(engine, user_id: int, action: str = store.LABELS_VIEW) -> list[str]:
    with Session(engine) as session:
        return session.exec(
            select(AuditEvent.entity_id).where(
                AuditEvent.actor_id == user_id, AuditEvent.action == action
            )
        ).all()


def test_a_reviewer_may_not_label_a_clip_whose_labels_they_opened(project, member, engine):
    ivan, rita = member("ivan"), member("rita", "reviewer")
    clip = next_clip(ivan, project)
    assert submit(ivan, clip, RUB_EYES).status_code == 201
    assert next_clip(rita, project)["id"] == clip["id"]  # fullest first: rita holds its lease
    shown = rita.client.get(f"/api/v1/clips/{clip['id']}/annotations")
    assert shown.status_code == 200 and shown.json()["annotations"][0]["username"] == "ivan"
    assert rita.client.get(f"/clips/{clip['id']}/review").status_code == 200  # again: one event
    assert _views(engine, rita.user.id) == [str(clip["id"])]

    refused = submit(rita, clip, RUB_EYES)
    assert refused.status_code == 403
    assert "would not be blind" in refused.json()["detail"]
    handed = next_clip(rita, project)  # the lease on the clip she saw is dropped
    assert handed["id"] != clip["id"]
    with Session(engine) as session:
        leases = session.exec(select(Lease).where(Lease.user_id == rita.user.id)).all()
        assert [lease.clip_id for lease in leases] == [handed["id"]]
    home = rita.client.get("/").text
    assert re.search(r'data-testid="remaining">5<', home)  # six clips, one seen
    # an annotator's queue is untouched by what a reviewer saw
    assert next_clip(member("jana"), project)["id"] == clip["id"]


def test_a_reviewers_own_label_freezes_once_they_see_the_others(project, member, engine):
    rita, ivan = member("rita", "reviewer"), member("ivan")
    clip = next_clip(rita, project)
    mine = submit(rita, clip, RUB_EYES).json()
    assert next_clip(ivan, project)["id"] == clip["id"]
    theirs = submit(ivan, clip, TOUCH_NECK).json()
    url = f"/api/v1/annotations/{mine['id']}"
    edit = {"attributes": TOUCH_NECK, "version": 1}
    # before she looks, she may still change her mind
    assert rita.client.put(url, json=edit | {"attributes": RUB_EYES}).status_code == 200
    assert rita.client.get(f"/api/v1/annotations/{theirs['id']}").status_code == 200  # a look
    assert _views(engine, rita.user.id) == [str(clip["id"])]
    for reply in (rita.client.put(url, json=edit), rita.client.delete(url)):
        assert reply.status_code == 403 and "would not be blind" in reply.json()["detail"]
    page = rita.client.get(f"/projects/{project['id']}/annotate?clip={clip['id']}")
    assert page.status_code == 403 and "would not be blind" in page.text
    assert rita.client.get(url).json()["attributes"] == RUB_EYES  # still hers, unchanged
    # the review queue lists the clip with both labels: seen, and logged once
    queue = rita.client.get(f"/api/v1/projects/{project['id']}/review").json()
    assert [row["clip"]["id"] for row in queue] == [clip["id"]]
    assert rita.client.get(f"/projects/{project['id']}/review").status_code == 200
    assert _views(engine, rita.user.id) == [str(clip["id"])]


def test_an_exporter_may_not_label_the_project_any_more(project, member, admin, engine):
    ivan = member("ivan")
    clip = next_clip(ivan, project)
    assert submit(ivan, clip, RUB_EYES).status_code == 201
    assert next_clip(admin, project)["id"] == clip["id"]  # admins label too, until ...
    exported = admin.client.get(f"/api/v1/projects/{project['id']}/export?include_unfinished=1")
    assert exported.status_code == 200
    assert _views(engine, admin.user.id, store.LABELS_EXPORT) == [str(project["id"])]
    assert next_clip(admin, project) is None  # ... they have every label of the project
    assert submit(admin, clip, RUB_EYES).status_code == 403
    assert next_clip(ivan, project) is not None  # annotators carry on
