"""The `fgtext` command from a user's side: real files in, exit codes and outputs checked."""

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fgtext.agreement import agreement_report, load_labels
from fgtext.compose import compose_fg_text
from fgtext.dataset import open_dataset
from fgtext.schema import DIMENSIONS
from tests.fgtext.helpers import fgtext


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    code = subprocess.run(
        [sys.executable, "-m", "fgtext.cli", "synth", root / "synth", "--classes", "3",
         "--clips-per-class", "5", "--size", "64x48", "--seconds", "0.8", "--annotators", "3",
         "--annotator-error", "0.2", "--labels", root / "labels.csv"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert code.returncode == 0, code.stderr
    assert "Wrote 15 synthetic clips" in code.stdout
    return root


def test_synth_writes_a_valid_dataset_and_labels(synth_dir, capsys):
    code, out, _ = fgtext(capsys, "validate", synth_dir / "synth")
    assert code == 0 and "OK" in out and "15 clips" in out
    rows = list(csv.DictReader((synth_dir / "labels.csv").open()))
    assert len(rows) == 15 * 3 and set(rows[0]) == {"clip_id", "annotator", "label", *DIMENSIONS}


def test_stats_json_counts(synth_dir, capsys):
    code, out, _ = fgtext(capsys, "stats", synth_dir / "synth", "--json")
    stats = json.loads(out)
    assert code == 0 and stats["clips"] == 15 and stats["classes"] == 3
    assert stats["status"] == {"gold": 15} and stats["annotations_per_clip"] == 3
    assert {name: sum(v.values()) for name, v in stats["per_class"].items()} == {
        c.name: 5 for c in open_dataset(synth_dir / "synth").classes
    }
    code, out, _ = fgtext(capsys, "stats", synth_dir / "synth")
    assert code == 0 and "Clips per class" in out


def test_agreement_json_is_the_library_report(synth_dir, capsys):
    code, out, _ = fgtext(
        capsys, "agreement", synth_dir / "labels.csv", "--json", "--bootstrap", "200"
    )
    assert code == 0
    expected = agreement_report(load_labels(synth_dir / "labels.csv"), n_bootstrap=200).to_dict()
    assert json.loads(out) == json.loads(json.dumps(expected))
    code, out, _ = fgtext(capsys, "agreement", synth_dir / "labels.csv", "--bootstrap", "100")
    assert code == 0 and "Krippendorff" in out
    report = json.loads(json.dumps(expected))
    for dim in (*DIMENSIONS, "tuple"):  # one row per dimension, alpha to 3 decimals
        alpha = report["dimensions"][dim]["krippendorff_alpha"]["value"]
        assert re.search(rf"{dim}\s+│\s+{alpha:.3f}\s", out), dim
    # The per-class table: the labels' `label` column names each clip's class.
    per_class = {d: report["dimensions"][d]["per_class"] for d in (*DIMENSIONS, "tuple")}
    for cls, row in per_class["initiator"].items():
        values = [per_class[d][cls]["krippendorff_alpha"] for d in per_class]
        cells = ["—" if v is None else f"{v:.3f}" for v in values]
        assert re.search(rf"│ {cls}\s+│\s+{row['n_units']} │\s+" + r"\s+│\s+".join(cells), out)


def test_merge_builds_final_dataset_with_agreement(synth_dir, tmp_path, capsys):
    code, out, err = fgtext(capsys, "merge", synth_dir / "synth", synth_dir / "labels.csv",
                            "--out", tmp_path / "final", "--rule", "majority", "--bootstrap", "100")  # fmt: skip
    assert code == 0, err
    ds = open_dataset(tmp_path / "final")
    gold = {c.clip_id: c for c in open_dataset(synth_dir / "synth").clips()}
    labels = list(csv.DictReader((synth_dir / "labels.csv").open()))
    for clip in ds.clips():
        votes = [{d: r[d] for d in DIMENSIONS} for r in labels if r["clip_id"] == clip.clip_id]
        for d in DIMENSIONS:  # the final value has a strict majority of the votes
            assert sum(v[d] == clip.attributes[d] for v in votes) >= 2
        assert clip.text == compose_fg_text(clip.attributes)
        assert Path(clip.video).is_absolute() and Path(clip.video).is_file()
        assert clip.label == gold[clip.clip_id].label and clip.status == "consensus"
    assert set(ds.info.agreement) == {*DIMENSIONS, "tuple"}
    assert f"Wrote {len(ds)} clips" in out


def test_compose_and_schema(capsys):
    code, out, _ = fgtext(capsys, "compose", "right_hand", "eyes", "back_and_forth", "rub")
    assert (code, out) == (0, "The right hand rubs the eyes with a back-and-forth movement.\n")
    code, out, _ = fgtext(capsys, "schema", "--json")
    assert code == 0 and set(json.loads(out)["dimensions"]) == set(DIMENSIONS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compose", "tail", "eyes", "upward", "rub"], "unknown initiator 'tail'"),
        (["validate", "{tmp}"], "not an FG-Text dataset"),
        (["agreement", "{tmp}/nope.csv"], "nope.csv"),
        (["synth", "{tmp}/s", "--size", "big"], "--size 'big': expected WIDTHxHEIGHT"),
        (["import", "csv", "{tmp}/nope.csv", "--out", "{tmp}/o"], "nope.csv"),
        (["import", "smg", "{tmp}", "--out", "{tmp}/o", "--test-subjects", "x"], "x"),
        (["merge", "{tmp}", "{tmp}/l.csv", "--out", "{tmp}/o"], "not an FG-Text dataset"),
    ],
)
def test_user_errors_are_one_line_and_exit_1(tmp_path, capsys, args, message):
    code, _, err = fgtext(capsys, *(a.format(tmp=tmp_path) for a in args))
    assert code == 1
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_labels_value_in_merge_names_clip_and_annotator(synth_dir, tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    rows = list(csv.DictReader((synth_dir / "labels.csv").open()))
    rows[4]["motion_type"] = "flap"
    with labels.open("w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    code, _, err = fgtext(capsys, "merge", synth_dir / "synth", labels, "--out", tmp_path / "m")
    assert code == 1 and "unknown motion_type 'flap'" in err
    assert rows[4]["clip_id"] in err and rows[4]["annotator"] in err
    assert not (tmp_path / "m").exists()


def test_console_script_is_installed_and_reports_errors_without_traceback(tmp_path):
    exe = shutil.which("fgtext", path=str(Path(sys.executable).parent))
    assert exe, "the fgtext console script is not installed in this environment"
    done = subprocess.run([exe, "validate", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "not an FG-Text dataset" in done.stderr
    assert subprocess.run([exe, "--help"], capture_output=True).returncode == 0


def test_round_trip_synth_dataset_reader_and_hugging_face(synth_dir, tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = open_dataset(synth_dir / "synth")
    ours = [c.model_dump() for c in ds.clips()]
    theirs = datasets.load_dataset(str(ds.root), cache_dir=str(tmp_path / "hf"))["clips"].to_list()
    assert theirs == ours and len(ours) == 15


def test_demo_runs_the_pipeline(tmp_path, capsys):
    code, out, err = fgtext(capsys, "demo", "--out", tmp_path / "demo", "--classes", "3",
                            "--clips-per-class", "4")  # fmt: skip
    assert code == 0, err
    for path in ("synthetic/dataset.json", "labels.csv", "agreement.json", "dataset/dataset.json"):
        assert (tmp_path / "demo" / path).is_file(), path
    assert "Consensus labels equal the gold labels" in out
    report = json.loads((tmp_path / "demo" / "agreement.json").read_text())
    assert report["n_clips"] == 12 and report["n_annotators"] == 3


def test_import_csv_with_cut_and_folder(tmp_path, capsys):
    import av
    import numpy as np

    from fgtext.synth import write_mp4

    # Frame i has grey level 8 + 6i, so a cut clip shows which frames it holds.
    frames = np.stack([np.full((48, 64, 3), 8 + 6 * i, np.uint8) for i in range(30)])
    write_mp4(frames, tmp_path / "raw" / "long.mp4", fps=10)
    (tmp_path / "clips.csv").write_text(
        "path,class,split,start_frame,end_frame\n"
        "raw/long.mp4,nodding,train,5,15\nraw/long.mp4,shrugging,test,20,30\n"
    )
    code, out, err = fgtext(capsys, "import", "csv", tmp_path / "clips.csv", "--out",
                            tmp_path / "ds", "--cut")  # fmt: skip
    assert code == 0, err
    assert "Wrote 2 clips (test 1, train 1) in 2 classes" in out
    ds = open_dataset(tmp_path / "ds")
    assert [c.name for c in ds.classes] == ["nodding", "shrugging"]
    first, second = ds.clips()
    assert (first.label, first.split, first.start_frame) == (0, "train", None)
    assert (second.label, second.split, second.video) == (1, "test", f"videos/{second.clip_id}.mp4")
    with av.open(str(ds.video_path(first))) as container:
        grey = [f.to_ndarray(format="gray").mean() for f in container.decode(video=0)]
    assert np.allclose(grey, [8 + 6 * i for i in range(5, 15)], atol=3)

    for split, cls in (("train", "nodding"), ("test", "nodding"), ("test", "shrugging")):
        write_mp4(frames[:10], tmp_path / "tree" / split / cls / "a.mp4", fps=10)
    code, out, err = fgtext(capsys, "import", "folder", tmp_path / "tree", "--out", tmp_path / "f")
    assert code == 0, err
    assert "Wrote 3 clips (test 2, train 1) in 2 classes" in out
    code, out, _ = fgtext(capsys, "validate", tmp_path / "f")
    assert code == 0 and "3 clips" in out
