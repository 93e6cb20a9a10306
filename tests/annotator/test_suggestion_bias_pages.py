"""What suggesting does to the labels, in the app (both database back ends): the agreement
dashboard's "Suggestions and agreement" section, GET /api/v1/projects/{id}/suggestion-bias and
the admin project page's time per condition, for fixed labels against a hand computation; who
may see them; the note when nothing was suggested; times an older version stored."""

from __future__ import annotations

import re
import sys

import pytest
from sqlalchemy import text, update
from sqlmodel import Session

from fgtext import store
from fgtext.schema import DIMENSIONS
from fgtext.stats import binomial_interval
from fgtext.store import Annotation
from tests.annotator.conftest import DATASET
from tests.annotator.test_annotations import RUB_EYES, TOUCH_NECK

# The synthetic dataset: clips 0-2 of class 0, whose first typical combination (the first
# suggestion) is RAISE, clips 3-5 of class 1, whose first is RUB.
RAISE = {"initiator": "shoulders", "receiver": "none", "direction": "upward",
         "motion_type": "raise"}  # fmt: skip
LOWER = {"initiator": "head", "receiver": "none", "direction": "downward", "motion_type": "lower"}
RUB = RUB_EYES
LEFT_RUB = RUB | {"initiator": "left_hand"}  # the gold clips' truth: RUB but for the initiator
X = TOUCH_NECK  # differs from RAISE on every dimension

# (clip, annotator, values, condition, seconds). Clips 4 and 5 are gold (LEFT_RUB).
#
#   clip  ann                   bo                    cy
#   0     not shown RAISE 5     not shown RAISE 6     not shown X 7
#   1     not shown X 8         not shown X 9         edited LOWER 12 (shown, none chosen)
#   2     accepted RAISE 2      accepted RAISE 3      not shown X 10
#   3     accepted RUB 3        accepted RUB 4        edited LEFT_RUB 20 (RUB chosen, changed)
#   4 g   accepted RUB 5        accepted RUB 6        not shown LEFT_RUB 11
#   5 g   not shown LEFT_RUB -  accepted RUB 8        edited LEFT_RUB 30 (RUB chosen, changed)
LABELS = [
    (0, "ann", RAISE, "not_shown", 5.0), (0, "bo", RAISE, "not_shown", 6.0),
    (0, "cy", X, "not_shown", 7.0),
    (1, "ann", X, "not_shown", 8.0), (1, "bo", X, "not_shown", 9.0),
    (1, "cy", LOWER, "edited", 12.0),
    (2, "ann", RAISE, "accepted", 2.0), (2, "bo", RAISE, "accepted", 3.0),
    (2, "cy", X, "not_shown", 10.0),
    (3, "ann", RUB, "accepted", 3.0), (3, "bo", RUB, "accepted", 4.0),
    (3, "cy", LEFT_RUB, "edited", 20.0),
    (4, "ann", RUB, "accepted", 5.0), (4, "bo", RUB, "accepted", 6.0),
    (4, "cy", LEFT_RUB, "not_shown", 11.0),
    (5, "ann", LEFT_RUB, "not_shown", None), (5, "bo", RUB, "accepted", 8.0),
    (5, "cy", LEFT_RUB, "edited", 30.0),
]  # fmt: skip
GOLD_CLIPS = (4, 5)


def _suggestion(values: dict, condition: str, first: dict) -> dict | None:
    """What the page sends for a label of this condition: nothing, the first suggestion chosen
    (and submitted unchanged or changed), or shown with none chosen (LOWER)."""
    if condition == "not_shown":
        return None
    chosen = None if values == LOWER else {"source": "class", "attributes": first}
    return {"shown": True, "chosen": chosen}


