"""The browser UI over HTTP (both database back ends): login and logout forms, page access by
role, error pages, what each page shows; and the endpoints the pages use: undo (withdraw),
the live FG-Text sentence and the video's frame rate. The browser itself: tests/e2e."""

from __future__ import annotations

import random
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from fgtext import store
from fgtext.compose import compose_fg_text
from fgtext.store import AuditEvent
from tests.annotator.conftest import DATASET, PASSWORD
from tests.annotator.test_annotations import RUB_EYES, TOUCH_NECK, next_clip, submit


def page_login(client: TestClient, username: str, password: str = PASSWORD, next_url="/"):
    return client.post(
        "/login",
        data={"username": username, "password": password, "next": next_url},
        headers={"Origin": "http://testserver"},  # a browser's, posting from the login page
        follow_redirects=False,
    )


def csrf_of(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


# -- login and logout -----------------------------------------------------------------------


def test_login_form_redirects_back_and_logout_needs_the_token(app, make_user):
    make_user("lena", login=False)
    client = TestClient(app)
    first = client.get("/projects/1/mine", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/login?next=/projects/1/mine"
    form = client.get(first.headers["location"])
    assert form.status_code == 200 and 'name="next" value="/projects/1/mine"' in form.text

    wrong = page_login(client, "lena", "not the password")
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
    assert 'value="lena"' in wrong.text  # the username is kept
    assert client.get("/", follow_redirects=False).status_code == 303  # still logged out
    empty = page_login(client, "lena", "")
    assert empty.status_code == 400 and "Enter your username and password." in empty.text

    ok = page_login(client, "lena", next_url="/projects/1/mine")
    assert ok.status_code == 303 and ok.headers["location"] == "/projects/1/mine"
    home = client.get("/")
    assert home.status_code == 200 and "lena" in home.text and "No projects yet" in home.text

    refused = client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still logged in
    out = client.post("/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login?logged_out=1"
    assert client.get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "javascript:x"])
def test_login_never_redirects_off_site(app, make_user, target):
    make_user("lena", login=False)
    reply = page_login(TestClient(app), "lena", next_url=target)
    assert reply.status_code == 303 and reply.headers["location"] == "/"


def test_login_form_is_rate_limited_like_the_api(app, make_user):
    make_user("lena", login=False)
    client = TestClient(app)
    for _ in range(app.state.settings.login_max_failures):
        assert page_login(client, "lena", "wrong password").status_code == 401
    limited = page_login(client, "lena")  # even the right password waits
    assert limited.status_code == 429 and "Too many failed logins" in limited.text


def test_a_deactivated_user_is_sent_to_the_login_page(admin, member):
    ivan = member("ivan")
    assert ivan.client.get("/").status_code == 200
    admin.client.patch(f"/api/v1/users/{ivan.user.id}", json={"is_active": False})
    reply = ivan.client.get("/", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/login"


# -- pages by role --------------------------------------------------------------------------


def test_annotators_get_error_pages_for_what_they_may_not_see(project, member):
    ivan = member("ivan")
    pid = project["id"]
    for path, code in [(f"/projects/{pid}/agreement", 403), (f"/projects/{pid}/review", 403),
                       ("/admin", 403), (f"/admin/projects/{pid}", 403),
                       ("/projects/999/annotate", 404), ("/clips/1/review", 403)]:  # fmt: skip
        reply = ivan.client.get(path)
        assert reply.status_code == code, path
        assert reply.headers["content-type"].startswith("text/html")
        assert f'<p class="big-code" aria-hidden="true">{code}</p>' in reply.text
    # the JSON API keeps answering JSON
    api = ivan.client.get("/api/v1/projects/999")
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"
    unknown = ivan.client.get("/no-such-page")
    assert unknown.status_code == 404 and "Not found" in unknown.text


def test_edit_page_shows_only_ones_own_label(project, member):
    ivan, jane = member("ivan"), member("jane")
    clip = next_clip(ivan, project)
    submit(ivan, clip, RUB_EYES)
    mine = ivan.client.get(f"/projects/{project['id']}/annotate?clip={clip['id']}")
    assert mine.status_code == 200 and '"annotation": {' in mine.text
    others = jane.client.get(f"/projects/{project['id']}/annotate?clip={clip['id']}")
    assert others.status_code == 404
    assert "you have not labelled this clip" in others.text and "back_and_forth" not in others.text


def test_annotator_pages_show_progress_and_labels(project, member):
    ivan = member("ivan")
    clip = next_clip(ivan, project)
    submit(ivan, clip, RUB_EYES, seconds_spent=7.5, unsure=True)
    home = ivan.client.get("/").text
    assert re.search(r'data-testid="done">1<', home) and re.search(
        r'data-testid="remaining">5<', home
    )
    page = ivan.client.get(f"/projects/{project['id']}/mine").text
    assert compose_fg_text(RUB_EYES) in page and "7.5 s" in page and "unsure" in page
    annotate = ivan.client.get(f"/projects/{project['id']}/annotate").text
    assert 'id="count-done" data-testid="count-done">1<' in annotate
    # the four choice groups come from the project's schema, every value a labelled radio
    assert annotate.count('role="radiogroup"') == 4
    assert 'data-value="back_and_forth">back and forth</button>' in annotate
    assert "Agreement" not in re.search(r'<nav class="topnav".*?</nav>', annotate, re.S).group(0)


def test_reviewer_and_admin_pages(project, member, admin, engine):
    ivan, jane, rita = member("ivan"), member("jane"), member("rita", "reviewer")
    pid = project["id"]
    empty = rita.client.get(f"/projects/{pid}/agreement")
    assert empty.status_code == 200 and "No labels yet" in empty.text
    clip = next_clip(ivan, project)
    submit(ivan, clip, RUB_EYES)
    assert next_clip(jane, project)["id"] == clip["id"]
    submit(jane, clip, TOUCH_NECK)

    dashboard = rita.client.get(f"/projects/{pid}/agreement?dimension=receiver")
    assert dashboard.status_code == 200
    with Session(engine) as session:
        report = store.project_agreement(
            session, project=store.get_project(session, project_id=pid)
        )
    assert re.search(r'data-testid="n-labels">2<', dashboard.text)
    pct = report["dimensions"]["receiver"]["percent_agreement"]["value"]
    assert f"{100 * pct:.1f}%" in dashboard.text
    assert 'id="alpha-chart"' in dashboard.text and dashboard.text.count('class="heat"') == 3
    assert 'aria-current="true">receiver</a>' in dashboard.text
    bad = rita.client.get(f"/projects/{pid}/agreement?dimension=colour")
    assert bad.status_code == 422 and "expected one of initiator" in bad.text

    queue = rita.client.get(f"/projects/{pid}/review").text
    assert f'href="/clips/{clip["id"]}/review"' in queue
    review = rita.client.get(f"/clips/{clip['id']}/review").text
    assert "ivan" in review and "jane" in review
    assert review.count('<tr class="diff">') == 4  # they disagree on every dimension
    assert '"next_url": "/projects/' in review

    admin_page = admin.client.get("/admin").text
    assert "gestures" in admin_page and 'aria-label="Role of ivan"' in admin_page
    manage = admin.client.get(f"/admin/projects/{pid}").text
    assert f'action="/api/v1/projects/{pid}/export"' in manage
    assert re.search(r"<td>ivan</td><td class=\"num\">1</td>", manage)
    reviewer_admin = rita.client.get("/admin")
    assert reviewer_admin.status_code == 403


# -- the endpoints the pages use ------------------------------------------------------------


def test_undo_withdraws_and_hands_the_clip_back(project, member, engine):
    ivan, jane = member("ivan"), member("jane")
    clip = next_clip(ivan, project)
    stored = submit(ivan, clip, RUB_EYES, seconds_spent=3.0).json()

    assert jane.client.delete(f"/api/v1/annotations/{stored['id']}").status_code == 404  # blind
    undone = ivan.client.delete(f"/api/v1/annotations/{stored['id']}")
    assert undone.status_code == 200 and undone.json()["id"] == clip["id"]
    assert ivan.client.get(f"/api/v1/annotations/{stored['id']}").status_code == 404
    assert next_clip(ivan, project)["id"] == clip["id"]  # leased back to its author
    with Session(engine) as session:
        row = store.get_clip(session, clip_id=clip["id"])
        assert (row.status, row.n_annotations) == ("unlabelled", 0)
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "annotation.withdraw")
        ).one()
        assert event.payload["attributes"] == RUB_EYES and event.payload["seconds_spent"] == 3.0
    again = submit(ivan, clip, TOUCH_NECK)
    assert again.status_code == 201 and again.json()["attributes"] == TOUCH_NECK


