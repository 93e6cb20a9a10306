"""`make run`'s demo: clips, a project, accounts that can log in, simulated labels that make a
dashboard and a review queue; reused on the next start; clear errors."""

from __future__ import annotations

import socket

from fastapi.testclient import TestClient
from sqlmodel import Session

from annotator.app import create_app
from annotator.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_PROJECT, prepare_demo
from annotator.settings import Settings
from fgtext import store
from fgtext.compose import compose_fg_text
from fgtext.schema import load_class_list


def test_demo_is_ready_to_use_and_reused(tmp_path):
    folder = tmp_path / "demo"
    built = prepare_demo(folder, classes=2, clips_per_class=4, prelabelled=3)
    assert built.created and (built.clips, built.prelabelled) == (8, 3)
    engine = store.create_db_engine(built.database_url)
    with Session(engine) as session:
        project = store.get_project_by_name(session, name=DEMO_PROJECT)
        members = {u.username for u in store.project_members(session, project=project)}
        assert {"alice", "bob", "reviewer"} <= members
        progress = store.project_progress(session, project=project)
        assert progress["annotations"] == 6  # two simulated annotators x 3 clips
        simulated = [u for u in store.list_users(session) if u.username.startswith("sim-")]
        assert len(simulated) == 2 and not any(u.is_active for u in simulated)
    engine.dispose()

    settings = Settings(env="development", database_url=built.database_url, media_root=folder)
    app = create_app(settings)
    for username, role, _ in DEMO_ACCOUNTS:
        client = TestClient(app)
        reply = client.post(
            "/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD}
        )
        assert reply.status_code == 200 and reply.json()["user"]["role"] == role
    client = TestClient(app)
    login = client.post(
        "/login", data={"username": "alice", "password": DEMO_PASSWORD},
        headers={"Origin": "http://testserver"},  # the login page's own form, as a browser sends it
    )  # fmt: skip
    assert login.status_code == 200
    csrf = client.get("/api/v1/auth/me").json()["csrf_token"]
    clip = client.post(
        f"/api/v1/projects/{built.project_id}/next", headers={"X-CSRF-Token": csrf}
    ).json()
    assert client.get(clip["media_url"]).status_code == 200  # the video plays
    # suggestions at once: the synthetic classes are SMG's, with SMG's typical combinations
    offered = client.get(f"/api/v1/clips/{clip['id']}/suggestions").json()
    typical = load_class_list("smg")[clip["label"]].attributes
    assert offered["mode"] == "at_once"
    assert [
        (s["index"], s["source"], s["attributes"], s["score"]) for s in offered["suggestions"]
    ] == [(i, "class", dict(a), None) for i, a in enumerate(typical)]
    assert offered["suggestions"][0]["text"] == compose_fg_text(typical[0])
    app.state.engine.dispose()

    again = prepare_demo(folder)
    assert not again.created and again.project_id == built.project_id and again.clips == 8


def test_demo_command_prints_accounts_and_refuses_a_busy_port(cli, tmp_path):
    code, out, err = cli("demo", "--dir", str(tmp_path / "d"), "--prepare-only")
    assert code == 0, err
    assert "Demo created" in out and DEMO_PASSWORD in out
    for username, role, _ in DEMO_ACCOUNTS:
        assert username in out and role in out
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = cli("demo", "--dir", str(tmp_path / "d"), "--port", str(port))
    assert code == 1 and f"port {port} on 127.0.0.1 is in use" in err
    assert len(err.strip().splitlines()) == 1
