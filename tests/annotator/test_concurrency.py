"""Concurrent annotators against a real uvicorn server on loopback: no clip over-assigned,
no annotation lost."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
from sqlalchemy import func
from sqlmodel import Session, select

from fgtext.store import Lease
from tests.annotator.conftest import PASSWORD, member_clients

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
