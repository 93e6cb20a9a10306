import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fgtext.compose import compose_fg_text
from fgtext.dataset import (
    FORMAT,
    Clip,
    DatasetWriter,
    open_dataset,
    validate_dataset,
    write_dataset,
)
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS, default_schema, load_class_list

SCHEMA = default_schema()
CLASSES = load_class_list("smg")


def labelled(clip_id, cls=1, split="train", k=0, **extra):
    attrs = dict(CLASSES[cls].attributes[k])
    return dict(
        clip_id=clip_id, video=f"videos/{clip_id}.mp4", label=cls, split=split,
        attributes=attrs, text=compose_fg_text(attrs), status="consensus",
        annotations=[{"annotator": "ann-1", "attributes": attrs}, {"annotator": "ann-2", "attributes": attrs}],
        **extra,
    )  # fmt: skip


def make(tmp_path, clips, **kw):
    return write_dataset(tmp_path / "ds", clips, name="demo", schema=SCHEMA, classes=CLASSES, **kw)


def test_round_trip_preserves_every_field(tmp_path):
    rows = [
        labelled("a", 1, "train"),
        labelled("b", 2, "validation", start_frame=10, end_frame=58),
        dict(
            clip_id="c",
            video="/data/smg/Sample0001.mp4",
            start_frame=0,
            end_frame=30,
            label=0,
            split="test",
        ),
    ]
    agreement = {"initiator": {"krippendorff_alpha": 0.8, "ci95": [0.7, 0.9]}}
    root = make(tmp_path, rows, agreement=agreement, source={"importer": "test"})
    ds = open_dataset(root)
    assert [c.model_dump(exclude_defaults=False) for c in ds.clips()] == [
        Clip.model_validate(r).model_dump() for r in rows
    ]
    assert ds.info.format == FORMAT and ds.info.splits == {"test": 1, "train": 1, "validation": 1}
    assert ds.info.agreement == agreement and ds.info.source == {"importer": "test"}
    assert (
        ds.classes[3].text
        == "A video of a person showing the micro-gesture: " + CLASSES[3].name + "."
    )
    assert [c.clip_id for c in ds.clips("validation")] == ["b"]
    assert ds.video_path(next(ds.clips("train"))) == root / "videos" / "a.mp4"
    assert str(ds.video_path(next(ds.clips("test")))) == "/data/smg/Sample0001.mp4"
    assert len(ds) == 3


def test_parquet_has_the_same_rows_flattened(tmp_path):
    root = make(tmp_path, [labelled("a"), labelled("b", 4, "test")], parquet=True)
    table = pq.read_table(root / "clips.parquet").to_pylist()
    assert [r["clip_id"] for r in table] == ["a", "b"]
    for row, clip in zip(table, open_dataset(root).clips(), strict=True):
        assert {d: row[d] for d in DIMENSIONS} == clip.attributes
        assert row["text"] == clip.text and row["label"] == clip.label
        assert row["annotations"] == [
            {"annotator": a.annotator, **a.attributes} for a in clip.annotations
        ]


def test_dataset_card_loads_with_hugging_face_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    confidence = {"initiator": 0.5, "receiver": 0.25, "direction": 1.0, "motion_type": 0.75}
    rows = [
        labelled("a", confidence=confidence), labelled("b"),
        dict(clip_id="u", video="v.mp4", label=0, split="test"),
    ]  # fmt: skip
    root = make(tmp_path, rows)
    loaded = datasets.load_dataset(str(root), cache_dir=str(tmp_path / "hf"))["clips"]
    assert loaded.to_list() == [json.loads(line) for line in (root / "clips.jsonl").open()]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"status": "consensus", "attributes": None, "text": None}, "needs attributes and text"),
        ({"label": 17}, "label 17 is not a class id"),
        ({"split": "train set"}, "'split'"),
        ({"start_frame": 10, "end_frame": 5}, "must be after start_frame"),
        ({"start_frame": 10}, "come together"),
        ({"attributes": dict(initiator="tail", receiver="none", direction="static", motion_type="rub")}, "unknown initiator 'tail'"),
        ({"colour": "red"}, "'colour'"),
    ],
)  # fmt: skip
def test_writer_rejects_bad_rows_and_leaves_nothing_behind(tmp_path, row, message):
    with pytest.raises(FgTextError, match=message):
        make(tmp_path, [labelled("a"), {**labelled("b"), **row}])
    assert not (tmp_path / "ds").exists()
    assert list(tmp_path.iterdir()) == []  # the staging folder is gone too


