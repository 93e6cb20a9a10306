"""Concurrent annotators against a real uvicorn server on loopback: no clip over-assigned,
no annotation lost."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest
import uvicorn

from tests.annotator.conftest import PASSWORD

N_ANNOTATORS = 8
ATTRIBUTES = {"initiator": "right_hand", "receiver": "eyes", "direction": "back_and_forth",
              "motion_type": "rub"}  # fmt: skip


@pytest.fixture
def live_server(app):
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
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_concurrent_next_clip_never_over_assigns(live_server, admin, project, make_user):
    k, n_clips = project["annotators_per_clip"], 6
    names = [f"annotator{i}" for i in range(N_ANNOTATORS)]
    for name in names:
        make_user(name, login=False)
        reply = admin.client.post(
            f"/api/v1/projects/{project['id']}/members", json={"username": name}
        )
        assert reply.status_code == 201
    clients = []
    for name in names:
        client = httpx.Client(base_url=live_server, timeout=60)
        login = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert login.status_code == 200
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        clients.append(client)

    start, leased = threading.Barrier(N_ANNOTATORS), threading.Barrier(N_ANNOTATORS)
    first_round: dict[str, int] = {}
    labelled: list[tuple[str, int]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def annotate(name: str, client: httpx.Client) -> None:
        start.wait()  # everyone asks for their first clip at the same moment
        first = True
        while True:
            reply = client.post(f"/api/v1/projects/{project['id']}/next")
            if first:  # and holds it until everyone has one: 8 leases on 6 clips x k=2
                leased.wait()
                first = False
            if reply.status_code == 204:
                return
            if reply.status_code != 200:
                failures.append(f"{name} next: {reply.status_code} {reply.text}")
                return
            clip_id = reply.json()["id"]
            with lock:
                first_round.setdefault(name, clip_id)
            done = client.post(
                f"/api/v1/clips/{clip_id}/annotations", json={"attributes": ATTRIBUTES}
            )
            if done.status_code != 201:
                failures.append(f"{name} submit: {done.status_code} {done.text}")
                return
            with lock:
                labelled.append((name, clip_id))

    threads = [
        threading.Thread(target=annotate, args=pair) for pair in zip(names, clients, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for client in clients:
        client.close()

    assert failures == []
    # The first, simultaneous round: at most k annotators got any one clip.
    assert len(first_round) == N_ANNOTATORS
    assert max(Counter(first_round.values()).values()) <= k
    # In the end every clip has exactly k annotations, each from a different annotator.
    per_clip = Counter(clip for _, clip in labelled)
    assert len(per_clip) == n_clips and set(per_clip.values()) == {k}
    assert len(set(labelled)) == len(labelled) == n_clips * k
    progress = admin.client.get(f"/api/v1/projects/{project['id']}/progress").json()
    assert progress["annotations"] == n_clips * k
    assert progress["final"] == n_clips
