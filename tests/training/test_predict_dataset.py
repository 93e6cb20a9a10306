"""`fgsgl-train predict RUN --dataset DATASET --out FILE`: a tiny trained run's suggestions for
every clip of a dataset, checked against `predict` on the same videos, on segments of one long
video, on an unlabelled manifest from `fgtext import`, and on each bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from fgtext.compose import compose_fg_text
from fgtext.dataset import open_dataset
from fgtext.suggestions import read_suggestions
from tests.training.test_train import _assert_one_line_error, run_cli, train_args


@pytest.fixture(scope="module")
def run(synth_dataset, tiny_internvl, text_cache, tmp_path_factory) -> Path:
    """A tiny run whose L_fg has trained (stage 2 from epoch 1)."""
    out = tmp_path_factory.mktemp("runs") / "suggest"
    args = train_args(synth_dataset, tiny_internvl, out, "--epochs", 2, "--stage1-epochs", 1)
    code, _, err = run_cli(args)
    assert code == 0, err
    return out


def predict(run, dataset, out, *extra) -> tuple[int, str, str]:
    return run_cli(["predict", run, "--dataset", dataset, "--out", out, *extra])


def scores_by_clip(path: Path, schema) -> dict[str, list[tuple[dict, float]]]:
    """clip id -> [(attributes, score), ...] as the file lists them (and the reader accepts)."""
    read_suggestions(path, schema=schema)
    clips = json.loads(path.read_text())["clips"]
    return {c["clip_id"]: [(s["attributes"], s["score"]) for s in c["suggestions"]] for c in clips}


def predicted_by_video(run, videos: list[Path], top_k: int) -> list[list[tuple[str, float]]]:
    from training.inference import predict_videos

    results = predict_videos(run, videos, top_k=top_k, device=torch.device("cpu"))
    return [[(t["text"], t["similarity"]) for t in r["fg_texts"]] for r in results]


def assert_same_ranking(suggested: list[tuple[dict, float]], by_video, schema) -> None:
    """The suggestions are `predict`'s nearest FG-Texts of the clip's video, as attributes,
    with the same scores (both one clip a batch: the same float32 sums, bit for bit)."""
    assert [(compose_fg_text(a, schema), s) for a, s in suggested] == by_video


def test_each_clip_gets_the_attributes_of_its_nearest_training_texts(run, synth_dataset, tmp_path):
    dataset = open_dataset(synth_dataset)
    out = tmp_path / "suggestions.json"
    code, stdout, err = predict(
        run, synth_dataset, out, "--split", "test", "--top-k", "3", "--batch-size", "1"
    )
    assert code == 0, err
    assert f"wrote the suggestions for 6 clip(s) to {out}" in err and stdout == ""
    suggested = scores_by_clip(out, dataset.schema)
    test_clips = list(dataset.clips("test"))
    assert list(suggested) == [c.clip_id for c in test_clips]

    from training.text_cache import TextCache

    cache_texts = set(TextCache.load(text_cache_of(run)).texts)
    for ranked in suggested.values():
        scores = [s for _, s in ranked]
        assert len(ranked) == 3 and scores == sorted(scores, reverse=True)
        assert all(compose_fg_text(a, dataset.schema) in cache_texts for a, _ in ranked)
    by_video = predicted_by_video(run, [dataset.video_path(c) for c in test_clips], top_k=3)
    for clip, expected in zip(test_clips, by_video, strict=True):
        assert_same_ranking(suggested[clip.clip_id], expected, dataset.schema)

    source = json.loads(out.read_text())["source"]
    best = json.loads((run / "metrics.json").read_text())["best_checkpoint"]
    assert source["kind"] == "model" and source["checkpoint"] == Path(best).name
    assert (source["run"], source["dataset"]) == (str(run.resolve()), str(synth_dataset.resolve()))
    assert (source["split"], source["top_k"], source["texts_from"]) == (
        "test", 3, str(synth_dataset.resolve()),
    )  # fmt: skip
    assert source["created"][:4].isdigit() and source["created"].endswith("+00:00")

    # without --split: every clip, in file order; in batches of 4 the same best suggestion, its
    # score to float32 rounding (sums over a batch run in another order)
    everything = tmp_path / "all.json"
    code, _, err = predict(run, synth_dataset, everything, "--top-k", "1", "--batch-size", "4")
    assert code == 0, err
    every = scores_by_clip(everything, dataset.schema)
    assert list(every) == [c.clip_id for c in dataset.clips()]
    for clip_id, ranked in suggested.items():
        [(attributes, score)] = every[clip_id]
        assert attributes == ranked[0][0] and score == pytest.approx(ranked[0][1], rel=1e-5)
    assert json.loads(everything.read_text())["source"]["split"] is None


def text_cache_of(run: Path) -> Path:
    return Path(json.loads((run / "config.json").read_text())["data"]["text_cache"])


def test_segments_of_one_long_video_are_predicted_from_their_own_frames(
    run, synth_dataset, tmp_path
):
    """Two clips of different classes, joined into one video (losslessly, so the frames stay
    exactly theirs) and each cut out again, imported as an unlabelled manifest with `fgtext
    import csv`: each segment's suggestions are its cut copy's, and the two differ."""
    import decord

    from fgtext.cli import main as fgtext_main
    from fgtext.video import encode_h264

    dataset = open_dataset(synth_dataset)
    first, other = (next(c for c in dataset.clips("train") if c.label == k) for k in (0, 3))
    frames = [decord.VideoReader(str(dataset.video_path(c)))[:].asnumpy() for c in (first, other)]
    videos = tmp_path / "videos"
    videos.mkdir()
    encode_h264(np.concatenate(frames), videos / "long.mp4", 10, crf=0)
    for name, clip_frames in zip(("cut-a", "cut-b"), frames, strict=True):
        encode_h264(clip_frames, videos / f"{name}.mp4", 10, crf=0)
    n = len(frames[0])
    (tmp_path / "classes.txt").write_text("\n".join(c.name for c in dataset.classes) + "\n")
    (tmp_path / "clips.csv").write_text(
        "clip_id,path,class,split,start_frame,end_frame\n"
        f"seg-a,videos/long.mp4,{first.label},test,0,{n}\n"
        f"seg-b,videos/long.mp4,{other.label},test,{n},{n + len(frames[1])}\n"
        f"cut-a,videos/cut-a.mp4,{first.label},test,,\n"
        f"cut-b,videos/cut-b.mp4,{other.label},test,,\n"
    )
    manifest = tmp_path / "manifest"
    with pytest.raises(SystemExit) as imported:
        fgtext_main(["import", "csv", str(tmp_path / "clips.csv"), "--out", str(manifest),
                     "--classes", str(tmp_path / "classes.txt")])  # fmt: skip
    assert imported.value.code in (0, None)
    rows = [json.loads(line) for line in (manifest / "clips.jsonl").read_text().splitlines()]
    assert {r["status"] for r in rows} == {"unlabelled"} and rows[0]["attributes"] is None
    assert (rows[1]["start_frame"], rows[1]["end_frame"]) == (n, 2 * n)

    out = tmp_path / "s.json"
    code, _, err = predict(run, manifest, out, "--top-k", "5", "--batch-size", "1")
    assert code == 0, err
    suggested = scores_by_clip(out, dataset.schema)
    assert suggested["seg-a"] == suggested["cut-a"] and suggested["seg-b"] == suggested["cut-b"]
    assert suggested["seg-a"] != suggested["seg-b"]
    by_video = predicted_by_video(run, [videos / "cut-a.mp4", videos / "cut-b.mp4"], top_k=5)
    for clip_id, expected in zip(("cut-a", "cut-b"), by_video, strict=True):
        assert_same_ranking(suggested[clip_id], expected, dataset.schema)


def test_undecodable_clips_are_left_out_and_named(run, copy_dataset, tmp_path):
    dataset_dir = copy_dataset()
    dataset = open_dataset(dataset_dir)
    broken = list(dataset.clips("test"))[:2]
    for clip in broken:
        dataset.video_path(clip).write_bytes(b"not a video")
    out = tmp_path / "s.json"
    code, _, err = predict(run, dataset_dir, out, "--split", "test")
    assert code == 0, err
    assert len(scores_by_clip(out, dataset.schema)) == 4
    assert "left out 2 clip(s) that could not be decoded: " in err
    for clip in broken:
        assert f"{clip.clip_id} (cannot decode {dataset.video_path(clip)}" in err

    for clip in dataset.clips("test"):
        dataset.video_path(clip).unlink()
    out.unlink()
    result = predict(run, dataset_dir, out, "--split", "test")
    first = next(dataset.clips("test"))
    _assert_one_line_error(
        result,
        f"none of the 6 clips of {dataset_dir} could be decoded (the first, {first.clip_id}: "
        f"video file {dataset.video_path(first)} does not exist)",
        "check-data",
    )
    assert not out.exists()


def test_the_predicted_datasets_own_labels_are_never_candidates(
    run, synth_dataset, copy_dataset, tmp_path
):
    """Relabel every clip of a copy with a label the run never saw: its suggestions stay the
    run's texts, the same as for the original dataset's clips."""
    import itertools

    from fgtext.schema import DIMENSIONS

    original = open_dataset(synth_dataset)
    seen = {tuple(c.attributes[d] for d in DIMENSIONS) for c in original.clips()}
    combos = itertools.product(*(original.schema.values(d) for d in DIMENSIONS))
    unseen = dict(zip(DIMENSIONS, next(c for c in combos if c not in seen), strict=True))
    relabelled = copy_dataset()
    rows = [json.loads(line) for line in (relabelled / "clips.jsonl").read_text().splitlines()]
    for row in rows:
        row.update(attributes=unseen, text=compose_fg_text(unseen, original.schema))
    (relabelled / "clips.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    for name, dataset in (("original", synth_dataset), ("relabelled", relabelled)):
        code, _, err = predict(run, dataset, tmp_path / f"{name}.json", "--top-k", "9")
        assert code == 0, err
    suggested = scores_by_clip(tmp_path / "relabelled.json", original.schema)
    assert suggested == scores_by_clip(tmp_path / "original.json", original.schema)
    assert all(attributes != unseen for ranked in suggested.values() for attributes, _ in ranked)


def test_the_training_dataset_gone_is_one_error_and_texts_from_names_its_copy(
    run, synth_dataset, tmp_path
):
    moved = tmp_path / "run"
    shutil.copytree(run, moved, ignore=shutil.ignore_patterns("checkpoints"))
    config = json.loads((moved / "config.json").read_text())
    config["data"]["dataset"] = str(tmp_path / "gone")
    (moved / "config.json").write_text(json.dumps(config))
    out = tmp_path / "s.json"
    result = predict(moved, synth_dataset, out, "--split", "test")
    _assert_one_line_error(
        result, f"training dataset {tmp_path / 'gone'} is not there", "--texts-from"
    )
    assert not out.exists()

    code, _, err = predict(
        moved, synth_dataset, out, "--split", "test", "--texts-from", synth_dataset
    )
    assert code == 0, err
    schema = open_dataset(synth_dataset).schema
    reference = tmp_path / "reference.json"
    assert predict(run, synth_dataset, reference, "--split", "test")[0] == 0
    assert scores_by_clip(out, schema) == scores_by_clip(reference, schema)


# case: (the arguments after `predict`, what its one error line says)
BAD_INPUTS = {
    "no run folder": ("{tmp}/no-run --dataset {data} --out {out}", "is not a training run folder"),
    "no dataset": ("{run} --dataset {tmp}/none --out {out}", "none: not an FG-Text dataset"),
    "malformed dataset": (
        "{run} --dataset {malformed} --out {out}",
        "dataset.json: not valid JSON",
    ),
    "other classes": ("{run} --dataset {renamed} --out {out}", "has other classes than the run"),
    "top-k 0": ("{run} --dataset {data} --out {out} --top-k 0", "--top-k must be from 1 to 9"),
    "top-k 10": ("{run} --dataset {data} --out {out} --top-k 10", "to 9 (the suggestions"),
    "batch size 0": ("{run} --dataset {data} --out {out} --batch-size 0", "--batch-size must"),
    "workers -1": ("{run} --dataset {data} --out {out} --workers -1", "(got 8 and -1)"),
    "out under a file": ("{run} --dataset {data} --out {file}/s.json", "file is not a folder"),
    "out is a folder": ("{run} --dataset {data} --out {tmp}", "is a folder"),
    "unknown split": ("{run} --dataset {data} --out {out} --split x", "split 'x' has no clips"),
    "no --out": ("{run} --dataset {data}", "--dataset needs --out FILE"),
    "videos and dataset": ("{run} {video} --dataset {data} --out {out}", "not both"),
    "split of videos": ("{run} {video} --split test", "--split: only with --dataset"),
}


def damaged_dataset(copy_dataset, change) -> Path:
    dataset = copy_dataset()
    info = dataset / "dataset.json"
    info.write_text(change(info.read_text()))
    return dataset


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_each_bad_input_is_one_error_and_no_file(case, run, synth_dataset, copy_dataset, tmp_path):
    arguments, message = BAD_INPUTS[case]
    (tmp_path / "file").write_text("")
    places = {"run": run, "data": synth_dataset, "tmp": tmp_path, "out": tmp_path / "out/s.json",
              "file": tmp_path / "file", "video": next(synth_dataset.glob("videos/*.mp4"))}  # fmt: skip
    if "{malformed}" in arguments:
        places["malformed"] = damaged_dataset(copy_dataset, lambda text: text[:-20])
    if "{renamed}" in arguments:
        places["renamed"] = damaged_dataset(
            copy_dataset,
            lambda text: text.replace(open_dataset(synth_dataset).classes[0].name, "waving"),
        )
    before = set(tmp_path.rglob("*"))
    result = run_cli(["predict", *arguments.format(**places).split()])
    _assert_one_line_error(result, message)
    assert set(tmp_path.rglob("*")) == before  # no file, no folder, no temporary


def test_import_suggestions_loads_what_predict_writes(run, synth_dataset, tmp_path, monkeypatch):
    """The two ends of issue 16's model suggestions: a tiny run's file for every clip goes
    into an annotation project with `fgtext-annotator import-suggestions`, and each clip then
    offers the model's suggestions first, in the file's order and with its scores."""
    from sqlmodel import Session

    from annotator.cli import main as annotator_main
    from fgtext import store

    out = tmp_path / "suggestions.json"
    code, _, err = predict(run, synth_dataset, out, "--top-k", "2")
    assert code == 0, err
    media_root = tmp_path / "media"
    shutil.copytree(synth_dataset, media_root / "data")
    monkeypatch.setenv("FGTEXT_MEDIA_ROOT", str(media_root))
    url = f"sqlite:///{tmp_path / 'fgtext.db'}"
    store.upgrade_database(url)

    def annotator(*argv: str) -> int:
        try:
            annotator_main(list(argv))
        except SystemExit as exit_:
            return exit_.code or 0
        return 0

    project_args = ["--from", str(media_root / "data"), "--suggestions", "at_once", "--db", url]
    assert annotator("create-project", "suggested", *project_args) == 0
    assert annotator("import-suggestions", "--project", "suggested", str(out), "--db", url) == 0

    predicted = json.loads(out.read_text())["clips"]
    engine = store.create_db_engine(url)
    try:
        with Session(engine) as session:
            project = store.get_project_by_name(session, name="suggested")
            clips = {c.clip_id: c for c in store.list_clips(session, project=project)}
            assert set(clips) == {c["clip_id"] for c in predicted}
            for entry in predicted:
                offered = store.offered_suggestions(
                    session, clip=clips[entry["clip_id"]], project=project
                )
                model = [(s.attributes, s.score) for s in offered if s.source == "model"]
                assert model == [(s["attributes"], s["score"]) for s in entry["suggestions"]]
                assert [s.source for s in offered[: len(model)]] == ["model"] * len(model)
    finally:
        engine.dispose()