def test_writer_refuses_to_overwrite_unless_asked_and_keeps_old_data_on_failure(tmp_path):
    make(tmp_path, [labelled("a")])
    with pytest.raises(FgTextError, match="--overwrite"):
        make(tmp_path, [labelled("b")])
    with pytest.raises(FgTextError, match="duplicate clip_id 'b'"):
        make(tmp_path, [labelled("b"), labelled("b")], overwrite=True)
    assert [c.clip_id for c in open_dataset(tmp_path / "ds").clips()] == ["a"]
    make(tmp_path, [labelled("c")], overwrite=True)
    assert [c.clip_id for c in open_dataset(tmp_path / "ds").clips()] == ["c"]


def edit_jsonl(root, lineno, change):
    lines = (root / "clips.jsonl").read_text().splitlines()
    lines[lineno - 1] = change(lines[lineno - 1])
    (root / "clips.jsonl").write_text("\n".join(lines) + "\n")


def test_reader_names_file_and_line_of_a_bad_row(tmp_path):
    root = make(tmp_path, [labelled("a"), labelled("b"), labelled("c")])
    edit_jsonl(root, 2, lambda s: s.replace('"motion_type":"rub"', '"motion_type":"flap"'))
    with pytest.raises(FgTextError) as e:
        list(open_dataset(root).clips())
    assert "clips.jsonl line 2" in str(e.value) and "unknown motion_type 'flap'" in str(e.value)
    edit_jsonl(root, 3, lambda s: s[:-5])
    with pytest.raises(FgTextError, match="line 2"):
        list(open_dataset(root).clips())


