"""The suggestions file format: a written file reads back ranked; every bad input is one
FgTextError naming the clip and the problem."""

from __future__ import annotations

import json

import pytest

from fgtext.errors import FgTextError
from fgtext.schema import default_schema
from fgtext.suggestions import FORMAT, MAX_SUGGESTIONS_PER_CLIP, read_suggestions, write_suggestions

RUB = {
    "initiator": "right_hand",
    "receiver": "eyes",
    "direction": "back_and_forth",
    "motion_type": "rub",
}
FOLD = {"initiator": "both_arms", "receiver": "chest", "direction": "inward", "motion_type": "fold"}


def _file(tmp_path, clips, **extra):
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps({"format": FORMAT, "source": {"kind": "model"}, "clips": clips, **extra})
    )
    return path


def test_a_written_file_reads_back_best_first(tmp_path):
    schema = default_schema()
    path = write_suggestions(
        tmp_path / "out" / "s.json",
        [("a", [{"attributes": FOLD, "score": 0.1}, {"attributes": RUB, "score": 0.9, "text": "t"}]),
         ("b", [{"attributes": RUB, "score": -0.5}])],
        source={"kind": "model", "run": "r"}, schema=schema,
    )  # fmt: skip
    parsed = read_suggestions(path, schema=schema)
    assert [c.clip_id for c in parsed.clips] == ["a", "b"]
    assert [s.attributes for s in parsed.clips[0].suggestions] == [RUB, FOLD]
    assert parsed.clips[0].suggestions[0].score == 0.9
    assert parsed.source == {"kind": "model", "run": "r"}
    assert json.loads(path.read_text())["schema"] == {
        "name": schema.name,
        "version": schema.version,
    }
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize(
    ("clips", "message"),
    [
        (
            [{"clip_id": "a", "suggestions": [{"attributes": RUB, "score": 1}]}] * 2,
            "clip 'a': listed twice",
        ),
        ([{"clip_id": "a", "suggestions": []}], "clips.0.suggestions"),
        (
            [
                {
                    "clip_id": "a",
                    "suggestions": [
                        {"attributes": RUB, "score": i} for i in range(MAX_SUGGESTIONS_PER_CLIP + 1)
                    ],
                }
            ],
            "at most 9",
        ),
        (
            [
                {
                    "clip_id": "a",
                    "suggestions": [{"attributes": {**RUB, "receiver": "moon"}, "score": 1}],
                }
            ],
            "suggestion 1: ",
        ),
        (
            [{"clip_id": "a", "suggestions": [{"attributes": {"initiator": "head"}, "score": 1}]}],
            "suggestion 1 has dimensions",
        ),
        (
            [
                {
                    "clip_id": "a",
                    "suggestions": [
                        {"attributes": RUB, "score": 1},
                        {"attributes": RUB, "score": 0},
                    ],
                }
            ],
            "suggestion 2 repeats",
        ),
        ([{"clip_id": "a", "suggestions": [{"attributes": RUB, "score": "high"}]}], "score"),
        ([{"clip_id": "a\x00", "suggestions": [{"attributes": RUB, "score": 1}]}], "NUL"),
        ([{"clip_id": "a", "suggestions": [{"attributes": RUB, "score": 1e-320}]}], "normal"),
        (
            [{"clip_id": "a", "suggestions": [{"attributes": RUB, "score": 1, "colour": "red"}]}],
            "colour",
        ),
    ],
)
def test_bad_files_are_one_clear_error(tmp_path, clips, message):
    with pytest.raises(FgTextError, match=message.replace("(", r"\(")):
        read_suggestions(_file(tmp_path, clips), schema=default_schema())


@pytest.mark.parametrize("score", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_scores_are_refused(tmp_path, score):
    path = tmp_path / "s.json"
    row = json.dumps({"format": FORMAT, "clips": [{"clip_id": "a", "suggestions": [
        {"attributes": RUB, "score": "SCORE"}]}]})  # fmt: skip
    path.write_text(row.replace('"SCORE"', score))  # json.dumps would not write these
    with pytest.raises(FgTextError, match="score"):
        read_suggestions(path)


def test_not_a_suggestions_file(tmp_path):
    for content, message in (
        ("[1, 2]", "expected a JSON object"),
        ('{"format": "fgtext-dataset/2"}', "not a suggestions file"),
        ('{"format": "fgtext-suggestions/2", "clips": []}', "not supported"),
        ("{not json", "not valid JSON"),
    ):
        path = tmp_path / "s.json"
        path.write_text(content)
        with pytest.raises(FgTextError, match=message):
            read_suggestions(path)
    with pytest.raises(FgTextError, match="not found"):
        read_suggestions(tmp_path / "missing.json")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(FgTextError, match="nested too deeply"):
        read_suggestions(deep)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"format": "caf\xe9"}')
    with pytest.raises(FgTextError, match="not UTF-8"):
        read_suggestions(latin)


def test_the_writer_refuses_what_a_reader_would(tmp_path):
    with pytest.raises(FgTextError, match="repeats"):
        write_suggestions(
            tmp_path / "s.json", [("a", [{"attributes": RUB, "score": 1}] * 2)], source={}
        )
    assert not (tmp_path / "s.json").exists()
