"""Blind by inference: nothing an annotator can request changes when another annotator agrees
or disagrees with them.

Two worlds are built the same way (each its own database and app), except that the other
annotator, Bo, gives Ann's values in one and different values in the other. Ann then requests
every GET route of the app (enumerated from `app.routes`, so a new route cannot be missed) and
asks for her next clip; then edits her label (which flips agreement in both worlds) and asks
again; then withdraws it and asks again. Every answer, the edit's and the withdrawal's too, must
be byte for byte the same in both worlds once CSRF tokens and timestamps are normalised.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session
from starlette.routing import Mount

from annotator.app import create_app
from annotator.settings import Settings
from fgtext import store
from tests.annotator.conftest import DATASET, PASSWORD
from tests.annotator.test_web import RUB_EYES, TOUCH_NECK
from tests.conftest import PG_ADMIN, _pg_admin_connection, _sqlalchemy_url

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?")


@pytest.fixture
def second_database_url(database_url, tmp_path) -> Iterator[str]:
    """Another fresh database on the same back end as `database_url`."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'world2.db'}"
        return
    name = database_url.rsplit("/", 1)[1] + "_2"
    with _pg_admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _sqlalchemy_url(PG_ADMIN, name)
    finally:
        with _pg_admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class World:
    app: FastAPI
    ann: TestClient
    csrf: str
    ids: dict[str, int]  # the path parameters of Ann's requests

    def request(self, method: str, url: str, **kw) -> tuple[int, str, bytes]:
        """(status, content type, body with Ann's CSRF token and timestamps normalised)."""
        reply = self.ann.request(method, url, **kw)
        body = reply.content
        if "video" not in reply.headers.get("content-type", ""):
            text = reply.text.replace(self.csrf, "<csrf>")
            body = TIMESTAMP.sub("<time>", text).encode()
        return reply.status_code, reply.headers.get("content-type", ""), body


def _client(app: FastAPI, username: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    reply = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    csrf = reply.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = csrf
    return client, csrf


def _build_world(url: str, media_root: Path, password_hash: str, bo_values: dict) -> World:
    """Ann labels the first clip, Bo labels it with `bo_values`, Ann holds the second clip."""
    store.upgrade_database(url)
    settings = Settings(
        env="development", database_url=url, media_root=media_root, auto_upgrade=False
    )
    app = create_app(settings)
    with Session(app.state.engine) as session:
        for name, role in (("ada", "admin"), ("ann", "annotator"), ("bo", "annotator")):
            store.create_user(session, username=name, password_hash=password_hash, role=role)
    admin, _ = _client(app, "ada")
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
    return World(app=app, ann=ann, csrf=csrf, ids=ids)


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