@pytest.fixture
def suggested(admin, make_user, engine) -> dict:
    """A k=3 project in at_once mode with LABELS stored through the store, the gold clips
    marked, a reviewer member (rita) and annotator members: {"id", "clips", "users"}."""
    reply = admin.client.post(
        "/api/v1/projects",
        json={"name": "suggested", "dataset_dir": DATASET, "annotators_per_clip": 3},
    )
    assert reply.status_code == 201, reply.text
    pid = reply.json()["id"]
    users = {name: make_user(name) for name in ("ann", "bo", "cy")}
    users["rita"] = make_user("rita", "reviewer")
    with Session(engine, expire_on_commit=False) as session:
        project = store.get_project(session, project_id=pid)
        store.set_suggestion_mode(session, project=project, mode="at_once", actor=admin.user)
        for actor in users.values():
            store.add_member(session, project=project, user=actor.user, actor=admin.user)
        clips = store.list_clips(session, project=project)
        for i, name, values, condition, seconds in LABELS:
            first = RAISE if clips[i].label == 0 else RUB
            store.submit_annotation(
                session, clip=clips[i], user=users[name].user, attributes=values,
                seconds_spent=seconds, suggestion=_suggestion(values, condition, first),
            )  # fmt: skip
        for i in GOLD_CLIPS:
            store.mark_gold(session, clip=clips[i], attributes=LEFT_RUB, actor=admin.user)
        stored = store.suggestion_label_records(session, project=project).records
    assert [(r.condition, r.seconds) for r in stored] == [(c, s) for *_, c, s in LABELS]
    return {"id": pid, "clips": clips, "users": users}


def _cell(html: str, testid: str) -> str:
    """The text of the element with this data-testid, tags stripped and spaces collapsed."""
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</(?:td|p|div)>', html, re.S)
    assert match, testid
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).split())


def _score(correct: int, labels: int) -> str:
    lo, hi = binomial_interval(correct, labels)
    return f"{correct}/{labels} = {correct / labels:.2f} [{lo:.2f}, {hi:.2f}]"