@pytest.mark.parametrize("theirs", ["agree", "disagree", "decided"])
def test_undo_is_refused_alike_once_the_clip_has_all_its_labels(project, member, theirs):
    """Whether the clip is final, disputed or decided by a reviewer, the annotator's undo gets
    the same answer: a different one would tell them whether the others agreed."""
    ivan, jane, rita = member("ivan"), member("jane"), member("rita", "reviewer")
    clip = next_clip(ivan, project)
    mine = submit(ivan, clip, RUB_EYES).json()
    submit(jane, next_clip(jane, project), RUB_EYES if theirs == "agree" else TOUCH_NECK)
    if theirs == "decided":
        decided = rita.client.post(
            f"/api/v1/clips/{clip['id']}/adjudication",
            json={"attributes": RUB_EYES, "reason": "r"},
        )
        assert decided.status_code == 200
    refused = ivan.client.delete(f"/api/v1/annotations/{mine['id']}")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"clip {clip['clip_id']!r} has all its labels (or a reviewer's decision), so your label "
        "of it can no longer be withdrawn; edit it instead"
    )
    assert ivan.client.get(f"/api/v1/annotations/{mine['id']}").status_code == 200
    edited = ivan.client.put(
        f"/api/v1/annotations/{mine['id']}", json={"attributes": TOUCH_NECK, "version": 1}
    )
    assert edited.status_code == 200 and edited.json()["version"] == 2  # editing stays open
    by_reviewer = rita.client.delete(f"/api/v1/annotations/{mine['id']}")
    assert by_reviewer.status_code == 403


