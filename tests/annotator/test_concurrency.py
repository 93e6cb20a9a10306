"""Concurrent annotators against a real uvicorn server on loopback: no clip over-assigned,
no annotation lost."""

from __future__ import annotations

import threading
import time
from collections import Counter

import anyio.to_thread
import httpx
from sqlalchemy import func
from sqlmodel import Session, select

from annotator.app import create_app
from fgtext.store import Lease
from fgtext.store import db as db_module
from tests.annotator.conftest import PASSWORD, member_clients, running

N_ANNOTATORS = 8
ATTRIBUTES = {"initiator": "right_hand", "receiver": "eyes", "direction": "back_and_forth",
              "motion_type": "rub"}  # fmt: skip


def test_concurrent_next_clip_never_over_assigns(live_server, admin, project, make_user):
    k, n_clips = project["annotators_per_clip"], 6
    names = [f"annotator{i}" for i in range(N_ANNOTATORS)]
    clients = member_clients(live_server, admin, make_user, project["id"], names)

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


def test_concurrent_next_and_withdraw_of_one_user_leave_one_lease(
    live_server, admin, project, member, engine
):
    """Eight requests at a time from one annotator, asking for the next clip or labelling a
    clip and withdrawing the label: at no committed moment do they hold two leases."""
    member("ivan")
    clips = admin.client.get(f"/api/v1/projects/{project['id']}/clips").json()
    n_threads, rounds = 8, 6
    failures: list[str] = []
    most = 0
    done = threading.Event()

    def count_leases() -> None:
        nonlocal most
        while not done.is_set():
            with Session(engine) as session:
                n = session.exec(select(func.count()).select_from(Lease)).one()
            most = max(most, n)

    def work(i: int) -> None:
        with httpx.Client(base_url=live_server, timeout=60) as client:
            login = client.post(
                "/api/v1/auth/login", json={"username": "ivan", "password": PASSWORD}
            )
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            start.wait()
            for _ in range(rounds):
                if i % 2 == 0:
                    replies = [client.post(f"/api/v1/projects/{project['id']}/next")]
                else:
                    clip = clips[i % len(clips)]
                    url = f"/api/v1/clips/{clip['id']}/annotations"
                    label = client.post(url, json={"attributes": ATTRIBUTES})
                    replies = [label]
                    if label.status_code == 201:
                        replies.append(client.delete(f"/api/v1/annotations/{label.json()['id']}"))
                failures.extend(
                    f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}"
                    for r in replies
                    if r.status_code not in (200, 201, 204, 404, 409)
                )

    start = threading.Barrier(n_threads)
    monitor = threading.Thread(target=count_leases)
    monitor.start()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    monitor.join(timeout=10)

    assert failures == []
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Lease)).one() <= 1
    assert most == 1  # the monitor saw the lease, and never a second


class FewThreads:
    """The app with its thread pool cut to `n` threads (set inside the server's event loop)."""

    def __init__(self, app, n: int) -> None:
        self.app, self.n = app, n

    async def __call__(self, scope, receive, send) -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.n
        await self.app(scope, receive, send)


def test_more_requests_than_threads_and_connections_never_stall(
    settings, admin, project, make_user, monkeypatch
):
    """Eight annotators against two threads and a pool of two connections. A request used to
    keep its connection (an open read) while it waited for its next thread, so a writer holding
    the SQLite writers' lock could wait for the pool until its 30 s timeout: every request
    then stalled. Now connections are held only inside threads."""
    monkeypatch.setattr(db_module, "POOL_SIZE", 2)
    monkeypatch.setattr(db_module, "POOL_OVERFLOW", 0)
    app = create_app(settings)
    names = [f"annotator{i}" for i in range(N_ANNOTATORS)]
    failures: list[str] = []
    started = time.monotonic()
    with running(FewThreads(app, 2)) as url:
        clients = member_clients(url, admin, make_user, project["id"], names)

        def annotate(client: httpx.Client) -> None:
            for _ in range(3):
                try:
                    reply = client.post(f"/api/v1/projects/{project['id']}/next", timeout=20)
                    if reply.status_code == 204:
                        return
                    done = client.post(
                        f"/api/v1/clips/{reply.json()['id']}/annotations",
                        json={"attributes": ATTRIBUTES}, timeout=20,
                    )  # fmt: skip
                    assert done.status_code == 201, done.text
                except (httpx.HTTPError, AssertionError) as exc:
                    failures.append(repr(exc))
                    return

        threads = [threading.Thread(target=annotate, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in clients:
            c.close()
    app.state.engine.dispose()
    assert failures == []
    assert time.monotonic() - started < 30