def test_dashboard_api_and_admin_page_give_the_hand_computed_figures(suggested, admin):
    pid, rita = suggested["id"], suggested["users"]["rita"]
    reply = rita.client.get(f"/api/v1/projects/{pid}/suggestion-bias")
    assert reply.status_code == 200, reply.text
    figures = reply.json()
    conditions = figures["conditions"]

    # Counts: not shown 8 labels on clips 0, 1, 2, 4, 5; accepted 7 on 2, 3, 4, 5; edited 3 on
    # 1, 3, 5.
    assert {c: [f["n_annotations"], f["n_clips"]] for c, f in conditions.items()} == {
        "not_shown": [8, 5], "accepted": [7, 4], "edited": [3, 3]
    }  # fmt: skip
    assert figures["n_gold_clips"] == 2

    # Alpha leaves the gold clips (4, 5) out, as the dashboard's does. Not shown, by the
    # coincidence matrix: o_ck = sum_u n_uc (n_uk - [c == k]) / (m_u - 1) over clips with
    # m_u >= 2 values. Clip 0 (RAISE, RAISE, X), m = 3: o_RR = 2*1/2 = 1, o_RX = o_XR = 2*1/2 = 1.
    # Clip 1 (X, X), m = 2: o_XX = 2*1/1 = 2. Clip 2 has one not-shown label: left out.
    # So n_R = o_RR + o_RX = 2, n_X = o_XR + o_XX = 3, n = 5; observed disagreement
    # o_RX + o_XR = 2, expected n^2 - n_R^2 - n_X^2 = 25 - 4 - 9 = 12:
    # alpha = 1 - (n - 1) * 2 / 12 = 1 - 4 * 2 / 12 = 1/3. RAISE and X differ on every
    # dimension, so each dimension's alpha is 1/3 too, from 2 clips and 5 values.
    # Accepted: clip 2 (RAISE, RAISE) and clip 3 (RUB, RUB), which differ on every dimension:
    # no disagreement, alpha = 1. Edited: one label each on clips 1 and 3: undefined.
    for v in (*DIMENSIONS, "tuple"):
        not_shown = conditions["not_shown"]["alpha"][v]
        assert not_shown["value"] == pytest.approx(1 / 3, abs=1e-12), v
        assert [not_shown["n_units"], not_shown["n_values"]] == [2, 5]
        assert conditions["accepted"]["alpha"][v]["value"] == pytest.approx(1.0, abs=1e-12)
        assert conditions["edited"]["alpha"][v]["value"] is None
        assert conditions["edited"]["alpha"][v]["note"]
        difference = figures["accepted_minus_not_shown"][v]
        assert difference["value"] == pytest.approx(2 / 3, abs=1e-12), v
        low, high = difference["ci95"]
        assert low <= high
    # "all" is every label together: the dashboard's own alpha (gold clips left out there too)
    report = rita.client.get(f"/api/v1/projects/{pid}/agreement").json()
    for v in (*DIMENSIONS, "tuple"):
        assert figures["all"]["alpha"][v]["value"] == pytest.approx(
            report["dimensions"][v]["krippendorff_alpha"]["value"], abs=1e-12
        )

    # Gold accuracy (clips 4 and 5, truth LEFT_RUB): accepted RUB three times (4 ann, 4 bo,
    # 5 bo): wrong initiator, right otherwise: tuple 0/3. Not shown LEFT_RUB (4 cy, 5 ann): 2/2.
    # Edited LEFT_RUB (5 cy): 1/1.
    expected = {"accepted": {"initiator": (0, 3), "receiver": (3, 3), "direction": (3, 3),
                             "motion_type": (3, 3), "tuple": (0, 3)},
                "not_shown": dict.fromkeys((*DIMENSIONS, "tuple"), (2, 2)),
                "edited": dict.fromkeys((*DIMENSIONS, "tuple"), (1, 1))}  # fmt: skip
    for c, scores in expected.items():
        for v, (right, n) in scores.items():
            got = conditions[c]["accuracy"][v]
            assert (got["correct"], got["labels"]) == (right, n), (c, v)
            assert got["ci95"] == pytest.approx(list(binomial_interval(right, n)))
    # Wilson for 0 of 3 by hand: z^2 = 3.8415, centre = (0 + 3.8415/6) / (1 + 3.8415/3)
    # = 0.64025 / 2.28049 = 0.28075, half = 1.96 * sqrt(3.8415/36) / 2.28049 = 0.28075.
    assert conditions["accepted"]["accuracy"]["tuple"]["ci95"] == pytest.approx(
        [0.0, 0.5615], abs=1e-4
    )

    # Seconds: accepted 2, 3, 3, 4, 5, 6, 8: median 4; not shown 5, 6, 7, 8, 9, 10, 11 (one
    # untimed): median 8; edited 12, 20, 30: median 20.
    assert {c: f["seconds"] for c, f in conditions.items()} == {
        "accepted": {"median": 4.0, "n_timed": 7}, "not_shown": {"median": 8.0, "n_timed": 7},
        "edited": {"median": 20.0, "n_timed": 3},
    }  # fmt: skip

    # The dashboard shows the same figures.
    page = rita.client.get(f"/projects/{pid}/agreement")
    assert page.status_code == 200
    html = page.text
    assert "Suggestions and agreement" in html and 'id="suggestion-alpha-chart"' in html
    for c, (labels, clips) in {"not_shown": (8, 5), "accepted": (7, 4), "edited": (3, 3)}.items():
        assert _cell(html, f"sb-labels-{c}") == str(labels)
        assert _cell(html, f"sb-clips-{c}") == str(clips)
    assert _cell(html, "sb-alpha-not_shown-tuple") == "0.333"
    assert _cell(html, "sb-alpha-accepted-tuple") == "1.000"
    assert _cell(html, "sb-alpha-edited-tuple") == "–"
    for v in (*DIMENSIONS, "tuple"):
        assert _cell(html, f"sb-difference-{v}") == "+0.667"
        assert _cell(html, f"sb-alpha-not_shown-{v}-cell").startswith("0.333 [")
        for c, scores in expected.items():
            assert _cell(html, f"sb-gold-{c}-{v}-cell") == _score(*scores[v])
    assert _cell(html, "sb-gold-accepted-tuple") == "0/3 = 0.00 [0.00, 0.56]"
    assert _cell(html, "sb-gold-not_shown-tuple") == _score(2, 2)
    assert [_cell(html, f"sb-seconds-{c}") for c in ("not_shown", "accepted", "edited")] == [
        "8.0 s", "4.0 s", "20.0 s"
    ]  # fmt: skip
    # the chart: a bar per defined alpha (3 conditions x 5 variables, edited undefined)
    chart = re.search(r'<svg[^>]*id="suggestion-alpha-chart".*?</svg>', html, re.S).group(0)
    assert chart.count('data-condition="not_shown"') == chart.count('data-condition="accepted"')
    assert chart.count('data-condition="not_shown"') == 5
    assert 'data-condition="edited"' not in chart and chart.count("edited: undefined") == 5
    assert 'id="suggestion-accuracy-chart"' in html
    # The warning: accepted labels agree more, and are less often right (0/3 against 2/2). Its
    # interval lies above 0: a resample of the four clips (0-3) in which both alphas are defined
    # holds clips 2 and 3 (accepted alpha 1) and not-shown labels of clip 0 (alpha at most 1/3).
    assert figures["accepted_minus_not_shown"]["tuple"]["ci95"][0] >= 2 / 3 - 1e-12
    warning = _cell(html, "suggestion-warning")
    assert warning.startswith("Agreement inflated by suggestions? Accepted labels agree more")
    assert "4-tuple α 1.000 against 0.333, difference +0.667" in warning
    assert "(0/3 = 0.00 against 2/2 = 1.00 right)" in warning

    # The admin project page: median seconds per condition with the timed labels.
    manage = admin.client.get(f"/admin/projects/{pid}").text
    assert [(_cell(manage, f"median-{c}"), _cell(manage, f"timed-{c}"))
            for c in ("not_shown", "accepted", "edited")] == [
        ("8.0 s", "7"), ("4.0 s", "7"), ("20.0 s", "3")
    ]  # fmt: skip


