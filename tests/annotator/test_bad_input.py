"""Bad input answers one clear 4xx, never a 5xx, on both back ends: ids and offsets out of
range, non-finite and denormal numbers, lone surrogates and NUL bytes, a NUL in a dataset's
video path, a dataset whose FG-Text template names an unknown field; and what is stored already
(extreme times, a bad template) cannot break a page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from annotator import web
from fgtext import store
from fgtext.dataset import open_dataset, validate_dataset
from fgtext.errors import FgTextError
from fgtext.schema import Schema, default_schema
from fgtext.store import Annotation, Project
from tests.annotator.conftest import DATASET, PASSWORD
from tests.annotator.test_annotations import RUB_EYES, next_clip

OUT_OF_RANGE = ["0", "-1", str(2**31), str(2**40), str(2**63), str(2**64), "9" * 30]


def logged_in(app, username: str) -> TestClient:
    """A client of `username` that answers a server error as a response (to assert on)."""
    client = TestClient(app, raise_server_exceptions=False)
    reply = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    client.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
    return client


def routes_with_ids(app) -> list[tuple[str, str]]:
    """(method, path template) of every route with a path parameter: the API and media (from
    the OpenAPI schema) and the pages (not in it)."""
    documented = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if "{" in path
        for method in operations
    ]
    pages = [
        (method, route.path)
        for route in web.router.routes
        if isinstance(route, APIRoute) and "{" in route.path
        for method in sorted(route.methods - {"HEAD"})
    ]
    return documented + pages


def fill(path: str, value: str) -> str:
    while "{" in path:
        start = path.index("{")
        path = path[:start] + value + path[path.index("}", start) + 1 :]
    return path


def test_ids_out_of_range_answer_4xx_on_every_route(app, admin, project):
    client = logged_in(app, "ada")
    routes = routes_with_ids(app)
    assert len(routes) > 20 and ("GET", "/media/{clip_id}") in routes
    assert ("GET", "/admin/projects/{project_id}") in routes  # pages too
    answers = {}
    for method, path in routes:
        for value in OUT_OF_RANGE:
            url = fill(path, value)
            answers[method, url] = client.request(method, url, json={}).status_code
    assert {k: v for k, v in answers.items() if not 400 <= v < 500} == {}
    # The id itself is named: 422 for the API, an error page for the browser.
    reply = client.get(f"/api/v1/clips/{2**63}")
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == ["path", "clip_id"]
    page = client.get(f"/projects/{2**63}/mine")
    assert page.status_code == 422 and "clip_id" not in page.text and "project_id" in page.text
    assert page.headers["content-type"].startswith("text/html")
    edit = client.get(f"/projects/{project['id']}/annotate?clip={2**63}")
    assert edit.status_code == 422 and "clip" in edit.text


@pytest.mark.parametrize(
    "query", [f"offset={2**63}", "offset=-1", f"limit={2**63}", "limit=0", "limit=-5"]
)
def test_offsets_and_limits_out_of_range_answer_422(app, admin, project, query):
    client = logged_in(app, "ada")
    for path in (
        f"/api/v1/projects/{project['id']}/clips",
        f"/api/v1/projects/{project['id']}/review",
    ):
        reply = client.get(f"{path}?{query}")
        assert reply.status_code == 422, (path, query, reply.text)
        assert reply.json()["detail"][0]["loc"][0] == "query"
    largest = client.get(f"/api/v1/projects/{project['id']}/clips?offset={2**63 - 1}")
    assert largest.status_code == 200 and largest.json() == []
    assert client.get(f"/api/v1/clips/{2**31 - 1}").status_code == 404  # the largest id


def annotations_stored(engine) -> list[Annotation]:
    with Session(engine) as session:
        return list(session.exec(select(Annotation)))


def raw_post(client: TestClient, url: str, text: str):
    return client.post(url, content=text, headers={"Content-Type": "application/json"})


ATTRS = json.dumps(RUB_EYES)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (f'{{"attributes": {ATTRS}, "seconds_spent": NaN}}', "seconds_spent"),
        (f'{{"attributes": {ATTRS}, "seconds_spent": Infinity}}', "seconds_spent"),
        (f'{{"attributes": {ATTRS}, "seconds_spent": -Infinity}}', "seconds_spent"),
        (f'{{"attributes": {ATTRS}, "seconds_spent": 1e-320}}', "seconds_spent"),
        (f'{{"attributes": {ATTRS}, "seconds_spent": 1e9}}', "seconds_spent"),
        (f'{{"attributes": {ATTRS}, "seconds_spent": 1e999}}', "seconds_spent"),
        (f'{{"attributes": {ATTRS}, "note": "\\ud800"}}', "note"),
        (f'{{"attributes": {ATTRS}, "note": "a\\u0000b"}}', "note"),
        ('{"attributes": {"initiator": "\\udfff"}}', "attributes"),
        ('{"attributes": {"\\ud800": "x"}}', "attributes"),
        ('{"attributes": {"initiator": "a\\u0000"}}', "attributes"),
    ],
)
def test_non_finite_denormal_surrogate_and_nul_values_are_refused_naming_the_field(
    app, engine, project, member, body, field
):
    member("ivan")
    client = logged_in(app, "ivan")
    clip = client.post(f"/api/v1/projects/{project['id']}/next").json()
    reply = raw_post(client, f"/api/v1/clips/{clip['id']}/annotations", body)
    assert reply.status_code == 422, reply.text
    assert field in reply.json()["detail"][0]["loc"]
    assert annotations_stored(engine) == []


@pytest.mark.parametrize(
    "body",
    [
        '{"username": "\\ud800", "password": "x"}',
        '{"username": "a\\u0000", "password": "x"}',
        '{"username": "' + "\\ud800" * 200 + '", "password": NaN}',
        '{"username": NaN, "password": Infinity}',
    ],
)
def test_the_login_route_refuses_what_it_cannot_echo(app, body):
    client = TestClient(app, raise_server_exceptions=False)
    reply = raw_post(client, "/api/v1/auth/login", body)
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["loc"][:2] == ["body", "username"]


@pytest.mark.parametrize(
    "data",
    [
        {"username": "a\x00b", "password": "x"},
        {"username": "\ud800", "password": "x"},
        {"username": "x" * 5000, "password": "\ud800"},
    ],
)
def test_the_login_form_refuses_nul_and_surrogates_with_a_page(app, make_user, data):
    make_user("lena", login=False)
    client = TestClient(app, raise_server_exceptions=False)
    body = "&".join(f"{k}={_quote(v)}" for k, v in data.items())
    reply = client.post(
        "/login",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.headers["content-type"].startswith("text/html")


def _quote(value: str) -> str:
    """Percent-encode every byte, a lone surrogate as its (invalid) UTF-8 bytes."""
    return "".join(f"%{b:02X}" for b in value.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/users", {"username": "x\x00", "password": "p" * 10}, "username"),
        ("/api/v1/users", {"username": "nina", "password": "\ud800" * 10}, "password"),
        ("/api/v1/projects", {"name": "p\x00", "dataset_dir": DATASET}, "name"),
        ("/api/v1/projects", {"name": "\udc00", "dataset_dir": DATASET}, "name"),
        ("/api/v1/projects", {"name": "p", "dataset_dir": "synth\x00etic"}, "dataset_dir"),
    ],
)
def test_admin_writes_refuse_nul_and_surrogates(app, admin, engine, path, body, field):
    client = logged_in(app, "ada")
    text = json.dumps(body)  # ASCII: the surrogate travels as \udc00, NUL as \u0000
    reply = raw_post(client, path, text)
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["loc"] == ["body", field]
    with Session(engine) as session:
        assert [u.username for u in store.list_users(session)] == ["ada"]
        assert list(session.exec(select(Project))) == []


def test_skip_reason_and_adjudication_reason_refuse_nul(app, project, member):
    member("ivan")
    member("rita", "reviewer")
    ivan = logged_in(app, "ivan")
    clip = ivan.post(f"/api/v1/projects/{project['id']}/next").json()
    skip = raw_post(ivan, f"/api/v1/clips/{clip['id']}/skip", '{"reason": "\\u0000"}')
    assert skip.status_code == 422 and skip.json()["detail"][0]["loc"] == ["body", "reason"]
    rita = logged_in(app, "rita")
    decided = raw_post(
        rita,
        f"/api/v1/clips/{clip['id']}/adjudication",
        f'{{"attributes": {ATTRS}, "reason": "\\ud800"}}',
    )
    assert decided.status_code == 422 and decided.json()["detail"][0]["loc"] == ["body", "reason"]


# -- what is stored already cannot break a page ----------------------------------------------


@pytest.mark.parametrize("seconds", [1e-320, 5e-324, 1e300, float("inf"), float("nan")])
def test_extreme_stored_times_do_not_break_the_pages(app, engine, project, member, seconds):
    ivan = member("ivan")
    clip = next_clip(ivan, project)
    assert (
        ivan.client.post(
            f"/api/v1/clips/{clip['id']}/annotations", json={"attributes": RUB_EYES}
        ).status_code
        == 201
    )
    with Session(engine) as session:  # as an older version may have stored it
        (row,) = session.exec(select(Annotation))
        row.seconds_spent = seconds
        session.add(row)
        session.commit()
    admin = logged_in(app, "ada")
    ivan_client = logged_in(app, "ivan")
    for client, url in [
        (admin, f"/admin/projects/{project['id']}"),
        (admin, f"/api/v1/projects/{project['id']}/progress"),
        (admin, f"/api/v1/projects/{project['id']}/agreement"),
        (ivan_client, f"/projects/{project['id']}/mine"),
        (ivan_client, f"/api/v1/projects/{project['id']}/annotations/mine"),
        (ivan_client, f"/projects/{project['id']}/annotate"),
    ]:
        reply = client.get(url)
        assert reply.status_code == 200, (url, reply.text[:300])


# -- datasets ---------------------------------------------------------------------------------


def dataset_copy(media_root: Path, name: str, *, clip_rows=None, schema=None) -> Path:
    """A copy of the synthetic dataset in the media root with clips or its schema changed."""
    out = media_root / name
    shutil.copytree(media_root / DATASET, out)
    if clip_rows is not None:
        rows = [json.loads(line) for line in (out / "clips.jsonl").read_text().splitlines()]
        text = "".join(json.dumps(r) + "\n" for r in clip_rows(rows))
        (out / "clips.jsonl").write_text(text)
    if schema is not None:
        info = json.loads((out / "dataset.json").read_text())
        info["schema"] = schema(info["schema"])
        (out / "dataset.json").write_text(json.dumps(info))
    return out


def with_nul_video(rows):
    rows[0]["video"] = "videos/a\x00b.mp4"
    return rows


def with_unknown_template_field(spec):
    return {**spec, "templates": {**spec.get("templates", {}), "fg_text": "{initiator} {hand}"}}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"clip_rows": with_nul_video}, "NUL"),
        ({"clip_rows": lambda rows: [{**rows[0], "start_frame": 0, "end_frame": 2**40}]},
         "end_frame"),
        ({"schema": with_unknown_template_field}, "{hand}"),
    ],
)  # fmt: skip
def test_a_bad_dataset_is_one_clear_4xx_on_import(app, admin, media_root, engine, change, words):
    bad = dataset_copy(media_root, "bad", **change)
    with pytest.raises(FgTextError, match=words.replace("{", r"\{").replace("}", r"\}")):
        validate_dataset(bad)
    client = logged_in(app, "ada")
    reply = client.post("/api/v1/projects", json={"name": "bad", "dataset_dir": "bad"})
    assert reply.status_code in (400, 422), reply.text
    assert words in reply.json()["detail"]
    with Session(engine) as session:
        assert list(session.exec(select(Project))) == []


def test_a_schema_template_with_an_unknown_field_is_refused_when_loaded():
    spec = with_unknown_template_field(default_schema().to_dict())
    with pytest.raises(FgTextError, match=r"fg_text.*\{hand\}"):
        Schema.from_dict(spec)
    spec["templates"] = {"fg_text": "{initiator", "class_text": "{name}"}
    with pytest.raises(FgTextError, match="fg_text"):
        Schema.from_dict(spec)
    spec["templates"] = {"class_text": "{initiator} {name}"}
    with pytest.raises(FgTextError, match=r"class_text.*\{initiator\}"):
        Schema.from_dict(spec)


def test_a_project_stored_with_a_bad_template_answers_422_not_500(app, engine, project, member):
    ivan = member("ivan")
    clip = next_clip(ivan, project)
    assert (
        ivan.client.post(
            f"/api/v1/clips/{clip['id']}/annotations", json={"attributes": RUB_EYES}
        ).status_code
        == 201
    )
    with Session(engine) as session:  # stored before templates were checked
        row = session.get(Project, project["id"])
        row.schema_spec = with_unknown_template_field(row.schema_spec)
        session.add(row)
        session.commit()
    client = logged_in(app, "ivan")
    reply = client.get(f"/api/v1/projects/{project['id']}/fg-text?initiator=right_hand")
    assert reply.status_code == 422 and "{hand}" in reply.json()["detail"]
    page = client.get(f"/projects/{project['id']}/mine")
    assert page.status_code in (400, 422) and "{hand}" in page.text


def test_open_dataset_refuses_a_template_with_an_unknown_field(media_root):
    bad = dataset_copy(media_root, "bad", schema=with_unknown_template_field)
    with pytest.raises(FgTextError, match=r"\{hand\}"):
        open_dataset(bad)


# -- suggestions ------------------------------------------------------------------------------

SHOWN = '{"shown": true, "chosen": {"source": "class", "attributes": %s}}'


@pytest.mark.parametrize(
    ("suggestion", "field"),
    [
        (SHOWN % '{"initiator": "a\\u0000"}', "attributes"),
        (SHOWN % '{"\\ud800": "x"}', "attributes"),
        ('{"shown": true, "chosen": {"source": "\\ud800", "attributes": {}}}', "source"),
        ('{"shown": true, "chosen": {"source": "oracle", "attributes": {}}}', "source"),
        ('{"shown": NaN}', "shown"),
        ('{"shown": 1e999}', "shown"),
        ('{"shown": true, "chosen": 7}', "chosen"),
        ('"shown"', "suggestion"),
        (SHOWN % json.dumps({**RUB_EYES, "receiver": "x" * 300_000}), "receiver"),
    ],
)
def test_a_bad_suggestion_in_a_submission_is_refused_naming_the_field(
    app, engine, project, member, suggestion, field
):
    member("ivan")
    client = logged_in(app, "ivan")
    ada = logged_in(app, "ada")
    ada.patch(f"/api/v1/projects/{project['id']}/settings", json={"suggestion_mode": "at_once"})
    clip = client.post(f"/api/v1/projects/{project['id']}/next").json()
    reply = raw_post(
        client, f"/api/v1/clips/{clip['id']}/annotations",
        f'{{"attributes": {ATTRS}, "suggestion": {suggestion}}}',
    )  # fmt: skip
    assert reply.status_code == 422, reply.text
    assert field in str(reply.json()["detail"])
    assert annotations_stored(engine) == []


def _suggestions_file(clip_id: str, score: str = "0.5", source: str = '{"kind": "model"}') -> str:
    return (
        f'{{"format": "fgtext-suggestions/1", "source": {source}, "clips": [{{"clip_id": '
        f'{clip_id}, "suggestions": [{{"attributes": {ATTRS}, "score": {score}}}]}}]}}'
    )


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ("[]", 422, "expected a JSON object"),
        ("null", 422, "expected a JSON object"),
        ("3.5", 422, "expected a JSON object"),
        ('"fgtext-suggestions/1"', 422, "expected a JSON object"),
        ("", 400, "not JSON"),
        ("{", 400, "not JSON"),
        ("[" * 100_000 + "]" * 100_000, 400, "not JSON"),
        (b"\xff\xfe{".decode("latin-1"), 400, "not JSON"),
        (_suggestions_file('"a\\u0000b"'), 422, "clip_id"),
        (_suggestions_file('"\\ud800"'), 422, "clip_id"),
        (_suggestions_file('"x"', "NaN"), 422, "score"),
        (_suggestions_file('"x"', "1e999"), 422, "score"),
        (_suggestions_file('"x"', "-Infinity"), 422, "score"),
        (_suggestions_file('"x"', "1e-320"), 422, "score"),
        (_suggestions_file('"x"', '"high"'), 422, "score"),
        (_suggestions_file('"nope"'), 422, "clip 'nope' is not a clip of project 'gestures'"),
        (_suggestions_file('"x"', source='{"\\ud800": 1}'), 422, "source"),
        (_suggestions_file('"x"', source='{"run": "a\\u0000"}'), 422, "source.run"),
        (_suggestions_file('"x"', source='{"run": NaN}'), 422, "source.run"),
        (_suggestions_file('"x"', source='{"run": ' + "[" * 50 + "]" * 50 + "}"), 422, "nested"),
        (_suggestions_file('"x"', source='"model"'), 422, "source"),
        (_suggestions_file('"x"').replace('"rub"', '"dance"'), 422, "motion_type 'dance'"),
    ],
)  # fmt: skip
def test_a_bad_suggestions_body_is_one_clear_4xx_and_stores_nothing(
    app, engine, admin, project, body, status, words
):
    client = logged_in(app, "ada")
    reply = client.post(
        f"/api/v1/projects/{project['id']}/suggestions",
        content=body.encode("latin-1"),  # the bytes as written (ASCII but for one case)
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == status, reply.text
    assert words in str(reply.json()["detail"])
    with Session(engine) as session:
        assert session.exec(select(store.SuggestionImport)).all() == []
        assert session.exec(select(store.ModelSuggestion)).all() == []


def test_a_50_mb_suggestions_body_is_413_and_bad_modes_are_422(app, engine, admin, project):
    client = logged_in(app, "ada")
    url = f"/api/v1/projects/{project['id']}/suggestions"
    reply = client.post(
        url, content=b" " * (50 * 2**20), headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 413 and "MiB" in reply.json()["detail"]
    settings = f"/api/v1/projects/{project['id']}/settings"
    for body in ('{"suggestion_mode": "sometimes"}', '{"suggestion_mode": "off\\u0000"}',
                 '{"suggestion_mode": 1}', '{"suggestion_mode": "\\ud800"}'):  # fmt: skip
        refused = client.patch(settings, content=body, headers={"Content-Type": "application/json"})
        assert refused.status_code == 422, body
        assert refused.json()["detail"][0]["loc"] == ["body", "suggestion_mode"]
    with Session(engine) as session:
        assert store.get_project(session, project_id=project["id"]).suggestion_mode == "off"
        assert session.exec(select(store.SuggestionImport)).all() == []
