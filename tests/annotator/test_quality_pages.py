"""The quality pages (both database back ends): the annotator-quality page's gold figures
against a hand count, its flags and who may see it; the agreement dashboard's posterior
histogram and the review page's posteriors for a dawid-skene project."""

from __future__ import annotations

import re

from sqlmodel import Session

from fgtext import store
from fgtext.consensus import vote_posterior
from fgtext.schema import DIMENSIONS
from fgtext.stats import binomial_interval
from tests.annotator.conftest import DATASET
from tests.annotator.test_annotations import RUB_EYES, TOUCH_NECK, next_clip, submit
from tests.annotator.test_gold import TRUTH, _mark


def _cell(html: str, testid: str) -> str:
    """The text of the element with this data-testid, tags stripped."""
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</td>', html, re.S)
    assert match, testid
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def _score(correct: int, labels: int) -> str:
    lo, hi = binomial_interval(correct, labels)
    return f"{correct}/{labels} = {correct / labels:.2f} [{lo:.2f}, {hi:.2f}]"


def test_the_quality_page_shows_the_hand_counted_gold_figures(admin, project, member):
    ann, bo, rita = member("ann"), member("bo"), member("rita", "reviewer")
    pid = project["id"]
    clips = admin.client.get(f"/api/v1/projects/{pid}/clips").json()
    first, second = clips[0]["id"], clips[1]["id"]
    _mark(admin, first, TRUTH)
    _mark(admin, second, TOUCH_NECK)
    for who, clip_id, values, seconds in [
        (ann, first, RUB_EYES, 10.0),  # right on initiator, receiver, motion_type
        (ann, second, TOUCH_NECK, 20.0),  # right on all four
        (bo, first, TOUCH_NECK, 30.0),  # right on direction only
    ]:
        reply = submit(who, {"id": clip_id}, values, seconds_spent=seconds)
        assert reply.status_code == 201, reply.text

    page = rita.client.get(f"/projects/{pid}/quality")
    assert page.status_code == 200
    html = page.text
    assert "2 gold clips" in html
    expected = {  # (right, of) per dimension, counted by hand
        "ann": {"initiator": (2, 2), "receiver": (2, 2), "direction": (1, 2),
                "motion_type": (2, 2), "tuple": (1, 2)},
        "bo": {"initiator": (0, 1), "receiver": (0, 1), "direction": (1, 1),
               "motion_type": (0, 1), "tuple": (0, 1)},
    }  # fmt: skip
    for name, scores in expected.items():
        for d, (right, n) in scores.items():
            assert _cell(html, f"gold-{name}-{d}") == _score(right, n), (name, d)
        assert _cell(html, f"gold-tuple-{name}") == _score(*scores["tuple"])
        assert _cell(html, f"gold-labels-{name}") == str(scores["tuple"][1])
    assert _cell(html, "gold-ann-initiator") == "2/2 = 1.00 [0.34, 1.00]"  # Wilson: not a sure 1
    # speed as on the admin's project page: ann's median of 10 s and 20 s, 240 clips an hour
    ann_row = re.search(r'<tr data-annotator="ann".*?</tr>', html, re.S).group(0)
    assert "15.0 s" in ann_row and '<td class="num">240</td>' in ann_row
    assert 'id="accuracy-chart"' in html and "no model" not in html
    assert 'id="estimated-table"' not in html  # a majority project has no model

    # bo's 0 of 1 has a Wilson interval up to 0.79: flagged below 0.8, not at the default 0.6
    assert 'data-testid="flag-bo"' not in html and "Nobody is below 0.6" in html
    strict = rita.client.get(f"/projects/{pid}/quality?below=0.8").text
    assert 'data-testid="flag-bo"' in strict and 'data-testid="flag-ann"' not in strict
    assert "gold 4-tuple accuracy under 0.8 (95 % interval up to 0.79)" in strict
    for bad in ("1.5", "-0.1", "half"):
        reply = rita.client.get(f"/projects/{pid}/quality?below={bad}")
        assert reply.status_code == 422, bad
        assert reply.headers["content-type"].startswith("text/html")

    assert f'href="/projects/{pid}/quality"' in rita.client.get(f"/projects/{pid}/agreement").text
    assert f'href="/projects/{pid}/quality"' in admin.client.get(f"/admin/projects/{pid}").text