def test_the_figures_are_cached_until_the_labels_change(suggested, engine):
    pid, rita = suggested["id"], suggested["users"]["rita"]
    first = rita.client.get(f"/api/v1/projects/{pid}/suggestion-bias").json()
    with Session(engine) as session:
        cached = session.get(store.SuggestionBiasCache, pid)
        project = store.get_project(session, project_id=pid)
        assert cached.labels_revision == project.labels_revision
        assert cached.figures == first
        # unmarking a gold clip changes the labels' revision: its labels join alpha
        store.unmark_gold(session, clip=suggested["clips"][5], actor=None)
    second = rita.client.get(f"/api/v1/projects/{pid}/suggestion-bias").json()
    assert second["n_gold_clips"] == 1
    # clip 5 (LEFT_RUB not shown, RUB accepted, LEFT_RUB edited) adds one value to each of the
    # three conditions: none gets a second one, so the alphas stay (the intervals move: the
    # clip is resampled now)
    for c in ("not_shown", "accepted"):
        before, after = (f["conditions"][c]["alpha"]["tuple"] for f in (first, second))
        assert [after["value"], after["n_units"]] == [before["value"], before["n_units"]]
    assert second["bootstrap"]["n_units"] == first["bootstrap"]["n_units"] + 1
    # without gold the page cannot tell whether the agreement is earned, and says so
    with Session(engine) as session:
        store.unmark_gold(session, clip=suggested["clips"][4], actor=None)
    html = rita.client.get(f"/projects/{pid}/agreement").text
    assert _cell(html, "suggestion-warning").endswith("mark gold clips to find out.")
    assert _cell(html, "suggestion-no-gold").startswith("This project has no gold clips")
    assert "suggestion-accuracy-chart" not in html


def test_who_may_see_the_figures(suggested, admin, make_user, engine):
    pid, ann = suggested["id"], suggested["users"]["ann"]
    route, page = f"/api/v1/projects/{pid}/suggestion-bias", f"/projects/{pid}/agreement"
    refused = ann.client.get(route)
    assert refused.status_code == 403 and "alpha" not in refused.text
    assert ann.client.get(page).status_code == 403
    assert "suggestion-bias" not in ann.client.get(f"/projects/{pid}/annotate").text

    other = admin.client.post(
        "/api/v1/projects", json={"name": "other", "dataset_dir": DATASET}
    ).json()
    outsider = make_user("otto", "reviewer")
    assert (
        admin.client.post(
            f"/api/v1/projects/{other['id']}/members", json={"username": "otto"}
        ).status_code
        == 201
    )
    assert outsider.client.get(route).status_code == 404
    assert outsider.client.get(page).status_code == 404
    assert outsider.client.get(f"/api/v1/projects/{other['id']}/suggestion-bias").status_code == 200
    assert admin.client.get(route).status_code == 200
    assert admin.client.get("/api/v1/projects/999/suggestion-bias").status_code == 404
    # a project's annotators' own view carries none of it either
    for path in (f"/projects/{pid}/mine", "/", f"/api/v1/projects/{pid}/progress"):
        assert "suggestion-bias" not in ann.client.get(path).text