def test_reader_refuses_unknown_major_version(tmp_path):
    root = make(tmp_path, [labelled("a")])
    meta = json.loads((root / "dataset.json").read_text())
    meta["format"] = "fgtext-dataset/3"
    (root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(
        FgTextError,
        match=r"'fgtext-dataset/3' is not supported .*\(reads fgtext-dataset/1, fgtext-dataset/2\)",
    ):
        open_dataset(root)
    meta["format"] = "coco/1"
    (root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(FgTextError, match="not an FG-Text dataset"):
        open_dataset(root)


def test_validate_checks_videos_and_split_counts(tmp_path):
    root = make(tmp_path, [labelled("a"), labelled("b", split="test")])
    with pytest.raises(FgTextError, match=r"video 'videos/a.mp4' not found and 1 more"):
        validate_dataset(root)
    report = validate_dataset(root, check_videos=False)
    assert report == {"clips": 2, "splits": {"train": 1, "test": 1}, "status": {"consensus": 2}}
    meta = json.loads((root / "dataset.json").read_text())
    meta["splits"]["train"] = 5
    (root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(FgTextError, match=r"do not match clips\.jsonl"):
        validate_dataset(root, check_videos=False)


def test_not_a_dataset(tmp_path):
    with pytest.raises(FgTextError, match=r"no dataset\.json"):
        open_dataset(tmp_path)


def test_card_shows_agreement_rounded(tmp_path):
    agreement = {"initiator": {"krippendorff_alpha": 0.71650092, "ci95": [0.60980506, 0.81396669]},
                 "tuple": {"krippendorff_alpha": None, "ci95": None}}  # fmt: skip
    root = make(tmp_path, [labelled("a")], agreement=agreement)
    card = (root / "README.md").read_text()
    assert "| initiator | 0.717 | 0.610–0.814 |" in card
    assert "| tuple | — | — |" in card


# -- format versions ------------------------------------------------------------------------------

OLD = Path(__file__).parent / "data" / "dataset-v1"  # written by the fgtext-dataset/1 writer


def test_an_old_format_dataset_still_reads():
    ds = open_dataset(OLD)
    assert ds.info.format == "fgtext-dataset/1" and ds.info.annotators == {}
    clips = list(ds.clips())
    assert [(c.clip_id, c.status, c.confidence) for c in clips] == [
        ("c1", "consensus", None), ("c2", "adjudicated", None), ("c3", "unlabelled", None),
    ]  # fmt: skip
    assert clips[1].attributes == dict(CLASSES[1].attributes[0])
    assert (clips[1].start_frame, clips[1].end_frame) == (3, 20)
    assert [a.annotator for a in clips[2].annotations] == ["ann-1", "ann-2"]
    assert ds.info.agreement["initiator"]["krippendorff_alpha"] == 0.5
    assert validate_dataset(OLD, check_videos=False)["status"] == {
        "consensus": 1, "adjudicated": 1, "unlabelled": 1,
    }  # fmt: skip


def test_version_1_has_no_confidence_nor_annotators(tmp_path):
    root = tmp_path / "old"
    shutil.copytree(OLD, root)
    rows = (root / "clips.jsonl").read_text().splitlines()
    rows[0] = rows[0].replace(
        '"status":"consensus"',
        '"status":"consensus","confidence":'
        '{"initiator":1,"receiver":1,"direction":1,"motion_type":1}',
    )
    (root / "clips.jsonl").write_text("\n".join(rows) + "\n")
    with pytest.raises(FgTextError, match="clip 'c1' has a confidence, which fgtext-dataset/1"):
        list(open_dataset(root).clips())
    meta = json.loads((root / "dataset.json").read_text())
    (root / "dataset.json").write_text(json.dumps(meta | {"annotators": {"a": {}}}))
    with pytest.raises(FgTextError, match="'annotators' is not in fgtext-dataset/1"):
        open_dataset(root)


def test_confidence_and_annotator_accuracies_round_trip(tmp_path):
    confidence = {"initiator": 0.99, "receiver": 0.9, "direction": 0.95, "motion_type": 1.0}
    rows = [labelled("a", confidence=confidence), labelled("b")]
    with DatasetWriter(tmp_path / "ds", name="demo", schema=SCHEMA, classes=CLASSES,
                       parquet=True) as w:  # fmt: skip
        for r in rows:
            w.add(r)
        w.annotators = {
            "ann-1": {d: 0.9 for d in DIMENSIONS},
            "ann-2": {d: None for d in DIMENSIONS},
        }
    ds = open_dataset(tmp_path / "ds")
    assert ds.info.format == FORMAT == "fgtext-dataset/2"
    assert [c.confidence for c in ds.clips()] == [confidence, None]
    assert ds.info.annotators["ann-1"] == {d: 0.9 for d in DIMENSIONS}
    assert ds.info.annotators["ann-2"]["initiator"] is None
    flat = pq.read_table(tmp_path / "ds" / "clips.parquet").to_pylist()
    assert flat[0]["confidence"] == confidence and flat[1]["confidence"] is None
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "| ann-1 | 0.900 | 0.900 | 0.900 | 0.900 |" in card


@pytest.mark.parametrize(
    ("confidence", "message"),
    [
        ({"initiator": 0.9}, "one posterior per dimension"),
        ({d: 1.5 for d in DIMENSIONS}, "probabilities from 0 to 1"),
    ],
)
def test_bad_confidence_is_a_clear_error(tmp_path, confidence, message):
    with pytest.raises(FgTextError, match=message):
        make(tmp_path, [labelled("a", confidence=confidence)])
    unlabelled = dict(clip_id="u", video="v.mp4", label=0, split="test", confidence=None)
    make(tmp_path, [unlabelled], overwrite=True)  # null confidence is fine without labels
