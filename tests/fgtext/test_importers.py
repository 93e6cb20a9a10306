"""Importers: SMG, iMiGUE, CSV and folder manifests; write_manifest with and without --cut.

Fixture trees are built here with tiny real H.264 videos (64x48) whose frame i is a flat grey of
intensity 8 + 4*i, so a decoded frame tells which source frame it is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import numpy as np
import pytest

from fgtext.dataset import open_dataset, validate_dataset
from fgtext.errors import FgTextError
from fgtext.importers import (
    SMG_OFFICIAL_SPLIT,
    Manifest,
    SubjectSplit,
    import_csv,
    import_folder,
    import_imigue,
    import_smg,
    normalize_split,
    write_manifest,
)
from fgtext.schema import ClassDef, load_class_list

FRAMES = 60


def make_video(path: Path, frames: int = FRAMES, *, width: int = 64, height: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "4", "preset": "ultrafast"}
        for i in range(frames):
            picture = np.full((height, width, 3), 8 + 4 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def frame_numbers(path: Path) -> list[int]:
    """The source frame index each decoded frame shows (from its grey level)."""
    with av.open(str(path)) as video:
        means = [f.to_ndarray(format="rgb24").mean() for f in video.decode(video=0)]
    numbers = [round((m - 8) / 4) for m in means]
    assert all(abs(m - (8 + 4 * n)) < 1.5 for m, n in zip(means, numbers, strict=True))
    return numbers


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def error(fn, *args, **kwargs) -> str:
    with pytest.raises(FgTextError) as info:
        fn(*args, **kwargs)
    return str(info.value)


# -- splits -------------------------------------------------------------------------------------


def test_subject_split_parse_and_assign():
    split = SubjectSplit.parse("1,3,5-7", validation="10-11")
    assert split.test == frozenset({1, 3, 5, 6, 7})
    assert split.validation == frozenset({10, 11})
    assert [split.split_of(s) for s in (1, 6, 10, 2, 40)] == [
        "test",
        "test",
        "validation",
        "train",
        "train",
    ]
    assert SubjectSplit.parse("36-40") == SMG_OFFICIAL_SPLIT
    assert SubjectSplit.parse(" 36 - 40 ,").test == frozenset(range(36, 41))
    assert SubjectSplit.parse("").test == frozenset()


@pytest.mark.parametrize(
    ("test", "validation", "message"),
    [
        ("36-40", "40", "subject 40 is in both the test and the validation subjects"),
        ("36-x", "", "test subjects '36-x': '36-x' is not a subject number or a range"),
        ("40-36", "", "'40-36' is not a subject number or a range like 36-40"),
        ("36", "a", "validation subjects 'a'"),
    ],
)
def test_subject_split_errors(test, validation, message):
    assert message in error(SubjectSplit.parse, test, validation)


def test_normalize_split():
    assert [normalize_split(s) for s in ("train", "VAL", "validate", "Test")] == [
        "train",
        "validation",
        "validation",
        "test",
    ]
    assert "unknown split 'dev'; allowed: train, validation (or val), test" in error(
        normalize_split, "dev"
    )


# -- SMG ----------------------------------------------------------------------------------------

SMG_LABELS = {
    "Sample0001": "5,1,10\n17,20,35\n",
    "Sample0002": "1,5,14\n3,10,20\n2,41,60\n",  # rows 0 and 1 overlap (frames 9..13)
    "Sample0036": "8,30,30\n",  # a one-frame segment
    "Sample0040": "12,2,3\n16,50,59\n",
}


@pytest.fixture(scope="module")
def smg_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("smg") / "SMG"
    for sample, rows in SMG_LABELS.items():
        write(root / sample / f"{sample}_finelabels.csv", rows)
        write(root / sample / f"{sample}_skeleton.csv", "0\n")
        make_video(root / sample / f"{sample}_color.mp4")
    return root


def rows(manifest: Manifest) -> list[tuple]:
    return [(c.clip_id, c.label, c.start_frame, c.end_frame, c.split) for c in manifest.clips]


def test_import_smg_official_split(smg_root):
    m = import_smg(smg_root)
    assert m.name == "smg"
    assert [c.name for c in m.classes] == [c.name for c in load_class_list("smg")]
    assert rows(m) == [
        ("Sample0001_000", 4, 0, 10, "train"),
        ("Sample0001_001", 16, 19, 35, "train"),
        ("Sample0002_000", 0, 4, 14, "train"),
        ("Sample0002_001", 2, 9, 20, "train"),
        ("Sample0002_002", 1, 40, 60, "train"),
        ("Sample0036_000", 7, 29, 30, "test"),
        ("Sample0040_000", 11, 1, 3, "test"),
        ("Sample0040_001", 15, 49, 59, "test"),
    ]
    assert m.clips[0].video == str(smg_root / "Sample0001" / "Sample0001_color.mp4")
    assert all(Path(c.video).is_absolute() and c.status == "unlabelled" for c in m.clips)
    assert all(c.attributes is None and c.text is None for c in m.clips)
    assert m.source["importer"] == "smg"
    assert m.source["root"] == str(smg_root)
    assert m.source["split_rule"] == {
        "by": "subject",
        "test": [36, 37, 38, 39, 40],
        "validation": [],
        "train": "every other subject",
        "subject_of": r"regex Sample(\d+)",
    }
    assert m.split_counts() == {"test": 3, "train": 5}


def test_import_smg_overridden_split_with_validation(smg_root):
    m = import_smg(smg_root, split=SubjectSplit.parse("40", validation="2,36"))
    assert {c.clip_id: c.split for c in m.clips} == {
        "Sample0001_000": "train",
        "Sample0001_001": "train",
        "Sample0002_000": "validation",
        "Sample0002_001": "validation",
        "Sample0002_002": "validation",
        "Sample0036_000": "validation",
        "Sample0040_000": "test",
        "Sample0040_001": "test",
    }
    assert m.source["split_rule"]["validation"] == [2, 36]


def test_import_smg_paper_protocol_from_the_cli(tmp_path, capsys):
    """--protocol paper: FG-SGL's three-way split, subjects 31-35 validation and 36-40 test."""
    from fgtext.cli import main

    root = tmp_path / "SMG"
    for sample in ("Sample0030", "Sample0031", "Sample0035", "Sample0036", "Sample0040"):
        write(root / sample / f"{sample}_finelabels.csv", "3,1,10\n")
        make_video(root / sample / f"{sample}_color.mp4", 12)

    def run(*args: str) -> int:
        try:
            main(["import", "smg", str(root), "--out", str(tmp_path / "o"), "--overwrite", *args])
        except SystemExit as e:
            return int(e.code or 0)
        return 0

    assert run("--protocol", "paper") == 0
    splits = {c.clip_id: c.split for c in open_dataset(tmp_path / "o").clips()}
    assert splits == {
        "Sample0030_000": "train",
        "Sample0031_000": "validation",
        "Sample0035_000": "validation",
        "Sample0036_000": "test",
        "Sample0040_000": "test",
    }
    assert run("--protocol", "paper", "--val-subjects", "30") == 0  # an override wins
    splits = {c.clip_id: c.split for c in open_dataset(tmp_path / "o").clips()}
    assert splits["Sample0030_000"] == "validation" and splits["Sample0031_000"] == "train"
    capsys.readouterr()
    assert run("--protocol", "miga") == 1
    assert "unknown --protocol 'miga'; expected one of official, paper" in capsys.readouterr().err


