"""Suggestions through the HTTP API and the CLI, on both back ends: the project setting, what a
clip offers, importing and clearing a model's suggestions (admins only, whole or not at all),
what a submission records, who may call what, and that the offer tells an annotator nothing
about anyone's labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from fgtext import store
from fgtext.compose import compose_fg_text
from fgtext.schema import load_class_list
from fgtext.suggestions import FORMAT, write_suggestions
from tests.annotator.conftest import DATASET
from tests.annotator.test_annotations import RUB_EYES, TOUCH_NECK, next_clip, submit
from tests.annotator.test_blindness import _assert_same, _client, _world_app

SMG = load_class_list("smg")  # the synthetic dataset's classes are SMG's first two
FOLD = {"initiator": "both_arms", "receiver": "chest", "direction": "inward",
        "motion_type": "fold"}  # fmt: skip


def suggestions_body(clips: dict[str, list[tuple[dict, float]]], run: str = "runs/a") -> dict:
    return {
        "format": FORMAT,
        "source": {"kind": "model", "run": run},
        "clips": [
            {"clip_id": cid, "suggestions": [{"attributes": a, "score": s} for a, s in rows]}
            for cid, rows in clips.items()
        ],
    }


def clips_of(actor, project) -> list[dict]:
    return actor.client.get(f"/api/v1/projects/{project['id']}/clips").json()


def set_mode(admin, project, mode: str):
    return admin.client.patch(
        f"/api/v1/projects/{project['id']}/settings", json={"suggestion_mode": mode}
    )


def typical(label: int) -> list[dict]:
    return [dict(a) for a in SMG[label].attributes]


def test_a_clip_offers_model_suggestions_best_first_then_its_class_typicals(admin, project, member):
    ivan = member("ivan")
    clip = next_clip(ivan, project)
    url = f"/api/v1/clips/{clip['id']}/suggestions"
    assert ivan.client.get(url).json() == {"mode": "off", "suggestions": []}
    assert set_mode(admin, project, "at_once").json() == {
        "gold_rate": 0.0, "suggestion_mode": "at_once"
    }  # fmt: skip
    assert ivan.client.get(url).json() == {
        "mode": "at_once",
        "suggestions": [
            {"index": i, "source": "class", "attributes": a, "text": compose_fg_text(a),
             "score": None}
            for i, a in enumerate(typical(clip["label"]))
        ],
    }  # fmt: skip
    first = typical(clip["label"])[0]
    body = suggestions_body({clip["clip_id"]: [(FOLD, 0.25), (first, 0.83)]})
    imported = admin.client.post(f"/api/v1/projects/{project['id']}/suggestions", json=body)
    assert imported.status_code == 201, imported.text
    record = imported.json()
    assert (record["clips"], record["suggestions"], record["source"]) == (
        1, 2, {"kind": "model", "run": "runs/a"}
    )  # fmt: skip
    assert (record["actor_id"], record["project_id"]) == (admin.user.id, project["id"])
    offered = ivan.client.get(url).json()["suggestions"]
    assert [(s["index"], s["source"], s["attributes"], s["score"]) for s in offered] == [
        (0, "model", first, 0.83), (1, "model", FOLD, 0.25),
        *[(i + 2, "class", a, None) for i, a in enumerate(typical(clip["label"])[1:])],
    ]  # fmt: skip
    assert set_mode(admin, project, "after_first").status_code == 200
    assert ivan.client.get(url).json()["mode"] == "after_first"

    summary = admin.client.get(f"/api/v1/projects/{project['id']}/suggestions").json()
    assert summary["mode"] == "after_first" and summary["current_import"]["id"] == record["id"]
    assert (summary["classes"], summary["classes_with_typical"]) == (2, 2)
    cleared = admin.client.delete(f"/api/v1/projects/{project['id']}/suggestions")
    assert cleared.status_code == 204
    assert [s["source"] for s in ivan.client.get(url).json()["suggestions"]] == ["class"] * len(
        typical(clip["label"])
    )
    summary = admin.client.get(f"/api/v1/projects/{project['id']}/suggestions").json()
    assert summary["current_import"] is None


def test_a_project_is_created_with_a_mode_and_a_class_list(admin, engine):
    reply = admin.client.post(
        "/api/v1/projects",
        json={"name": "s", "dataset_dir": DATASET, "suggestion_mode": "at_once",
              "class_list": "smg"},
    )  # fmt: skip
    assert reply.status_code == 201, reply.text
    with Session(engine) as session:
        project = store.get_project(session, project_id=reply.json()["id"])
        assert project.suggestion_mode == "at_once"
        assert [c.typical for c in store.project_classes(session, project=project)] == [
            typical(0), typical(1)
        ]  # fmt: skip
    # the synthetic classes are SMG's: iMiGUE's list names neither
    refused = admin.client.post(
        "/api/v1/projects", json={"name": "t", "dataset_dir": DATASET, "class_list": "imigue"}
    )
    assert refused.status_code == 400
    assert "class list 'imigue' names none of the project's classes" in refused.json()["detail"]
    for body, field in (({"suggestion_mode": "always"}, "suggestion_mode"),
                        ({"class_list": "ntu"}, "class_list")):  # fmt: skip
        refused = admin.client.post(
            "/api/v1/projects", json={"name": "t", "dataset_dir": DATASET, **body}
        )
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", field]
    assert [p["name"] for p in admin.client.get("/api/v1/projects").json()] == ["s"]


def test_a_submission_records_the_suggestion_and_edits_keep_it(admin, project, member):
    set_mode(admin, project, "at_once")
    ivan, jana = member("ivan"), member("jana")
    clip = next_clip(ivan, project)
    first = typical(clip["label"])[0]
    chosen = {"source": "class", "attributes": first}
    accepted = submit(ivan, clip, first, suggestion={"shown": True, "chosen": chosen}).json()
    assert (accepted["suggestions_shown"], accepted["suggestion_chosen"],
            accepted["suggestion_accepted"]) == (True, chosen, True)  # fmt: skip
    assert next_clip(jana, project)["id"] == clip["id"]
    edited = submit(jana, clip, RUB_EYES, suggestion={"shown": True, "chosen": chosen}).json()
    assert (edited["suggestion_accepted"], edited["suggestion_chosen"]) == (False, chosen)
    other = next_clip(ivan, project)
    plain = submit(ivan, other, TOUCH_NECK).json()
    assert (plain["suggestions_shown"], plain["suggestion_chosen"], plain["suggestion_accepted"]) == (
        False, None, None
    )  # fmt: skip
    # the author reads it (an edit leaves it), a reviewer too; nobody else
    put = ivan.client.put(
        f"/api/v1/annotations/{accepted['id']}", json={"attributes": TOUCH_NECK, "version": 1}
    ).json()
    assert (put["version"], put["suggestion_accepted"], put["suggestion_chosen"]) == (
        2,
        True,
        chosen,
    )
    rita = member("rita", "reviewer")
    seen = rita.client.get(f"/api/v1/clips/{clip['id']}/annotations").json()
    assert sorted(a["suggestion_accepted"] for a in seen["annotations"]) == [False, True]
    assert jana.client.get(f"/api/v1/annotations/{accepted['id']}").status_code == 404


@pytest.mark.parametrize(
    ("mode", "suggestion", "status", "words"),
    [
        ("off", {"shown": True}, 422, "suggestion.shown is true"),
        ("at_once", {"shown": False, "chosen": {"source": "class", "attributes": "TYPICAL"}}, 422,
         "suggestion.chosen is given but suggestion.shown is false"),
        ("at_once", {"shown": True, "chosen": {"source": "model", "attributes": "TYPICAL"}}, 422,
         "suggestion.chosen is not one of the suggestions offered"),
        ("at_once", {"shown": True, "chosen": {"source": "class", "attributes": FOLD}}, 422,
         "suggestion.chosen is not one of the suggestions offered"),
        ("at_once", {"shown": True, "chosen": {"source": "crowd", "attributes": FOLD}}, 422,
         "source"),
        ("at_once", {"shown": True, "chosen": {"source": "class",
                                               "attributes": {**FOLD, "receiver": "moon"}}},
         422, "suggestion.chosen.attributes: receiver 'moon' is not allowed"),
        ("at_once", {"shown": "perhaps"}, 422, "shown"),
        ("at_once", [], 422, "suggestion"),
    ],
)  # fmt: skip
def test_a_suggestion_that_was_not_offered_is_refused_naming_the_field(
    admin, project, member, engine, mode, suggestion, status, words
):
    set_mode(admin, project, mode)
    ivan = member("ivan")
    clip = next_clip(ivan, project)
    text = json.dumps(suggestion).replace('"TYPICAL"', json.dumps(typical(clip["label"])[0]))
    reply = ivan.client.post(
        f"/api/v1/clips/{clip['id']}/annotations",
        content=f'{{"attributes": {json.dumps(RUB_EYES)}, "suggestion": {text}}}',
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == status, reply.text
    assert words in str(reply.json()["detail"])
    with Session(engine) as session:
        assert session.exec(select(store.Annotation)).all() == []


def test_a_bad_file_changes_nothing_and_the_earlier_import_stays(admin, project, engine):
    clips = clips_of(admin, project)
    url = f"/api/v1/projects/{project['id']}/suggestions"
    earlier = admin.client.post(url, json=suggestions_body({clips[0]["clip_id"]: [(FOLD, 0.5)]}))
    assert earlier.status_code == 201

    def stored() -> list:
        with Session(engine) as session:
            rows = session.exec(select(store.ModelSuggestion).order_by(store.ModelSuggestion.id))
            return [(s.clip_id, s.rank, s.attributes, s.score, s.import_id) for s in rows]

    before = stored()
    good = {c["clip_id"]: [(RUB_EYES, 0.9)] for c in clips[:4]}
    for body, status, words in [
        (suggestions_body({**good, "not-a-clip": [(FOLD, 0.1)]}), 422,
         "clip 'not-a-clip' is not a clip of project 'gestures'"),
        (suggestions_body({**good, clips[5]["clip_id"]: [({**FOLD, "motion_type": "dance"}, 1)]}),
         422, "unknown motion_type 'dance'"),
        ([good], 422, "expected a JSON object"),
        ("a string", 422, "expected a JSON object"),
        ({"format": "fgtext-dataset/1"}, 422, "not a suggestions file"),
    ]:  # fmt: skip
        reply = admin.client.post(url, json=body)
        assert reply.status_code == status, reply.text
        assert words in reply.json()["detail"] and "\n" not in reply.json()["detail"]
        assert stored() == before
    not_json = admin.client.post(
        url, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["detail"]
    assert stored() == before
    summary = admin.client.get(url).json()
    assert summary["current_import"]["id"] == earlier.json()["id"]


def test_a_body_over_the_limit_is_refused_unread(app, admin, project, member, engine):
    from tests.annotator.test_bad_input import logged_in

    client = logged_in(app, "ada")
    url = f"/api/v1/projects/{project['id']}/suggestions"
    huge = (
        b'{"format": "fgtext-suggestions/1", "clips": [], "source": {"x": "'
        + b"y" * (50 * 2**20)
        + b'"}}'
    )
    reply = client.post(url, content=huge, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413 and "more than 32 MiB" in reply.json()["detail"]
    member("ivan")
    ivan = logged_in(app, "ivan")
    assert ivan.post(url, content=huge).status_code == 403  # the policy first
    with Session(engine) as session:
        assert session.exec(select(store.SuggestionImport)).all() == []


def test_who_may_call_the_suggestion_routes(app, admin, project, member, make_user, engine):
    """Admins manage suggestions; members who may label a clip read its suggestions; an
    annotator of another project gets 404, a member without the role 403."""
    ivan = member("ivan")
    rita = member("rita", "reviewer")
    outsider = make_user("olga")
    clip = next_clip(ivan, project)
    pid = project["id"]
    body = suggestions_body({clip["clip_id"]: [(FOLD, 0.5)]})
    routes = [
        ("GET", f"/api/v1/projects/{pid}/suggestions", None),
        ("POST", f"/api/v1/projects/{pid}/suggestions", body),
        ("DELETE", f"/api/v1/projects/{pid}/suggestions", None),
        ("PATCH", f"/api/v1/projects/{pid}/settings", {"suggestion_mode": "at_once"}),
    ]
    for method, url, json_body in routes:
        assert outsider.client.request(method, url, json=json_body).status_code == 404, url
        assert ivan.client.request(method, url, json=json_body).status_code == 403, url
        assert rita.client.request(method, url, json=json_body).status_code == 403, url
    with Session(engine) as session:
        assert session.exec(select(store.SuggestionImport)).all() == []
        assert store.get_project(session, project_id=pid).suggestion_mode == "off"
    assert admin.client.post(routes[1][1], json=body).status_code == 201

    offer = f"/api/v1/clips/{clip['id']}/suggestions"
    assert outsider.client.get(offer).status_code == 404
    assert ivan.client.get(offer).status_code == 200
    assert admin.client.get(offer).status_code == 200
    assert rita.client.get(offer).status_code == 200  # a reviewer labels too ...
    assert rita.client.get(f"/api/v1/clips/{clip['id']}/annotations").status_code == 200
    refused = rita.client.get(offer)  # ... until they have seen the clip's labels
    assert refused.status_code == 403 and "would not be blind" in refused.json()["detail"]
    assert ivan.client.get("/api/v1/clips/99999/suggestions").status_code == 404


def test_the_admin_project_page_sets_the_mode_and_uploads_files(admin, project, member):
    page = admin.client.get(f"/admin/projects/{project['id']}")
    assert page.status_code == 200
    text = page.text
    assert f'data-api="PATCH /api/v1/projects/{project["id"]}/settings"' in text
    assert 'name="suggestion_mode"' in text and '<option value="off" selected>' in text
    assert f'data-url="/api/v1/projects/{project["id"]}/suggestions"' in text
    assert "2 of 2 classes have typical combinations" in text
    assert "No model suggestions imported." in text and "clear-suggestions" not in text
    clip = clips_of(admin, project)[0]
    admin.client.post(
        f"/api/v1/projects/{project['id']}/suggestions",
        json=suggestions_body({clip["clip_id"]: [(FOLD, 0.5), (RUB_EYES, 0.4)]}, run="runs/r7"),
    )
    set_mode(admin, project, "at_once")
    text = admin.client.get(f"/admin/projects/{project['id']}").text
    assert "<strong>2</strong> for 1 clips" in text and "<code>runs/r7</code>" in text
    assert '<option value="at_once" selected>' in text and 'id="clear-suggestions"' in text
    assert member("ivan").client.get(f"/admin/projects/{project['id']}").status_code == 403


def test_the_annotation_page_has_suggestions_only_where_the_mode_offers_them(
    admin, project, member
):
    ivan = member("ivan")
    url = f"/projects/{project['id']}/annotate"
    off = ivan.client.get(url).text
    assert '"suggestion_mode": "off"' in off
    # nothing of them: no list, no script, no keys in the shortcuts
    assert 'id="suggestions"' not in off and "suggestions.js" not in off
    assert "Shift + 1 – 9" not in off and "Enter" in off
    for mode in ("after_first", "at_once"):
        assert set_mode(admin, project, mode).status_code == 200
        page = ivan.client.get(url).text
        assert f'"suggestion_mode": "{mode}"' in page
        assert 'id="suggestion-list"' in page and "/static/suggestions.js?v=" in page
        assert page.count("Shift + 1 – 9") == 2  # the shortcut card and the help overlay


def test_the_cli_creates_a_suggesting_project_and_imports_a_file(
    cli, database_url, media_root, tmp_path
):
    from tests.annotator.test_cli import _one_line_error

    store.upgrade_database(database_url)
    db = ("--db", database_url)
    code, out, err = cli("create-project", "g", "--from", str(media_root / DATASET),
                         "--suggestions", "after_first", "--class-list", "smg", *db)  # fmt: skip
    assert (code, err) == (0, "") and "suggestions after_first" in out
    dataset_clips = [
        json.loads(line) for line in (media_root / DATASET / "clips.jsonl").read_text().splitlines()
    ]
    path = write_suggestions(
        tmp_path / "pred.json",
        [(c["clip_id"], [{"attributes": FOLD, "score": 0.7}, {"attributes": RUB_EYES, "score": 0.9}])
         for c in dataset_clips],
        source={"kind": "model", "run": "runs/x"},
    )  # fmt: skip
    code, out, err = cli("import-suggestions", "--project", "g", str(path), *db)
    assert (code, err) == (0, "")
    assert "Imported 12 suggestions for 6 clips into g (suggestion mode after_first)" in out
    engine = store.create_db_engine(database_url)
    try:
        with Session(engine) as session:
            project = store.get_project_by_name(session, name="g")
            clip = store.list_clips(session, project=project)[0]
            offered = store.offered_suggestions(session, clip=clip, project=project)
            assert [(s.source, s.attributes) for s in offered[:2]] == [
                ("model", RUB_EYES), ("model", FOLD)
            ]  # fmt: skip
            assert store.current_import(session, project=project).source["run"] == "runs/x"
    finally:
        engine.dispose()

    bad = tmp_path / "bad.json"
    data = json.loads(path.read_text())
    data["clips"][-1]["clip_id"] = "elsewhere"
    bad.write_text(json.dumps(data))
    line = _one_line_error(*cli("import-suggestions", "--project", "g", str(bad), *db)[::2])
    assert f"{bad}: clip 'elsewhere' is not a clip of project 'g'" in line
    line = _one_line_error(*cli("import-suggestions", "--project", "nope", str(path), *db)[::2])
    assert "project 'nope' does not exist" in line
    line = _one_line_error(
        *cli("import-suggestions", "--project", "g", str(tmp_path / "x"), *db)[::2]
    )
    assert "suggestions file not found" in line
    line = _one_line_error(*cli("create-project", "h", "--from", str(media_root / DATASET),
                                "--suggestions", "always", *db)[::2])  # fmt: skip
    assert "suggestion mode 'always' is unknown" in line
    line = _one_line_error(*cli("create-project", "h", "--from", str(media_root / DATASET),
                                "--class-list", str(tmp_path / "none.json"), *db)[::2])  # fmt: skip
    assert "none.json: class list file not found" in line


def _suggesting_world(url: str, media_root: Path, password_hash: str, bo_values: dict):
    """Ann and Bo label the first clip (Bo with `bo_values`, choosing a suggestion), in a
    project that offers suggestions at once with a model's suggestions for every clip."""
    app, admin = _world_app(url, media_root, password_hash)
    pid = admin.post(
        "/api/v1/projects",
        json={"name": "p", "dataset_dir": DATASET, "suggestion_mode": "at_once"},
    ).json()["id"]
    for name in ("ann", "bo"):
        assert admin.post(f"/api/v1/projects/{pid}/members", json={"username": name}).is_success
    clips = admin.get(f"/api/v1/projects/{pid}/clips").json()
    body = suggestions_body({c["clip_id"]: [(RUB_EYES, 0.6), (FOLD, 0.3)] for c in clips})
    assert admin.post(f"/api/v1/projects/{pid}/suggestions", json=body).status_code == 201
    ann, csrf = _client(app, "ann")
    bo, _ = _client(app, "bo")
    clip = ann.post(f"/api/v1/projects/{pid}/next").json()
    chosen = {"shown": True, "chosen": {"source": "model", "attributes": RUB_EYES}}
    mine = ann.post(
        f"/api/v1/clips/{clip['id']}/annotations",
        json={"attributes": RUB_EYES, "suggestion": chosen},
    )
    assert bo.post(f"/api/v1/projects/{pid}/next").json()["id"] == clip["id"]
    theirs = bo.post(
        f"/api/v1/clips/{clip['id']}/annotations",
        json={"attributes": bo_values, "suggestion": chosen},
    )
    assert mine.status_code == theirs.status_code == 201
    return app, ann, csrf, [c["id"] for c in clips]


def test_suggestions_are_the_same_whatever_another_annotator_labelled(
    database_url, second_database_url, media_root, password_hash
):
    worlds = [
        _suggesting_world(database_url, media_root, password_hash, RUB_EYES),  # Bo agrees
        _suggesting_world(second_database_url, media_root, password_hash, TOUCH_NECK),
    ]
    try:
        views = []
        for _, ann, csrf, clip_ids in worlds:
            seen = {}
            for clip_id in clip_ids:
                reply = ann.get(f"/api/v1/clips/{clip_id}/suggestions")
                assert reply.status_code == 200
                seen[clip_id] = reply.content.replace(csrf.encode(), b"<csrf>")
            views.append(seen)
        assert list(views[0]) == list(views[1])  # the same clip ids in both worlds
        _assert_same(*views)
        first = json.loads(views[0][worlds[0][3][0]])
        assert [s["attributes"] for s in first["suggestions"][:2]] == [RUB_EYES, FOLD]
    finally:
        for app, ann, _, _ in worlds:
            ann.close()
            app.state.engine.dispose()