def test_annotators_are_refused_the_quality_page_as_the_agreement_page(
    admin, project, member, make_user
):
    ann, outsider = member("ann"), make_user("otto")
    pid = project["id"]
    for who in (ann, outsider):
        for project_id in (pid, 999):
            quality = who.client.get(f"/projects/{project_id}/quality")
            agreement = who.client.get(f"/projects/{project_id}/agreement")
            assert quality.status_code == agreement.status_code, (who.user.username, project_id)
            assert quality.status_code in (403, 404)
            assert "Gold" not in quality.text
    assert ann.client.get(f"/projects/{pid}/quality").status_code == 403
    annotate = ann.client.get(f"/projects/{pid}/annotate").text
    assert "/quality" not in annotate  # not even linked
    assert admin.client.get(f"/projects/{pid}/quality").status_code == 200


def _ds_project(admin) -> dict:
    body = {"name": "ds", "dataset_dir": DATASET, "annotators_per_clip": 2,
            "consensus_rule": "dawid-skene", "confidence_threshold": 0.9}  # fmt: skip
    reply = admin.client.post("/api/v1/projects", json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_posteriors_on_the_agreement_and_review_pages(admin, make_user, engine):
    project = _ds_project(admin)
    pid = project["id"]
    ivan, jane, rita = make_user("ivan"), make_user("jane"), make_user("rita", "reviewer")
    for actor in (ivan, jane, rita):
        added = admin.client.post(
            f"/api/v1/projects/{pid}/members", json={"username": actor.user.username}
        )
        assert added.status_code == 201
    pairs = [(RUB_EYES, RUB_EYES), (RUB_EYES, TOUCH_NECK), (TOUCH_NECK, TOUCH_NECK),
             (TOUCH_NECK, RUB_EYES), (RUB_EYES, RUB_EYES), (TOUCH_NECK, RUB_EYES)]  # fmt: skip
    given = {}
    for ivans, janes in pairs:  # each clip by both; as often right as each other
        clip = next_clip(ivan, project)
        assert submit(ivan, clip, ivans).status_code == 201
        assert next_clip(jane, project)["id"] == clip["id"]
        assert submit(jane, clip, janes).status_code == 201
        given[clip["id"]] = [("ivan", ivans), ("jane", janes)]

    dashboard = rita.client.get(f"/projects/{pid}/agreement").text  # refits the model
    with Session(engine) as session:
        stored = store.get_project(session, project_id=pid)
        queue = store.review_queue(session, project=stored)
        confidences = store.clip_confidences(session, project=stored)
        accuracy = store.project_reliability(session, project=stored)["annotators"]
    unsure = sum(c < 0.9 for c in confidences)
    assert len(confidences) == 6 and 0 < len(queue) == unsure < 6  # the disputed ones
    summary = re.search(r'data-testid="posterior-summary">(.*?)</p>', dashboard, re.S).group(1)
    assert f"6 clips, {unsure} below the project's threshold of 0.9" in summary
    bins = {min(19, int(c * 20)) for c in confidences}
    assert dashboard.count('data-testid="posterior-bin"') == len(bins)
    assert 'id="posterior-chart"' in dashboard

    least = queue[0]
    review = rita.client.get(f"/clips/{least.id}/review").text
    votes = [(accuracy[name], values) for name, values in given[least.id]]
    schema = store.project_schema(stored)
    for d in DIMENSIONS:
        final, posterior = vote_posterior(
            [(acc[d], values) for acc, values in votes],
            {x: len(schema.values(x)) for x in DIMENSIONS},
        )
        assert (
            _cell(review, f"posterior-{d}") == f"{final[d].replace('_', ' ')}: {posterior[d]:.3f}"
        )
    assert re.search(rf'data-testid="confidence">{least.confidence:.3f}<', review)

    quality = rita.client.get(f"/projects/{pid}/quality").text
    assert 'id="estimated-table"' in quality
    for name in ("ivan", "jane"):
        for d in DIMENSIONS:
            assert _cell(quality, f"estimated-{name}-{d}") == f"{accuracy[name][d]:.2f}"


def test_majority_projects_show_no_posteriors(project, member):
    ivan, jane, rita = member("ivan"), member("jane"), member("rita", "reviewer")
    clip = next_clip(ivan, project)
    submit(ivan, clip, RUB_EYES)
    assert next_clip(jane, project)["id"] == clip["id"]
    submit(jane, clip, TOUCH_NECK)
    assert "posterior-chart" not in rita.client.get(f"/projects/{project['id']}/agreement").text
    review = rita.client.get(f"/clips/{clip['id']}/review").text
    assert "posterior-" not in review and review.count('<tr class="diff">') == 4