def test_import_smg_subject_map_and_regex(smg_root, tmp_path):
    mapping = write(
        tmp_path / "subjects.csv",
        "sample,subject\nSample0001,38\nSample0002,2\nSample0036,3\nSample0040,4\n",
    )
    m = import_smg(smg_root, subject_of=mapping)
    assert {c.clip_id.split("_")[0]: c.split for c in m.clips} == {
        "Sample0001": "test",
        "Sample0002": "train",
        "Sample0036": "train",
        "Sample0040": "train",
    }
    assert m.source["split_rule"]["subject_of"] == "map of 4 samples"
    # A regex whose number is not the whole sample number: Sample00(\d)(\d) -> the last digit.
    m = import_smg(smg_root, subject_of=r"Sample00\d(\d)", split=SubjectSplit.parse("6"))
    assert {c.split for c in m.clips if c.clip_id.startswith("Sample0036")} == {"test"}
    assert "sample 'Sample0036' is not in the subject map" in error(
        import_smg, smg_root, subject_of={"Sample0001": 1, "Sample0002": 2}
    )


def test_import_smg_separate_video_tree(tmp_path):
    """The MiGA release: labels in smg_skeleton_<split>/, videos in SMG_RGB_Phase1/."""
    labels = tmp_path / "smg_data_phase1" / "smg_skeleton_train"
    write(labels / "Sample0031" / "Sample0031_finelabels.csv", "6,3,8\n")
    video = make_video(
        tmp_path / "SMG_RGB_Phase1" / "smg_rgb_train" / "Sample0031" / "Sample0031_color.mp4", 10
    )
    m = import_smg(labels, video_root=tmp_path / "SMG_RGB_Phase1")
    assert rows(m) == [("Sample0031_000", 5, 2, 8, "train")]
    assert m.clips[0].video == str(video)
    assert "Sample0031_color.mp4 does not exist" in error(import_smg, labels)


