"""Suggestions in the store, on both back ends: class typicals at project creation, the
suggestion mode, importing model suggestions (whole or not at all), what is offered for a clip,
what a submission records, and the label records of the bias figures. Export and agreement
read none of it."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from fgtext import store
from fgtext.agreement.suggestion_bias import suggestion_bias
from fgtext.compose import compose_fg_text
from fgtext.dataset import ClassInfo
from fgtext.errors import FgTextError
from fgtext.schema import Schema, default_schema, load_class_list
from fgtext.suggestions import FORMAT
from tests.fgtext.store.helpers import make_project

SMG = load_class_list("smg")
IMIGUE = load_class_list("imigue")
RUB = {"initiator": "right_hand", "receiver": "eyes", "direction": "back_and_forth",
       "motion_type": "rub"}  # fmt: skip
FOLD = {"initiator": "both_arms", "receiver": "chest", "direction": "inward",
        "motion_type": "fold"}  # fmt: skip
NECK = {"initiator": "left_hand", "receiver": "neck", "direction": "static",
        "motion_type": "touch"}  # fmt: skip


def suggestions_file(clips: dict[str, list[tuple[dict, float]]], **source) -> dict:
    return {
        "format": FORMAT,
        "source": {"kind": "model", **source},
        "schema": {"name": "micro-gesture", "version": default_schema().version},
        "clips": [
            {"clip_id": cid, "suggestions": [{"attributes": a, "score": s} for a, s in rows]}
            for cid, rows in clips.items()
        ],
    }


def typicals(session, project) -> dict[str, list]:
    return {c.name: c.typical for c in store.project_classes(session, project=project)}


def stored_suggestions(session, project) -> list[tuple[str, int, dict, float]]:
    return [
        (clip_id, s.rank, s.attributes, s.score)
        for s, clip_id in session.exec(
            select(store.ModelSuggestion, store.Clip.clip_id)
            .join(store.Clip, store.Clip.id == store.ModelSuggestion.clip_id)
            .where(store.ModelSuggestion.project_id == project.id)
            .order_by(store.ModelSuggestion.clip_id, store.ModelSuggestion.rank)
        )
    ]


# -- class suggestions at creation ----------------------------------------------------------


def test_a_dataset_project_gets_its_classes_typicals_by_name(session, admin, synth_dataset):
    project = store.create_project_from_dataset(
        session, name="synth", dataset_dir=synth_dataset, actor=admin, media_root=synth_dataset,
    )  # fmt: skip
    # fgtext synth's classes are SMG's first ones
    assert typicals(session, project) == {c.name: [dict(a) for a in c.attributes] for c in SMG[:3]}
    assert project.suggestion_mode == "off"
    created = session.exec(
        select(store.AuditEvent).where(store.AuditEvent.action == "project.create")
    ).one()
    assert created.payload["classes_with_typical"] == 3
    assert created.payload["suggestion_mode"] == "off"


def test_names_match_case_insensitively_trimmed_in_the_list_that_knows_most_of_them(session, admin):
    classes = [ClassInfo(id=0, name="  TOUCH hat ", text="t"),
               ClassInfo(id=1, name="Biting nails", text="t"),
               ClassInfo(id=2, name="touching or scratching neck", text="t"),
               ClassInfo(id=3, name="juggling", text="t")]  # fmt: skip
    project = store.create_project(
        session, name="p", schema=default_schema(), classes=classes, actor=admin
    )
    imigue = {c.name: [dict(a) for a in c.attributes] for c in IMIGUE}
    assert typicals(session, project) == {
        "  TOUCH hat ": imigue["touch hat"],
        "Biting nails": imigue["biting nails"],
        # iMiGUE's, not SMG's: its list matched most
        "touching or scratching neck": imigue["touching or scratching neck"],
        "juggling": [],
    }
    smg = {c.name: [dict(a) for a in c.attributes] for c in SMG}
    assert imigue["touching or scratching neck"] != smg["touching or scratching neck"]


def test_a_class_list_given_fills_typicals_and_values_outside_the_schema_are_refused(
    session, admin, synth_dataset, tmp_path
):
    custom = tmp_path / "classes.json"
    custom.write_text(json.dumps({"format": "fgtext-classes/1", "classes": [
        {"id": 0, "name": SMG[1].name.upper(), "attributes": [FOLD, RUB]},
        {"id": 1, "name": "not in the dataset", "attributes": [NECK]},
    ]}))  # fmt: skip
    project = store.create_project_from_dataset(
        session, name="custom", dataset_dir=synth_dataset, actor=admin, class_list=custom,
        suggestion_mode="at_once",
    )  # fmt: skip
    assert list(typicals(session, project).values()) == [[], [FOLD, RUB], []]
    assert project.suggestion_mode == "at_once"

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"classes": [
        {"id": 0, "name": SMG[0].name, "attributes": [{**RUB, "receiver": "moon"}]}
    ]}))  # fmt: skip
    with pytest.raises(FgTextError, match=r"bad.json: class 0: unknown receiver 'moon'") as error:
        store.create_project_from_dataset(
            session, name="bad", dataset_dir=synth_dataset, actor=admin, class_list=bad
        )
    assert len(str(error.value).splitlines()) == 1
    unrelated = tmp_path / "unrelated.txt"
    unrelated.write_text("juggling\nwhistling\n")
    with pytest.raises(FgTextError, match="names none of the project's classes"):
        store.create_project_from_dataset(
            session, name="bad", dataset_dir=synth_dataset, actor=admin, class_list=unrelated
        )
    with pytest.raises(store.InvalidInputError, match="suggestion mode 'sometimes' is unknown"):
        store.create_project_from_dataset(
            session, name="bad", dataset_dir=synth_dataset, actor=admin,
            suggestion_mode="sometimes",
        )  # fmt: skip
    assert [p.name for p in store.list_projects(session)] == ["custom"]


def test_a_matched_class_keeps_only_the_combinations_its_schema_allows(session, admin):
    spec = default_schema().to_dict()
    del spec["dimensions"]["initiator"]["values"]["left_hand"]  # a reduced vocabulary
    schema = Schema.from_dict(spec)
    classes = [ClassInfo(id=0, name=SMG[1].name, text="t")]  # rubbing eyes and forehead
    project = store.create_project(session, name="p", schema=schema, classes=classes, actor=admin)
    expected = [dict(a) for a in SMG[1].attributes if a["initiator"] != "left_hand"]
    assert len(expected) < len(SMG[1].attributes)
    assert typicals(session, project) == {SMG[1].name: expected}


# -- mode, import, offer --------------------------------------------------------------------


def test_the_suggestion_mode_is_set_and_audited(session, admin):
    project = make_project(session, admin, n_clips=1, k=1)
    assert project.suggestion_mode == "off"
    store.set_suggestion_mode(session, project=project, mode="after_first", actor=admin)
    assert store.get_project(session, project_id=project.id).suggestion_mode == "after_first"
    with pytest.raises(store.InvalidInputError, match="expected one of off, after_first, at_once"):
        store.set_suggestion_mode(session, project=project, mode="on", actor=admin)
    last = session.exec(select(store.AuditEvent).order_by(store.AuditEvent.id.desc())).first()
    assert (last.action, last.payload) == (
        "project.suggestion_mode", {"old": "off", "new": "after_first"}
    )  # fmt: skip


def test_an_import_replaces_the_previous_one_and_records_where_it_came_from(session, admin):
    project = make_project(session, admin, n_clips=3, k=1)
    first = store.import_suggestions(
        session, project=project, actor=admin,
        data=suggestions_file({"c000": [(FOLD, 0.2), (RUB, 0.9)], "c001": [(NECK, 0.5)]},
                              run="runs/a"),
    )  # fmt: skip
    assert (first.clips, first.suggestions, first.source) == (
        2,
        3,
        {"kind": "model", "run": "runs/a"},
    )
    assert stored_suggestions(session, project) == [
        ("c000", 0, RUB, 0.9), ("c000", 1, FOLD, 0.2), ("c001", 0, NECK, 0.5)
    ]  # fmt: skip
    second = store.import_suggestions(
        session, project=project, actor=None, data=suggestions_file({"c002": [(RUB, 1.0)]})
    )
    assert stored_suggestions(session, project) == [("c002", 0, RUB, 1.0)]
    assert store.current_import(session, project=project).id == second.id
    assert session.get(store.SuggestionImport, first.id).cleared_at is not None
    events = session.exec(
        select(store.AuditEvent).where(store.AuditEvent.action == "suggestions.import")
    ).all()
    assert [(e.actor_id, e.payload["suggestions"], e.payload["replaced"]) for e in events] == [
        (admin.id, 3, 0), (None, 1, 3)
    ]  # fmt: skip
    assert store.clear_suggestions(session, project=project, actor=admin) == 1
    assert stored_suggestions(session, project) == []
    assert store.current_import(session, project=project) is None


@pytest.mark.parametrize(
    ("clips", "message"),
    [
        ({"c000": [(RUB, 0.9)], "c001": [(NECK, 0.1)], "nope": [(FOLD, 0.3)]},
         "clip 'nope' is not a clip of project 'p'"),
        ({"c000": [(RUB, 0.9)], "c001": [({**NECK, "direction": "sideways"}, 0.1)]},
         "clip 'c001': suggestion 1: unknown direction 'sideways'"),
        ({"c000": [(RUB, 0.9), (RUB, 0.8)]}, "clip 'c000': suggestion 2 repeats an earlier one"),
    ],
)  # fmt: skip
def test_a_bad_file_stores_nothing_and_the_earlier_import_stays(session, admin, clips, message):
    project = make_project(session, admin, n_clips=3, k=1)
    earlier = store.import_suggestions(
        session, project=project, actor=admin, data=suggestions_file({"c002": [(FOLD, 0.4)]})
    )
    with pytest.raises(store.InvalidInputError, match=message) as error:
        store.import_suggestions(
            session, project=project, actor=admin, data=suggestions_file(clips), where="f.json: "
        )
    assert str(error.value).startswith("f.json: ") and "\n" not in str(error.value)
    assert stored_suggestions(session, project) == [("c002", 0, FOLD, 0.4)]
    assert store.current_import(session, project=project).id == earlier.id
    assert len(session.exec(select(store.SuggestionImport)).all()) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "expected a JSON object"),
        ({"format": "fgtext-suggestions/2", "clips": []}, "is not supported"),
        ({**suggestions_file({}), "source": {"run": "a\x00b"}}, "field 'source.run': must not contain a NUL"),
        ({**suggestions_file({}), "source": {"x": {"y": "\ud800"}}}, "field 'source.x.y': must be valid"),
        ({**suggestions_file({}), "source": {"x": float("nan")}}, "field 'source.x': nan is not"),
        ({**suggestions_file({}), "source": {"x": "y" * 20_000}}, "at most 10000 are kept"),
        ({**suggestions_file({"c000": [(RUB, float("inf"))]})}, "score"),
    ],
)  # fmt: skip
def test_what_cannot_be_stored_is_refused(session, admin, data, message):
    project = make_project(session, admin, n_clips=1, k=1)
    with pytest.raises(store.InvalidInputError, match=message):
        store.import_suggestions(session, project=project, actor=admin, data=data)
    assert session.exec(select(store.SuggestionImport)).all() == []


def offered(session, project, clip_id: str) -> list[tuple[str, dict, float | None]]:
    clip = session.exec(
        select(store.Clip).where(store.Clip.project_id == project.id, store.Clip.clip_id == clip_id)
    ).one()
    project = store.get_project(session, project_id=project.id)
    return [
        (s.source, s.attributes, s.score)
        for s in store.offered_suggestions(session, clip=clip, project=project)
    ]


def test_model_suggestions_best_first_then_the_class_typicals_not_listed_at_most_nine(
    session, admin
):
    project = make_project(session, admin, n_clips=3, k=1)  # SMG's first two classes
    smg1 = [dict(a) for a in SMG[1].attributes]  # c001 is of class 1: rubbing eyes, 3 typicals
    assert offered(session, project, "c001") == []  # the mode is off
    store.set_suggestion_mode(session, project=project, mode="at_once", actor=admin)
    assert offered(session, project, "c001") == [("class", a, None) for a in smg1]
    store.import_suggestions(
        session, project=project, actor=admin,
        data=suggestions_file({"c001": [(FOLD, 0.1), (smg1[1], 0.7)], "c000": [(NECK, 0.3)]}),
    )  # fmt: skip
    assert offered(session, project, "c001") == [
        ("model", smg1[1], 0.7), ("model", FOLD, 0.1),
        ("class", smg1[0], None), ("class", smg1[2], None),
    ]  # fmt: skip
    # nine at most: eight model suggestions leave room for one of the class's
    values = default_schema().values("receiver")
    eight = [({**RUB, "receiver": r}, 1.0 - i / 10) for i, r in enumerate(values[:8])]
    assert smg1[1] not in [a for a, _ in eight]
    store.import_suggestions(
        session, project=project, actor=admin, data=suggestions_file({"c001": eight})
    )
    shown = offered(session, project, "c001")
    assert len(shown) == 9 and shown[:8] == [("model", a, s) for a, s in eight]
    assert shown[8][0] == "class" and shown[8][1] in smg1
    clip = session.exec(select(store.Clip).where(store.Clip.clip_id == "c001")).one()
    texts = [s.text for s in store.offered_suggestions(session, clip=clip, project=project)]
    assert texts[0] == compose_fg_text(eight[0][0], store.project_schema(project))


# -- what a submission records --------------------------------------------------------------


def test_a_submission_records_what_was_shown_chosen_and_accepted(session, admin, make_annotators):
    project = make_project(session, admin, n_clips=4, k=2)
    store.set_suggestion_mode(session, project=project, mode="at_once", actor=admin)
    store.import_suggestions(
        session, project=project, actor=admin, data=suggestions_file({"c000": [(NECK, 0.8)]})
    )
    ann, bo = make_annotators(2, project)
    clips = store.list_clips(session, project=project)
    typical = [dict(a) for a in SMG[0].attributes]  # c000's class
    cases = [
        (ann, clips[0], NECK, {"shown": True, "chosen": {"source": "model", "attributes": NECK}}),
        (bo, clips[0], RUB, {"shown": True, "chosen": {"source": "class", "attributes": typical[0]}}),
        (ann, clips[1], RUB, {"shown": True, "chosen": None}),
        (bo, clips[1], RUB, None),
        (ann, clips[2], RUB, {"shown": False, "chosen": None}),
    ]  # fmt: skip
    stored = [
        store.submit_annotation(session, clip=c, user=u, attributes=v, suggestion=s)
        for u, c, v, s in cases
    ]
    assert [(a.suggestions_shown, a.suggestion_chosen, a.suggestion_accepted) for a in stored] == [
        (True, {"source": "model", "attributes": NECK}, True),
        (True, {"source": "class", "attributes": typical[0]}, False),
        (True, None, None),
        (False, None, None),
        (False, None, None),
    ]
    # an edit describes no first submission: the record stays
    edited = store.update_annotation(
        session, annotation=stored[0], user=ann, attributes=RUB, expected_version=1
    )
    assert (edited.version, edited.suggestion_accepted, edited.suggestion_chosen["source"]) == (
        2, True, "model"
    )  # fmt: skip
    event = session.exec(
        select(store.AuditEvent)
        .where(store.AuditEvent.action == "annotation.submit")
        .order_by(store.AuditEvent.id)
    ).first()
    assert event.payload["suggestion"]["suggestion_accepted"] is True


@pytest.mark.parametrize(
    ("mode", "suggestion", "message"),
    [
        ("off", {"shown": True, "chosen": None}, "suggestion.shown is true"),
        ("at_once", {"shown": False, "chosen": {"source": "class", "attributes": RUB}},
         "suggestion.chosen is given but suggestion.shown is false"),
        ("at_once", {"shown": True, "chosen": {"source": "model", "attributes": RUB}},
         "suggestion.chosen is not one of the suggestions offered"),
        ("at_once", {"shown": True, "chosen": {"source": "class", "attributes": NECK}},
         "suggestion.chosen is not one of the suggestions offered"),
        ("at_once", {"shown": True, "chosen": {"source": "human", "attributes": NECK}},
         "suggestion.chosen must be"),
        ("at_once", {"shown": True, "chosen": {"source": "class", "attributes": {**RUB, "receiver": "moon"}}},
         "suggestion.chosen.attributes: receiver 'moon' is not allowed"),
    ],
)  # fmt: skip
def test_a_choice_that_was_not_offered_is_refused_and_nothing_is_stored(
    session, admin, make_annotators, mode, suggestion, message
):
    project = make_project(session, admin, n_clips=2, k=1)
    store.set_suggestion_mode(session, project=project, mode=mode, actor=admin)
    store.import_suggestions(
        session, project=project, actor=admin, data=suggestions_file({"c000": [(NECK, 0.8)]})
    )
    (ann,) = make_annotators(1, project)
    c001 = store.list_clips(session, project=project)[1]  # class 1: NECK is c000's model one
    with pytest.raises(store.InvalidInputError, match=message):
        store.submit_annotation(session, clip=c001, user=ann, attributes=RUB, suggestion=suggestion)
    assert session.exec(select(store.Annotation)).all() == []


def test_shown_needs_something_to_show(session, admin, make_annotators):
    project = store.create_project(
        session, name="p", schema=default_schema(), actor=admin, suggestion_mode="at_once",
        classes=[ClassInfo(id=0, name="juggling", text="t")],
    )  # fmt: skip
    session.add(store.Clip(project_id=project.id, clip_id="c", video="/v.mp4", label=0, split="t"))
    session.commit()
    (ann,) = make_annotators(1, project)
    clip = store.list_clips(session, project=project)[0]
    with pytest.raises(store.InvalidInputError, match="clip 'c' has no suggestions to show"):
        store.submit_annotation(
            session, clip=clip, user=ann, attributes=RUB, suggestion={"shown": True}
        )


# -- for the bias figures -------------------------------------------------------------------


def test_label_records_give_each_labels_condition_time_and_the_gold_values(
    session, admin, make_annotators
):
    project = make_project(session, admin, n_clips=3, k=2)
    store.set_suggestion_mode(session, project=project, mode="at_once", actor=admin)
    ann, bo = make_annotators(2, project)
    c0, c1, c2 = store.list_clips(session, project=project)
    store.mark_gold(session, clip=c2, attributes=FOLD, actor=admin)
    typical0 = dict(SMG[0].attributes[0])
    typical1 = dict(SMG[1].attributes[0])
    chose = {"shown": True, "chosen": {"source": "class", "attributes": typical0}}
    store.submit_annotation(session, clip=c0, user=ann, attributes=typical0, suggestion=chose,
                            seconds_spent=3.0)  # fmt: skip
    store.submit_annotation(session, clip=c0, user=bo, attributes=RUB, suggestion=chose,
                            seconds_spent=9.5)  # fmt: skip
    store.submit_annotation(session, clip=c1, user=ann, attributes=typical1,
                            suggestion={"shown": True})  # fmt: skip
    store.submit_annotation(session, clip=c2, user=bo, attributes=FOLD, seconds_spent=4.0)
    labels = store.suggestion_label_records(session, project=project)
    assert [tuple(r) for r in labels.records] == [
        (c0.id, "ann0", typical0, "accepted", 3.0),
        (c0.id, "ann1", RUB, "edited", 9.5),
        (c1.id, "ann0", typical1, "edited", None),  # shown, none chosen: even if equal to one
        (c2.id, "ann1", FOLD, "not_shown", 4.0),
    ]
    assert labels.gold == {c2.id: FOLD}
    # what the dashboard computes from them
    figures = suggestion_bias(labels.records, gold=labels.gold, n_bootstrap=0)
    assert {c: f["n_annotations"] for c, f in figures["conditions"].items()} == {
        "not_shown": 1, "accepted": 1, "edited": 2
    }  # fmt: skip
    assert figures["conditions"]["not_shown"]["accuracy"]["tuple"]["correct"] == 1
    assert figures["conditions"]["accepted"]["seconds"] == {"median": 3.0, "n_timed": 1}
    # ... and what it shows: gold clips in accuracy only, as the agreement report has it
    assert store.count_suggested_labels(session, project=project) == 3
    shown = store.project_suggestion_bias(session, project=project)
    assert shown == suggestion_bias(
        labels.records, gold=labels.gold, n_bootstrap=1000, gold_in_agreement=False
    )
    assert session.get(store.SuggestionBiasCache, project.id).figures == shown


def test_export_and_agreement_are_the_same_with_or_without_suggestions(
    engine, admin, synth_dataset, make_annotators, tmp_path
):
    """Two projects of one dataset get the same labels, one through chosen suggestions."""
    with Session(engine) as session:
        plain, suggested = (
            store.create_project_from_dataset(
                session,
                name=name,
                dataset_dir=synth_dataset,
                annotators_per_clip=2,
                actor=admin,
                media_root=synth_dataset,
                suggestion_mode=mode,
            )
            for name, mode in (("plain", "off"), ("suggested", "at_once"))
        )
        users = make_annotators(2)
        for project in (plain, suggested):
            for user in users:
                store.add_member(session, project=project, user=user, actor=admin)
            for i, clip in enumerate(store.list_clips(session, project=project)):
                typical = dict(SMG[clip.label].attributes[0])
                for user, values in zip(users, (typical, RUB if i % 3 else typical), strict=True):
                    chosen = {"source": "class", "attributes": typical}
                    use = {"shown": True, "chosen": chosen} if project is suggested else None
                    store.submit_annotation(
                        session, clip=clip, user=user, attributes=values, suggestion=use
                    )
        reports = [store.project_agreement(session, project=p) for p in (plain, suggested)]
        assert reports[0] == reports[1]
        rows = []
        for project in (plain, suggested):
            out = store.export_project(
                session, project=project, out_dir=tmp_path / project.name, include_unfinished=True
            )
            rows.append((out / "clips.jsonl").read_bytes())
        assert rows[0] == rows[1] and rows[0].count(b"\n") == 12