def test_live_sentence_endpoint(project, member, make_user):
    ivan = member("ivan")
    url = f"/api/v1/projects/{project['id']}/fg-text"
    full = ivan.client.get(url, params=RUB_EYES).json()
    assert full == {"text": compose_fg_text(RUB_EYES), "complete": True}
    partial = ivan.client.get(url, params={"initiator": "shoulders"}).json()
    assert partial == {
        "text": "The shoulders [motion type] [receiver] [direction].",
        "complete": False,
    }
    bad = ivan.client.get(url, params={"receiver": "elbow"})
    assert bad.status_code == 422 and "unknown receiver 'elbow'" in bad.json()["detail"]
    outsider = make_user("olga")
    assert outsider.client.get(url, params=RUB_EYES).status_code in (403, 404)


def test_media_info_gives_the_frame_rate_and_refuses_a_corrupt_video(project, member, media_root):
    ivan = member("ivan")
    clip = next_clip(ivan, project)
    info = ivan.client.get(f"{clip['media_url']}/info")
    assert info.status_code == 200
    assert info.json() == {"fps": 10.0, "frames": 10, "duration": 1.0, "width": 64, "height": 48}
    video = media_root / DATASET / "videos" / f"{clip['clip_id']}.mp4"
    video.write_bytes(b"not a video at all" * 10)
    broken = ivan.client.get(f"{clip['media_url']}/info")
    assert broken.status_code == 404
    assert broken.json()["detail"] == "this clip's video is not available"
    assert str(media_root) not in broken.text


def test_static_assets_are_served(app):
    client = TestClient(app)
    for asset in ("app.css", "common.js", "player.js", "annotate.js", "suggestions.js", "review.js",
                  "admin.js"):  # fmt: skip
        reply = client.get(f"/static/{asset}")
        assert reply.status_code == 200 and len(reply.content) > 300, asset


def test_confusion_of_two_annotators_equals_sklearn(project, member, engine):
    from sklearn.metrics import confusion_matrix

    from fgtext.schema import DIMENSIONS, default_schema

    rng = random.Random(3)
    values = {d: list(default_schema().dimensions[d])[:3] for d in DIMENSIONS}
    people = [member(name) for name in ("ivan", "jane", "kim")]
    given: dict[str, dict[int, dict[str, str]]] = {p.user.username: {} for p in people}
    for _ in range(6):  # every clip: two or three of them, with values from a small set
        for person in people:
            clip = next_clip(person, project)
            if clip is None:
                continue
            attributes = {d: rng.choice(v) for d, v in values.items()}
            assert submit(person, clip, attributes).status_code == 201
            given[person.user.username][clip["id"]] = attributes
    shared = sorted(set(given["ivan"]) & set(given["jane"]))
    assert len(shared) >= 2
    with Session(engine) as session:
        proj = store.get_project(session, project_id=project["id"])
        for dimension in ("receiver", "tuple"):

            def value(name, clip, dimension=dimension):
                a = given[name][clip]
                return (
                    " | ".join(a[d] for d in DIMENSIONS) if dimension == "tuple" else a[dimension]
                )

            ours = store.pair_confusion(
                session, project=proj, dimension=dimension, first=people[0].user,
                second=people[1].user,
            )  # fmt: skip
            first = [value("ivan", c) for c in shared]
            second = [value("jane", c) for c in shared]
            labels = sorted(set(first) | set(second))
            reference = confusion_matrix(first, second, labels=labels)
            mine = [[ours.get((a, b), 0) for b in labels] for a in labels]
            assert mine == reference.tolist(), dimension

    page = people[0].client  # an annotator may not; a reviewer may
    assert page.get(f"/projects/{project['id']}/agreement").status_code == 403
    rita = member("rita", "reviewer")
    html = rita.client.get(
        f"/projects/{project['id']}/agreement?dimension=receiver&first=ivan&second=jane"
    ).text
    agreed = sum(given["ivan"][c]["receiver"] == given["jane"][c]["receiver"] for c in shared)
    summary = re.search(r'data-testid="pair-summary">([^<]+)<', html).group(1)
    assert f"both labelled {len(shared)} clips" in summary
    assert f"{round(100 * agreed / len(shared), 1)}%" in summary
    bad = rita.client.get(f"/projects/{project['id']}/agreement?first=ivan&second=nobody")
    assert bad.status_code == 422 and "choose two of" in bad.text