def test_import_smg_other_video_pattern_and_frame_convention(tmp_path):
    write(tmp_path / "Sample0007" / "Sample0007_finelabels.csv", "label,start,end\n2,0,5\n")
    make_video(tmp_path / "Sample0007" / "rgb" / "Sample0007.mp4", 10)
    m = import_smg(tmp_path, video_pattern="rgb/{sample}.mp4", frame_base=0, end_inclusive=False)
    assert rows(m) == [("Sample0007_000", 1, 0, 5, "train")]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("5,1,10\n5;2;9\n", "Sample0009_finelabels.csv line 2: expected 'label,start,end'"),
        ("5,1,10\n\n7,2\n", "line 3: expected 'label,start,end' (three whole numbers), got '7,2'"),
        ("5,1,x\n", "line 1: expected 'label,start,end' (three whole numbers), got '5,1,x'"),
        ("18,1,10\n", "line 1: label 18 is outside 1..17 (the 17 classes, 1-based)"),
        ("5,1,10\n0,1,10\n", "line 2: label 0 is outside 1..17"),
        ("5,0,10\n", "line 1: start frame 0 is before the first frame 1"),
        ("5,10,9\n", "line 1: end frame 9 is not after start frame 10"),
    ],
)
def test_import_smg_bad_label_rows(tmp_path, labels, message):
    write(tmp_path / "Sample0009" / "Sample0009_finelabels.csv", labels)
    make_video(tmp_path / "Sample0009" / "Sample0009_color.mp4", 12)
    text = error(import_smg, tmp_path)
    assert message in text
    assert str(tmp_path / "Sample0009" / "Sample0009_finelabels.csv") in text


def test_import_smg_missing_inputs(tmp_path):
    assert "no SMG label files found (expected SampleNNNN/SampleNNNN_finelabels.csv)" in error(
        import_smg, tmp_path
    )
    assert "SMG folder not found" in error(import_smg, tmp_path / "nope")
    labels = write(tmp_path / "Sample0003" / "Sample0003_finelabels.csv", "1,1,2\n")
    text = error(import_smg, tmp_path)
    assert f"{labels}: the RGB video of Sample0003 is missing" in text
    assert "Sample0003_color.mp4 does not exist" in text
    make_video(tmp_path / "Sample0003" / "Sample0003_color.mp4", 3)
    write(labels, "")
    assert "the SMG label files contain no segments" in error(import_smg, tmp_path)
    write(labels, "1,1,2\n")
    write(tmp_path / "Recording1" / "Recording1_finelabels.csv", "1,1,2\n")
    assert "cannot tell the subject of sample 'Recording1'" in error(import_smg, tmp_path)


# -- write_manifest -----------------------------------------------------------------------------


