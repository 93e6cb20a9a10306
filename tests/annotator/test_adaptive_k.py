"""Adaptive k (dawid-skene projects with k_min and k_max): easy clips stop at k_min, unsure ones
get more annotators up to k_max, never more, also under concurrent requests."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
from sqlmodel import Session, select

from fgtext import store
from tests.annotator.conftest import DATASET, member_clients
from tests.annotator.test_annotations import RUB_EYES, next_clip, submit

# Four annotators who each see another body part: no posterior gets near a threshold.
SPLIT = [RUB_EYES | {"initiator": part} for part in ("head", "face", "neck", "shoulders")]

K_MIN, K_MAX = 2, 4


def _adaptive_project(admin, threshold: float = 0.95) -> dict:
    body = {"name": "adaptive", "dataset_dir": DATASET, "consensus_rule": "dawid-skene",
            "confidence_threshold": threshold, "k_min": K_MIN, "k_max": K_MAX}  # fmt: skip
    reply = admin.client.post("/api/v1/projects", json=body)
    assert reply.status_code == 201, reply.text
    project = reply.json()
    assert (project["k_min"], project["k_max"]) == (K_MIN, K_MAX)
    return project


def _join(admin, project, make_user, name: str):
    actor = make_user(name)
    reply = admin.client.post(f"/api/v1/projects/{project['id']}/members", json={"username": name})
    assert reply.status_code == 201
    return actor


def test_easy_clips_stop_at_k_min_and_unsure_ones_go_on_to_k_max(admin, make_user, engine):
    project = _adaptive_project(admin)
    team = [_join(admin, project, make_user, f"a{i}") for i in range(5)]
    easy = next_clip(team[0], project)
    assert submit(team[0], easy, RUB_EYES).status_code == 201
    assert next_clip(team[1], project)["id"] == easy["id"]  # fullest first
    assert submit(team[1], easy, RUB_EYES).status_code == 201  # agree: final at k_min
    with Session(engine) as session:
        assert store.get_clip(session, clip_id=easy["id"]).status == "consensus"
    hard = next_clip(team[2], project)
    assert hard["id"] != easy["id"]  # the decided clip is handed to nobody else
    for i, values in zip((2, 3, 4, 0), SPLIT, strict=True):
        clip = next_clip(team[i], project)
        assert clip["id"] == hard["id"]
        assert submit(team[i], clip, values).status_code == 201
    with Session(engine) as session:
        clip = store.get_clip(session, clip_id=hard["id"])
        assert clip.n_annotations == K_MAX and clip.status == "disputed"
    assert next_clip(team[1], project)["id"] not in (easy["id"], hard["id"])
    quality = admin.client.get(f"/api/v1/projects/{project['id']}/quality").json()
    assert sorted(quality["estimated"]) == ["a0", "a1", "a2", "a3", "a4"]  # refitted on read
    assert 0 < quality["estimated"]["a1"]["initiator"] <= 1
    member = _join(admin, project, make_user, "member")
    refused = submit(member, easy, RUB_EYES)
    assert refused.status_code == 409 and "already has its 2 annotators" in refused.json()["detail"]
    refused = submit(member, hard, RUB_EYES)
    assert refused.status_code == 409 and "already has its 4 annotators" in refused.json()["detail"]


def test_adaptive_k_is_for_the_dawid_skene_rule_with_k_min_at_most_k_max(admin):
    for extra, message in (
        ({"consensus_rule": "majority", "k_min": 2, "k_max": 3}, "needs the dawid-skene rule"),
        ({"consensus_rule": "dawid-skene", "k_min": 3, "k_max": 2}, "1 <= k_min <= k_max"),
        ({"consensus_rule": "dawid-skene", "k_min": 2}, "1 <= k_min <= k_max"),
    ):
        reply = admin.client.post(
            "/api/v1/projects", json={"name": "x", "dataset_dir": DATASET, **extra}
        )
        assert reply.status_code == 422 and message in reply.json()["detail"], reply.text


N_ANNOTATORS = 10


def test_concurrent_requests_never_hand_a_clip_to_more_than_k_max(
    live_server,
    admin,
    make_user,
    engine,
):
    project = _adaptive_project(admin)
    names = [f"annotator{i}" for i in range(N_ANNOTATORS)]
    clients = member_clients(live_server, admin, make_user, project["id"], names)
    start, leased = threading.Barrier(N_ANNOTATORS), threading.Barrier(N_ANNOTATORS)
    first_round: dict[str, int] = {}
    labelled: list[tuple[str, int]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def annotate(i: int, client: httpx.Client) -> None:
        values = RUB_EYES if i % 2 else SPLIT[i // 2 % 4]  # mixed: some clips need k_max
        start.wait()
        first, idle = True, 0
        while True:
            reply = client.post(f"/api/v1/projects/{project['id']}/next")
            if first:  # everyone holds a lease at once: 10 leases on 6 clips
                leased.wait()
                first = False
            if reply.status_code == 204:
                # nothing now; a clip another annotator holds may still want one more label
                idle += 1
                if idle > 40:
                    return
                time.sleep(0.05)
                continue
            idle = 0
            if reply.status_code != 200:
                failures.append(f"{i} next: {reply.status_code} {reply.text}")
                return
            clip_id = reply.json()["id"]
            with lock:
                first_round.setdefault(names[i], clip_id)
            done = client.post(f"/api/v1/clips/{clip_id}/annotations", json={"attributes": values})
            if done.status_code != 201:
                failures.append(f"{i} submit: {done.status_code} {done.text}")
                return
            with lock:
                labelled.append((names[i], clip_id))

    threads = [threading.Thread(target=annotate, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for client in clients:
        client.close()

    assert failures == []
    assert max(Counter(first_round.values()).values()) <= K_MAX
    per_clip = Counter(clip for _, clip in labelled)
    assert len(per_clip) == 6 and max(per_clip.values()) == K_MAX  # reached, never passed
    assert min(per_clip.values()) < K_MAX  # and some clips stopped early
    assert min(per_clip.values()) >= K_MIN and len(set(labelled)) == len(labelled)
    with Session(engine) as session:
        clips = session.exec(select(store.Clip)).all()
        for clip in clips:  # every clip decided: final where sure, disputed at k_max
            assert clip.n_annotations == per_clip[clip.id] <= K_MAX
            assert clip.status in ("consensus", "disputed")
            assert clip.status == "consensus" or clip.n_annotations == K_MAX
