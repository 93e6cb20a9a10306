import itertools
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fgtext.compose import compose_class_text, compose_fg_text, compose_fg_text_draft
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS, Schema, default_schema, load_class_list, load_schema

SMG = [
    "turtling neck and shoulder", "rubbing eyes and forehead", "folding arms",
    "touching or covering suprasternal notch", "moving legs", "touching or scratching neck",
    "folding arms behind body", "rubbing hands and crossing fingers", "arms akimbo",
    "crossing legs", "scratching some part of body",
    "scratching or touching facial parts other than eyes", "playing or adjusting hair",
    "holding arms", "pulling shirt collar", "playing with jewelry / manipulating objects",
    "illustrative hand gestures",
]  # fmt: skip


def test_dimension_names_are_fixed():
    assert DIMENSIONS == ("initiator", "receiver", "direction", "motion_type")
    assert tuple(default_schema().dimensions) == DIMENSIONS


def test_paper_example_sentence():
    attrs = dict(
        initiator="right_hand", receiver="eyes", direction="back_and_forth", motion_type="rub"
    )
    assert compose_fg_text(attrs) == "The right hand rubs the eyes with a back-and-forth movement."


@pytest.mark.parametrize(
    ("attrs", "sentence"),
    [
        (("both_hands", "hips", "downward", "rest"), "Both hands rest on the hips with a downward movement."),
        (("shoulders", "none", "upward", "raise"), "The shoulders rise with an upward movement."),
        (("head", "none", "upward", "raise"), "The head rises with an upward movement."),
        (("right_hand", "arm", "static", "hold"), "The right hand holds the arm."),
        (("lips", "none", "static", "press"), "The lips press together."),
        (("mouth", "fingernails", "static", "bite"), "The mouth bites the fingernails."),
    ],
)  # fmt: skip
def test_agreement_of_verb_and_intransitive_forms(attrs, sentence):
    assert compose_fg_text(dict(zip(DIMENSIONS, attrs, strict=True))) == sentence


def test_every_combination_of_the_default_vocabulary_renders_one_sentence():
    schema = default_schema()
    vocab = [schema.values(d) for d in DIMENSIONS]
    n = 0
    for combo in itertools.product(*vocab):
        attrs = dict(zip(DIMENSIONS, combo, strict=True))
        text = compose_fg_text(attrs, schema)
        subject = schema.phrase("initiator", attrs["initiator"])
        receiver = schema.phrase("receiver", attrs["receiver"])["text"]
        direction = schema.phrase("direction", attrs["direction"])["text"]
        motion = schema.phrase("motion_type", attrs["motion_type"])
        assert text[0].isupper() and text.endswith(".") and text.count(".") == 1, text
        assert "  " not in text and " ." not in text, text
        assert text.lower().startswith(subject["text"].lower() + " "), text
        assert receiver in text and direction in text
        # Subject-verb agreement: a plural subject takes the plural (base) verb form.
        form = "plural_text" if subject.get("plural") else "text"
        if not receiver:
            form = "intransitive_" + form if f"intransitive_{form}" in motion else form
        assert f" {motion[form]}" in text, (text, form)
        n += 1
    assert n == 19 * 35 * 13 * 26


def test_deterministic():
    a = dict(initiator="left_hand", receiver="neck", direction="up_and_down", motion_type="scratch")
    assert len({compose_fg_text(a) for _ in range(5)}) == 1


def test_unknown_value_names_dimension_value_and_allowed_values():
    attrs = dict(initiator="tail", receiver="none", direction="static", motion_type="shake")
    with pytest.raises(FgTextError) as e:
        compose_fg_text(attrs)
    msg = str(e.value)
    assert "initiator" in msg and "'tail'" in msg and "right_hand" in msg and "both_legs" in msg


def test_missing_and_extra_dimensions_are_rejected():
    schema = default_schema()
    with pytest.raises(FgTextError, match="missing attribute 'direction'"):
        schema.check_attributes(dict(initiator="head", receiver="none", motion_type="shake"))
    with pytest.raises(FgTextError, match="unknown dimension 'speed'"):
        schema.check_attributes(
            dict(
                initiator="head",
                receiver="none",
                direction="static",
                motion_type="shake",
                speed="1",
            )
        )