def test_write_manifest_cut_smg(smg_root, tmp_path):
    manifest = import_smg(smg_root)
    calls: list[tuple[int, int]] = []
    out = write_manifest(
        manifest, tmp_path / "ds", cut=True, progress=lambda d, t: calls.append((d, t))
    )
    assert out == tmp_path / "ds"
    assert calls == [(i, 8) for i in range(1, 9)]
    ds = open_dataset(out)
    assert validate_dataset(out) == {
        "clips": 8,
        "splits": {"train": 5, "test": 3},
        "status": {"unlabelled": 8},
    }
    clips = {c.clip_id: c for c in ds.clips()}
    assert list(clips) == [c.clip_id for c in manifest.clips]
    for source in manifest.clips:
        clip = clips[source.clip_id]
        assert clip.video == f"videos/{source.clip_id}.mp4"
        assert clip.start_frame is None and clip.end_frame is None
        assert (clip.label, clip.split) == (source.label, source.split)
        # exactly the frames start..end-1 of the source, in order (overlaps included)
        assert frame_numbers(ds.video_path(clip)) == list(
            range(source.start_frame, source.end_frame)
        )
    with av.open(str(ds.video_path(clips["Sample0002_002"]))) as video:
        stream = video.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 64, 48)
        assert stream.average_rate == 30
    info = json.loads((out / "dataset.json").read_text())
    assert info["source"]["importer"] == "smg"
    assert info["source"]["split_rule"]["test"] == [36, 37, 38, 39, 40]
    assert info["source"]["cut"]["codec"] == "libx264"
    assert info["splits"] == {"test": 3, "train": 5}
    assert [c["name"] for c in info["classes"]][:2] == [
        "turtling neck and shoulder",
        "rubbing eyes and forehead",
    ]
    assert sorted(p.name for p in (out / "videos").iterdir()) == sorted(
        f"{c.clip_id}.mp4" for c in manifest.clips
    )


def test_write_manifest_without_cut_keeps_segments(smg_root, tmp_path):
    manifest = import_smg(smg_root)
    out = write_manifest(manifest, tmp_path / "ds", parquet=True)
    assert validate_dataset(out)["clips"] == 8
    clips = list(open_dataset(out).clips("test"))
    assert [(c.clip_id, c.video, c.start_frame, c.end_frame) for c in clips] == [
        (c.clip_id, c.video, c.start_frame, c.end_frame)
        for c in manifest.clips
        if c.split == "test"
    ]
    assert (out / "clips.parquet").is_file()
    assert not (out / "videos").exists()
    assert "exists and is not empty" in error(write_manifest, manifest, out)
    write_manifest(manifest, out, overwrite=True)


def test_segment_past_the_end_of_the_video(tmp_path):
    labels = write(tmp_path / "smg" / "Sample0005" / "Sample0005_finelabels.csv", "1,1,4\n2,8,14\n")
    make_video(tmp_path / "smg" / "Sample0005" / "Sample0005_color.mp4", 12)
    text = error(import_smg, tmp_path / "smg")
    assert f"{labels} line 2: the segment ends after the last frame of Sample0005_color.mp4" in text
    assert "(12 frames; this segment needs frames up to 13, 0-based)" in text
    # A manifest made some other way is caught when cutting, and nothing is left behind.
    write(labels, "1,1,4\n2,8,12\n")
    manifest = import_smg(tmp_path / "smg")
    manifest.clips[1] = manifest.clips[1].model_copy(update={"end_frame": 14})
    text = error(write_manifest, manifest, tmp_path / "ds", cut=True)
    assert "Sample0005_color.mp4: has only 12 frames, but clip Sample0005_001 needs frames" in text
    assert not (tmp_path / "ds").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["smg"]  # no staging folder left behind


def test_write_manifest_cut_copies_whole_clips_and_checks_ids(tmp_path):
    make_video(tmp_path / "a.mp4", 5)
    clip_rows = "path,class,split,clip_id\na.mp4,x,train,a one\n"
    manifest = import_csv(write(tmp_path / "clips.csv", clip_rows))
    assert "with --cut the clip id names its file" in error(
        write_manifest, manifest, tmp_path / "ds", cut=True
    )
    manifest = import_csv(write(tmp_path / "clips.csv", "path,class,split\na.mp4,x,train\n"))
    out = write_manifest(manifest, tmp_path / "ds", cut=True)
    (clip,) = open_dataset(out).clips()
    assert clip.video == "videos/a.mp4"
    assert (out / "videos" / "a.mp4").read_bytes() == (tmp_path / "a.mp4").read_bytes()


