"""`fgtext-annotator`: create-user, create-project, add-member, serve; mistakes are one line."""

from __future__ import annotations

import os
import subprocess
import sys

from fastapi.testclient import TestClient
from sqlmodel import Session

from annotator.app import create_app
from annotator.settings import Settings
from fgtext import store
from tests.annotator.conftest import DATASET


def _users(database_url: str) -> dict[str, str]:
    engine = store.create_db_engine(database_url)
    try:
        with Session(engine) as session:
            return {u.username: u.role for u in store.list_users(session)}
    finally:
        engine.dispose()


def test_first_admin_then_a_project_with_members_then_login(cli, database_url, media_root):
    store.upgrade_database(database_url)
    db = ("--db", database_url)
    code, out, err = cli("create-user", "ada", "--role", "admin", "--password-stdin", *db,
                         stdin="a long password\n")  # fmt: skip
    assert (code, err) == (0, "") and "Created admin ada" in out
    code, out, _ = cli("create-user", "ivan", "--password-stdin", *db, stdin="ivans password\n")
    assert code == 0 and "Created annotator ivan" in out
    assert _users(database_url) == {"ada": "admin", "ivan": "annotator"}

    code, out, err = cli("create-project", "gestures", "--from", str(media_root / DATASET),
                         "--k", "3", "--rule", "unanimous", "--member", "ivan", *db)  # fmt: skip
    assert (code, err) == (0, "")
    assert "Created project gestures" in out and "6 clips" in out and "k=3" in out
    code, out, _ = cli("create-user", "jana", "--password-stdin", *db, stdin="janas password\n")
    code, out, err = cli("add-member", "gestures", "jana", *db)
    assert (code, err) == (0, "") and "jana is a member of gestures" in out

    app = create_app(Settings(database_url=database_url, media_root=media_root, auto_upgrade=False))
    client = TestClient(app)
    login = client.post(
        "/api/v1/auth/login", json={"username": "jana", "password": "janas password"}
    )
    assert login.status_code == 200
    (project,) = client.get("/api/v1/projects").json()
    assert (project["name"], project["annotators_per_clip"], project["consensus_rule"]) == (
        "gestures", 3, "unanimous"
    )  # fmt: skip
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    assert client.post(f"/api/v1/projects/{project['id']}/next").status_code == 200


def _one_line_error(code: int, err: str) -> str:
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_mistakes_are_one_line_and_exit_1(cli, database_url, media_root, tmp_path):
    store.upgrade_database(database_url)
    db = ("--db", database_url)
    line = _one_line_error(*cli("create-user", "x", "--role", "king", "--password-stdin", *db,
                                stdin="long enough\n")[::2])  # fmt: skip
    assert "--role 'king'" in line and "admin, reviewer, annotator" in line
    line = _one_line_error(*cli("create-user", "x", "--password-stdin", *db, stdin="short\n")[::2])
    assert "at least 8 characters" in line
    line = _one_line_error(*cli("create-user", "x", "--password-stdin", *db, stdin="")[::2])
    assert "stdin was empty" in line
    cli("create-user", "ada", "--password-stdin", *db, stdin="a long password\n")
    line = _one_line_error(*cli("create-user", "ada", "--password-stdin", *db,
                                stdin="a long password\n")[::2])  # fmt: skip
    assert "'ada' is taken" in line
    line = _one_line_error(*cli("create-project", "p", "--from", str(tmp_path), *db)[::2])
    assert "outside the media root" in line
    line = _one_line_error(*cli("create-project", "p", "--from", str(media_root / DATASET),
                                "--rule", "plurality", *db)[::2])  # fmt: skip
    assert "plurality" in line
    line = _one_line_error(*cli("create-project", "p", "--from", str(media_root / DATASET),
                                "--member", "nobody", *db)[::2])  # fmt: skip
    assert "user 'nobody' does not exist" in line
    line = _one_line_error(*cli("add-member", "nothing", "ada", *db)[::2])
    assert "project 'nothing' does not exist" in line
    line = _one_line_error(
        *cli("create-user", "x", "--db", "mysql://h/db", stdin="long enough\n")[::2]
    )
    assert "mysql" in line


def test_serve_refuses_an_outdated_database_with_the_upgrade_command(
    cli, database_url, monkeypatch
):
    monkeypatch.setenv("FGTEXT_AUTO_UPGRADE", "false")
    line = _one_line_error(*cli("serve", "--db", database_url)[::2])
    assert "fgtext db upgrade --db " in line


def test_serve_refuses_a_placeholder_secret_in_production(cli, monkeypatch):
    monkeypatch.setenv("FGTEXT_ENV", "production")
    monkeypatch.setenv("FGTEXT_SECRET_KEY", "changethis")
    line = _one_line_error(*cli("serve")[::2])
    assert "FGTEXT_SECRET_KEY must be set" in line


def test_the_installed_command_runs(tmp_path):
    """The console script's module entry point (no traceback, exit 1 on a mistake)."""
    done = subprocess.run(
        [sys.executable, "-m", "annotator.cli", "add-member", "p", "u",
         "--db", f"sqlite:///{tmp_path / 'new.db'}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("error: project 'p' does not exist")
    assert "Traceback" not in done.stderr


def test_serve_listens_and_answers(tmp_path):
    """`fgtext-annotator serve` on loopback: the embedded SQLite is created and migrated."""
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "FGTEXT_MEDIA_ROOT": str(tmp_path)}
    env.pop("FGTEXT_DATABASE_URL", None)
    env.pop("FGTEXT_ENV", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "annotator.cli", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.2)
        assert reply.status_code == 200 and reply.json()["info"]["title"] == "FG-Text annotator"
        assert (tmp_path / "fgtext.db").is_file()  # the default sqlite:///./fgtext.db
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=20)
    assert f"FG-Text annotator on http://127.0.0.1:{port}" in out