def test_class_text_template():
    assert compose_class_text("arms akimbo") == (
        "A video of a person showing the micro-gesture: arms akimbo."
    )


@pytest.mark.parametrize(("name", "n"), [("smg", 17), ("imigue", 32)])
def test_default_schema_covers_every_smg_and_imigue_class(name, n):
    classes = load_class_list(name)
    assert len(classes) == n and [c.id for c in classes] == list(range(n))
    for c in classes:
        # Each class is expressible: at least one attribute tuple valid in the default schema.
        assert c.attributes, c.name
        for attrs in c.attributes:
            assert compose_fg_text(attrs)
    if name == "smg":
        assert [c.name for c in classes] == SMG


def test_project_schema_extends_vocabulary_with_custom_templates(tmp_path):
    data = default_schema().to_dict()
    data["version"] = "1.1.0"
    data["dimensions"]["motion_type"]["values"]["wiggle"] = {
        "text": "wiggles",
        "plural_text": "wiggle",
    }
    data["dimensions"]["receiver"]["values"]["pen"] = {}  # phrase defaults to the value's words
    data["templates"]["fg_text"] = "{initiator} {motion} {receiver} {direction} (observed)"
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(data))
    schema = load_schema(path)
    assert schema.version == "1.1.0"
    attrs = dict(initiator="fingers", receiver="pen", direction="static", motion_type="wiggle")
    assert compose_fg_text(attrs, schema) == "The fingers wiggle pen (observed)."
    assert Schema.from_dict(schema.to_dict()) == schema


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"name": "x", "version": "1"}', "missing 'dimensions'"),
        ('{"format": "fgtext-schema/9", "name": "x", "version": "1", "dimensions": {}}', "is not"),
        (
            '{"name": "x", "version": "1", "dimensions": {"initiator": {"values": ["a"]}}}',
            "must be exactly",
        ),
    ],
)
def test_bad_schema_files(tmp_path, content, message):
    path = tmp_path / "schema.json"
    path.write_text(content)
    with pytest.raises(FgTextError, match=message) as e:
        load_schema(path)
    assert str(path) in str(e.value)


def test_plain_text_class_list(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("nodding\n\nshrugging\n")
    assert [(c.id, c.name) for c in load_class_list(path)] == [(0, "nodding"), (1, "shrugging")]
    with pytest.raises(FgTextError, match="not found"):
        load_class_list(tmp_path / "nope.txt")


# "none" and "static" are the empty phrases (no receiver, no direction), so leave them out here.
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).filter(
    lambda w: w not in ("none", "static")
)


@given(st.lists(words, min_size=4, max_size=4), st.booleans())
def test_any_schema_value_renders_a_single_clean_sentence(values, plural):
    data = {
        "name": "p",
        "version": "1",
        "dimensions": {d: {"values": {v: {}}} for d, v in zip(DIMENSIONS, values, strict=True)},
    }
    if plural:
        data["dimensions"]["initiator"]["values"][values[0]] = {"text": values[0], "plural": True}
    schema = Schema.from_dict(data)
    text = compose_fg_text(dict(zip(DIMENSIONS, values, strict=True)), schema)
    assert re.fullmatch(r"[A-Z][a-z]*( [a-z]+)* ?[a-z]*\.", text), text
    initiator, receiver, direction, motion = values
    assert text.lower().rstrip(".").split() == [initiator, motion, receiver, direction]


_VALUES = {d: list(default_schema().dimensions[d]) for d in DIMENSIONS}


@given(st.fixed_dictionaries({d: st.sampled_from(v) for d, v in _VALUES.items()}))
def test_the_live_draft_of_a_full_set_is_the_sentence(attrs):
    assert compose_fg_text_draft(attrs) == compose_fg_text(attrs)


def test_the_live_draft_shows_missing_dimensions_and_refuses_unknown_values():
    assert compose_fg_text_draft({}) == "[initiator] [motion type] [receiver] [direction]."
    assert compose_fg_text_draft({"initiator": "both_hands", "receiver": "none"}) == (
        "Both hands [motion type] [direction]."
    )
    assert compose_fg_text_draft({"motion_type": "rub", "receiver": "eyes", "direction": ""}) == (
        "[initiator] rubs the eyes [direction]."
    )
    with pytest.raises(FgTextError, match="unknown direction 'sideways'"):
        compose_fg_text_draft({"direction": "sideways"})