# -- iMiGUE -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imigue_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("imigue") / "iMiGUE"
    for rel in ("train/0001/0001_0", "train/0001/0001_1", "val/0002/0002_0", "test/0003/0003_0"):
        make_video(root / f"{rel}.mp4", 3)
    write(root / "train_list.txt", "0001_0.mp4 1\n0001_1.mp4 99\n")
    write(root / "val_list.txt", "# validation clips\n\n0002_0.mp4 32\n")
    write(root / "test_list.txt", "test/0003/0003_0.mp4 17\n")
    write(root / "README.txt", "not a list\n")
    return root


def test_import_imigue_lists(imigue_root):
    m = import_imigue(imigue_root)
    assert [c.name for c in m.classes] == [c.name for c in load_class_list("imigue")]
    assert len(m.classes) == 32
    assert [(c.clip_id, c.label, c.split, c.video) for c in m.clips] == [
        ("0003_0", 16, "test", str(imigue_root / "test/0003/0003_0.mp4")),
        ("0001_0", 0, "train", str(imigue_root / "train/0001/0001_0.mp4")),
        ("0001_1", 31, "train", str(imigue_root / "train/0001/0001_1.mp4")),
        ("0002_0", 31, "validation", str(imigue_root / "val/0002/0002_0.mp4")),
    ]
    assert m.classes[31].name == "illustrative hand gestures"
    assert all(c.start_frame is None for c in m.clips)
    assert m.source["split_rule"]["lists"]["validation"] == str(imigue_root / "val_list.txt")
    assert m.source["options"]["label_aliases"] == {"99": 32}


def test_import_imigue_explicit_lists_and_label_base(imigue_root, tmp_path):
    lst = write(tmp_path / "mine.txt", "0002_0.mp4 0\n0001_1.mp4 31\n")
    m = import_imigue(imigue_root, lists={"val": lst}, label_base=0)
    assert [(c.clip_id, c.label, c.split) for c in m.clips] == [
        ("0002_0", 0, "validation"),
        ("0001_1", 31, "validation"),
    ]
    text = error(import_imigue, imigue_root, lists={"dev": lst})
    assert "unknown split 'dev'; allowed: train, validation (or val), test" in text
    assert "clip list for the train split not found" in error(
        import_imigue, imigue_root, lists={"train": tmp_path / "none.txt"}
    )


def test_import_imigue_miga_label_csv_layout(tmp_path):
    root = tmp_path / "imigue_rgb_phase1"
    write(root / "imigue_rgb_train" / "0004" / "0004_label.csv", "3,10,40\n99,50,80\n")
    for k in (0, 1):
        make_video(root / "imigue_rgb_train" / "0004" / f"0004_{k}.mp4", 2)
    write(root / "imigue_rgb_validate" / "0009" / "0009_label.csv", "32,1,9\n")
    make_video(root / "imigue_rgb_validate" / "0009" / "0009_0.mp4", 2)
    m = import_imigue(root)
    assert [(c.clip_id, c.label, c.split) for c in m.clips] == [
        ("0004_0", 2, "train"),
        ("0004_1", 31, "train"),
        ("0009_0", 31, "validation"),
    ]
    assert m.source["split_rule"]["by"] == "folders"
    write(root / "imigue_rgb_train" / "0004" / "0004_label.csv", "3,10,40\n99,50,80\n5,1,2\n")
    text = error(import_imigue, root)
    assert "0004_label.csv line 3: video '0004_2.mp4' not found under" in text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0001_0.mp4 33", "train_list.txt line 1: label 33 is not a class: expected 1..32, or 99"),
        ("0001_0.mp4 0", "line 1: label 0 is not a class: expected 1..32"),
        ("0001_0.mp4", "line 1: expected '<clip>.mp4 <label>', got '0001_0.mp4'"),
        ("0001_0.mp4 3 extra", "line 1: expected '<clip>.mp4 <label>'"),
        ("0001_0.mp4 three", "line 1: expected '<clip>.mp4 <label>', got '0001_0.mp4 three'"),
        ("0001_0.jpg 3", "line 1: '0001_0.jpg' is not a video file name"),
        ("0007_0.mp4 3", "train_list.txt line 1: video '0007_0.mp4' not found under"),
        ("0001_0.mp4 3\n0001_0.mp4 4", "line 2: duplicate clip id '0001_0' (first at"),
    ],
)
def test_import_imigue_bad_lists(tmp_path, line, message):
    make_video(tmp_path / "clips" / "0001" / "0001_0.mp4", 2)
    lst = write(tmp_path / "train_list.txt", line + "\n")
    text = error(import_imigue, tmp_path)
    assert message in text
    assert str(lst) in text