def test_a_project_without_suggested_labels_shows_a_note(project, admin, member, engine):
    pid = project["id"]
    ivan, rita = member("ivan"), member("rita", "reviewer")
    with Session(engine) as session:
        stored = store.get_project(session, project_id=pid)
        (clip, *_) = store.list_clips(session, project=stored)
        store.submit_annotation(session, clip=clip, user=ivan.user, attributes=RAISE)
    html = rita.client.get(f"/projects/{pid}/agreement").text
    assert _cell(html, "suggestion-note") == (
        "Suggestions are off in this project, and no label was made with suggestions shown."
    )
    assert "suggestion-alpha-chart" not in html
    assert "project page" in admin.client.get(f"/projects/{pid}/agreement").text  # admins: a link
    assert (
        admin.client.patch(
            f"/api/v1/projects/{pid}/settings", json={"suggestion_mode": "after_first"}
        ).status_code
        == 200
    )
    html = rita.client.get(f"/projects/{pid}/agreement").text
    assert _cell(html, "suggestion-note") == (
        "Nothing has been suggested yet: no label was made with suggestions shown."
    )
    manage = admin.client.get(f"/admin/projects/{pid}").text
    assert _cell(manage, "suggestion-speed-note") == (
        "No label has been made with suggestions shown yet."
    )
    # the API answers all the same: every label not shown
    figures = rita.client.get(f"/api/v1/projects/{pid}/suggestion-bias").json()
    assert figures["conditions"]["not_shown"]["n_annotations"] == 1
    assert figures["conditions"]["accepted"]["n_annotations"] == 0


def test_times_an_older_version_stored_do_not_break_the_pages(suggested, admin, engine):
    """Huge, denormal and infinite seconds (earlier versions stored them): the pages render,
    the JSON stays valid, a huge median reads as one."""
    pid, rita = suggested["id"], suggested["users"]["rita"]
    huge = sys.float_info.max
    with Session(engine) as session:
        ids = (
            session.exec(
                text(
                    "SELECT a.id FROM annotations a JOIN clips c ON c.id = a.clip_id "
                    "WHERE c.project_id = :p ORDER BY a.id"
                ),
                params={"p": pid},
            )
            .scalars()
            .all()
        )
        # accepted labels (ids of LABELS rows 6, 7, 9, 10, 12, 13, 16) huge but one; an edited
        # one denormal, another infinite
        for row, seconds in ((6, huge), (7, huge), (9, huge), (10, huge), (12, huge),
                             (5, 5e-310), (11, float("inf"))):  # fmt: skip
            session.execute(
                update(Annotation).where(Annotation.id == ids[row]).values(seconds_spent=seconds)
            )
        session.execute(text("UPDATE projects SET labels_revision = labels_revision + 1"))
        session.commit()
    reply = rita.client.get(f"/api/v1/projects/{pid}/suggestion-bias")
    assert reply.status_code == 200
    seconds = {c: f["seconds"] for c, f in reply.json()["conditions"].items()}
    # accepted: five huge, 6 and 8: median huge; edited: only 30 left
    assert seconds["accepted"] == {"median": huge, "n_timed": 7}
    assert seconds["edited"] == {"median": 30.0, "n_timed": 1}
    page = rita.client.get(f"/projects/{pid}/agreement")
    assert page.status_code == 200
    assert _cell(page.text, "sb-seconds-accepted") == "1.8e+308 s"
    manage = admin.client.get(f"/admin/projects/{pid}")
    assert manage.status_code == 200
    assert _cell(manage.text, "median-accepted") == "1.8e+308 s"
    assert _cell(manage.text, "median-edited") == "30.0 s"
