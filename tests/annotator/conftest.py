"""Fixtures for the annotator's HTTP tests: a migrated database on SQLite and PostgreSQL (the
`database_url` fixture), a media root holding a tiny synthetic dataset, the app, users with
their own logged-in clients, and a project."""

from __future__ import annotations

import io
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlmodel import Session

from annotator.app import create_app
from annotator.auth import hash_password
from annotator.cli import main
from annotator.settings import Settings
from fgtext import store
from fgtext.synth import SynthConfig, synthesize
from tests.conftest import fresh_pg_database

PASSWORD = "correct horse battery"
DATASET = "synthetic"  # the dataset's folder inside the media root


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory) -> Path:
    """Six 1 s clips (2 classes x 3), rendered once per test session."""
    out = tmp_path_factory.mktemp("dataset") / DATASET
    config = SynthConfig(
        classes=2, clips_per_class=3, width=64, height=48, fps=10, seconds=1.0, annotators=0
    )
    return synthesize(out, config, workers=1)


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash once, reuse


@pytest.fixture
def media_root(tmp_path, synthetic_dataset) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    shutil.copytree(synthetic_dataset, root / DATASET)
    return root


@pytest.fixture
def settings(database_url, media_root) -> Settings:
    store.upgrade_database(database_url)
    return Settings(
        env="development", database_url=database_url, media_root=media_root, auto_upgrade=False
    )


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def engine(app):
    return app.state.engine


@dataclass
class Actor:
    """A user and a TestClient logged in as them (writes carry the CSRF header)."""

    user: store.User
    client: TestClient
    csrf: str


@pytest.fixture
def make_user(app, engine, password_hash) -> Iterator[Callable[..., Actor]]:
    clients: list[TestClient] = []

    def make(username: str, role: str = "annotator", *, login: bool = True) -> Actor:
        with Session(engine, expire_on_commit=False) as session:
            user = store.create_user(
                session, username=username, password_hash=password_hash, role=role
            )
        client = TestClient(app)
        clients.append(client)
        csrf = ""
        if login:
            reply = client.post(
                "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
            )
            assert reply.status_code == 200, reply.text
            csrf = reply.json()["csrf_token"]
            client.headers["X-CSRF-Token"] = csrf
        return Actor(user=user, client=client, csrf=csrf)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def admin(make_user) -> Actor:
    return make_user("ada", "admin")


@pytest.fixture
def project(admin) -> dict:
    """A k=2 majority project of the synthetic dataset, created through the API."""
    reply = admin.client.post(
        "/api/v1/projects",
        json={"name": "gestures", "dataset_dir": DATASET, "annotators_per_clip": 2},
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


@pytest.fixture
def member(make_user, admin, project) -> Callable[..., Actor]:
    """make_user, then add the user to `project`."""

    def make(username: str, role: str = "annotator") -> Actor:
        actor = make_user(username, role)
        reply = admin.client.post(
            f"/api/v1/projects/{project['id']}/members", json={"username": username}
        )
        assert reply.status_code == 201, reply.text
        return actor

    return make


@pytest.fixture
def cli(monkeypatch, media_root, capsys):
    """cli(*argv, stdin='') runs `fgtext-annotator` in-process: (exit code, stdout, stderr)."""
    monkeypatch.setenv("FGTEXT_MEDIA_ROOT", str(media_root))
    monkeypatch.delenv("FGTEXT_DATABASE_URL", raising=False)

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            main(list(argv))
            code = 0
        except SystemExit as exit_:
            code = exit_.code or 0
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def second_database_url(database_url, tmp_path) -> Iterator[str]:
    """Another fresh database on the same back end as `database_url`."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'world2.db'}"
        return
    with fresh_pg_database(database_url.rsplit("/", 1)[1] + "_2") as url:
        yield url


@contextmanager
def running(app) -> Iterator[str]:
    """`app` on a real uvicorn server on loopback, in a thread: its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(app):
    """The app on a real uvicorn server on loopback (its base URL), for concurrent clients."""
    with running(app) as url:
        yield url


def member_clients(
    base_url: str, admin: Actor, make_user: Callable[..., Actor], project_id: int, names
) -> list[httpx.Client]:
    """New annotators `names`, members of the project, each with an httpx client logged in to
    the live server at `base_url` (writes carry the CSRF header)."""
    clients = []
    for name in names:
        make_user(name, login=False)
        reply = admin.client.post(f"/api/v1/projects/{project_id}/members", json={"username": name})
        assert reply.status_code == 201
        client = httpx.Client(base_url=base_url, timeout=60)
        login = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert login.status_code == 200
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        clients.append(client)
    return clients