def test_import_imigue_nothing_found(tmp_path):
    assert "no clip lists (train/val/test .txt files) and no <id>/<id>_label.csv" in error(
        import_imigue, tmp_path
    )
    write(tmp_path / "train.txt", "\n")
    write(tmp_path / "train_list.txt", "\n")
    assert "two clip lists for the train split (train.txt, train_list.txt)" in error(
        import_imigue, tmp_path
    )


# -- CSV ----------------------------------------------------------------------------------------


def test_import_csv_names_segments_and_inferred_classes(tmp_path):
    make_video(tmp_path / "videos" / "long.mp4", 20)
    make_video(tmp_path / "videos" / "short.mp4", 4)
    csv_file = write(
        tmp_path / "clips.csv",
        "video,class,split,start_frame,end_frame\n"
        "videos/long.mp4,rubbing eyes,train,0,5\n"
        "videos/long.mp4,Arms akimbo,val,5,12\n"
        f"{tmp_path / 'videos' / 'short.mp4'},rubbing eyes,test,,\n",
    )
    m = import_csv(csv_file)
    assert m.name == "clips"
    assert [(c.id, c.name) for c in m.classes] == [(0, "Arms akimbo"), (1, "rubbing eyes")]
    assert [(c.clip_id, c.label, c.split, c.start_frame, c.end_frame) for c in m.clips] == [
        ("long_0_5", 1, "train", 0, 5),
        ("long_5_12", 0, "validation", 5, 12),
        ("short", 1, "test", None, None),
    ]
    assert m.clips[0].video == str(tmp_path / "videos" / "long.mp4")
    assert m.source["options"]["classes_inferred"] is True
    out = write_manifest(m, tmp_path / "ds", cut=True)
    long_clip = next(c for c in open_dataset(out).clips() if c.clip_id == "long_5_12")
    assert frame_numbers(out / long_clip.video) == list(range(5, 12))


def test_import_csv_with_a_class_list(tmp_path):
    make_video(tmp_path / "a.mp4", 2)
    csv_file = write(
        tmp_path / "c.csv",
        "path,class,split,clip_id\n"
        "a.mp4,folding arms,train,c1\n"
        "a.mp4,16,validation,c2\n"
        "a.mp4,Folding_Arms,test,c3\n",
    )
    m = import_csv(csv_file, classes="smg")
    assert len(m.classes) == 17
    assert [(c.clip_id, c.label) for c in m.clips] == [("c1", 2), ("c2", 16), ("c3", 2)]
    custom = [ClassDef(id=0, name="a"), ClassDef(id=1, name="b")]
    write(csv_file, "path,class,split\na.mp4,b,train\n")
    assert import_csv(csv_file, classes=custom).clips[0].label == 1


@pytest.mark.parametrize(
    ("body", "classes", "message"),
    [
        ("a.mp4,jumping,train\n", "smg", "c.csv line 2: unknown class 'jumping'; expected a class"),
        ("a.mp4,17,train\n", "smg", "line 2: unknown class '17'"),
        ("a.mp4,x,train\na.mp4,3,train\n", None, "line 3: class '3' is a number but no class"),
        ("a.mp4,x,dev\n", None, "line 2: unknown split 'dev'; allowed: train, validation (or val)"),
        ("b.mp4,x,train\n", None, "line 2: video 'b.mp4' not found"),
        ("a.mp4,x,train,c1\na.mp4,y,test,c1\n", None, "line 3: duplicate clip id 'c1'"),
        ("\n\n", None, "c.csv: no rows"),
    ],
)
def test_import_csv_errors(tmp_path, body, classes, message):
    make_video(tmp_path / "a.mp4", 2)
    header = "path,class,split,clip_id\n" if "c1" in body else "path,class,split\n"
    text = error(import_csv, write(tmp_path / "c.csv", header + body), classes=classes)
    assert message in text
    assert str(tmp_path / "c.csv") in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,class,split\n", "missing column path (or video); the header must name"),
        ("path,label\n", "missing column class, split"),
        ("path,class,split,start_frame,end_frame\na.mp4,x,train,3,\n", "line 2: start_frame and"),
        (
            "path,class,split,start_frame,end_frame\na.mp4,x,train,3,3\n",
            "end_frame 3 must be after",
        ),
        ("path,class,split,start_frame,end_frame\na.mp4,x,train,-1,3\n", "whole numbers >= 0"),
        ("path,class,split,start_frame,end_frame\na.mp4,x,train,0,3\n", "line 2: the segment ends"),
    ],
)
def test_import_csv_bad_columns(tmp_path, text, message):
    make_video(tmp_path / "a.mp4", 2)
    assert message in error(import_csv, write(tmp_path / "c.csv", text))


# -- folder -------------------------------------------------------------------------------------


def test_import_folder_with_split_dirs(tmp_path):
    for rel in (
        "train/folding_arms/1",
        "train/arms akimbo/2",
        "val/folding_arms/3",
        "test/arms akimbo/1",
    ):
        make_video(tmp_path / "data" / f"{rel}.mp4", 2)
    write(tmp_path / "data" / "train" / "folding_arms" / "notes.txt", "ignored\n")
    m = import_folder(tmp_path / "data")
    assert m.name == "data"
    assert [c.name for c in m.classes] == ["arms akimbo", "folding_arms"]
    assert [(c.clip_id, c.label, c.split) for c in m.clips] == [
        ("test-arms_akimbo-1", 0, "test"),
        ("train-arms_akimbo-2", 0, "train"),
        ("train-folding_arms-1", 1, "train"),
        ("validation-folding_arms-3", 1, "validation"),
    ]
    m = import_folder(tmp_path / "data", classes="smg")
    assert [c.label for c in m.clips] == [8, 8, 2, 2]
    # split_dirs off: the top-level folders are classes (holding no videos directly here)
    make_video(tmp_path / "data" / "val" / "4.mp4", 2)
    m = import_folder(tmp_path / "data", split_dirs=False, default_split="test")
    assert [(c.clip_id, c.split) for c in m.clips] == [("val-4", "test")]
    assert [c.name for c in m.classes] == ["val"]


def test_import_folder_without_split_dirs(tmp_path):
    make_video(tmp_path / "touching ears" / "x.mp4", 2)
    make_video(tmp_path / "touch hat" / "y.mov", 2)
    m = import_folder(tmp_path, classes="imigue", default_split="validation")
    assert [(c.clip_id, c.label, c.split) for c in m.clips] == [
        ("touch_hat-y", 2, "validation"),
        ("touching_ears-x", 8, "validation"),
    ]
    assert m.source["split_rule"] == {"by": "fixed", "split": "validation"}
    out = write_manifest(m, tmp_path / "out" / "ds")
    assert validate_dataset(out)["splits"] == {"validation": 2}


def test_import_folder_errors(tmp_path):
    assert "no videos found (expected <class>/<video>.mp4)" in error(import_folder, tmp_path)
    make_video(tmp_path / "jumping" / "a.mp4", 2)
    text = error(import_folder, tmp_path, classes="smg")
    assert f"{tmp_path / 'jumping'}: folder 'jumping' is not a class; expected a class name" in text
    make_video(tmp_path / "train" / "jumping" / "a.mp4", 2)
    assert "the top-level folders mix a split ('train') with other names ('jumping')" in error(
        import_folder, tmp_path
    )
    make_video(tmp_path / "loose.mp4", 2)
    assert re.search(
        r"loose\.mp4: a video outside a class folder",
        error(import_folder, tmp_path, split_dirs=False),
    )
    assert "unknown split 'dev'" in error(import_folder, tmp_path, default_split="dev")


def test_cli_progress_bar_drives_a_cut(tmp_path):
    from fgtext.cli import progress_bar

    make_video(tmp_path / "v.mp4", 10)
    manifest = import_csv(
        write(tmp_path / "c.csv", "path,class,split,start_frame,end_frame\nv.mp4,a,train,2,6\n")
    )
    with progress_bar("Cutting") as progress:
        write_manifest(manifest, tmp_path / "ds", cut=True, progress=progress)
    (clip,) = open_dataset(tmp_path / "ds").clips()
    assert frame_numbers(tmp_path / "ds" / clip.video) == [2, 3, 4, 5]
