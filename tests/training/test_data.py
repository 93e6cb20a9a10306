"""training.data: frame sampling, decoding (segments, resizing), texts, bad clips, check_data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from fgtext.dataset import DatasetWriter, open_dataset, write_dataset
from fgtext.errors import FgTextError
from fgtext.synth import write_mp4
from training.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VideoClipDataset,
    check_data,
    collate_clips,
    normalize_frames,
    sample_frame_indices,
)
from training.prepare import prepare_training_copy

RAMP_FRAMES = 20


def ramp_level(index: int) -> int:
    """The grey level of frame `index` of the ramp video: the frame number is readable back."""
    return 6 + 12 * index  # steps far apart: re-encoding moves flat grey a few levels


@pytest.fixture
def ramp_dataset(synth_dataset, tmp_path) -> Path:
    """A dataset over one 20-frame video whose frame i is flat grey ramp_level(i): the whole
    video, its segment 4-20, and clips whose video is missing, garbage, truncated or too short
    for their segment."""
    source = open_dataset(synth_dataset)
    first = next(source.clips("train"))
    root = tmp_path / "ramp"
    base = {"attributes": first.attributes, "text": first.text, "status": "consensus"}
    clips = [
        {"clip_id": "whole", "video": "videos/ramp.mp4", "label": 0, "split": "train", **base},
        {
            "clip_id": "segment",
            "video": str(root / "videos" / "ramp.mp4"),  # absolute paths work too
            "start_frame": 4,
            "end_frame": 20,
            "label": 1,
            "split": "train",
            **base,
        },
        {"clip_id": "missing", "video": "videos/nope.mp4", "label": 0, "split": "test", **base},
        {"clip_id": "garbage", "video": "videos/garbage.mp4", "label": 1, "split": "test", **base},
        {"clip_id": "cut", "video": "videos/truncated.mp4", "label": 0, "split": "test", **base},
        {
            "clip_id": "overlong",
            "video": "videos/ramp.mp4",
            "start_frame": 12,
            "end_frame": 30,
            "label": 1,
            "split": "test",
            **base,
        },
    ]
    with DatasetWriter(
        root, name="ramp", schema=source.schema, classes=source.classes[:2]
    ) as writer:
        videos = writer.staging_dir / "videos"
        frames = np.stack(
            [np.full((48, 64, 3), ramp_level(i), np.uint8) for i in range(RAMP_FRAMES)]
        )
        write_mp4(frames, videos / "ramp.mp4", fps=10)
        (videos / "garbage.mp4").write_bytes(b"this is not a video" * 50)
        good = (videos / "ramp.mp4").read_bytes()
        (videos / "truncated.mp4").write_bytes(good[: len(good) // 2])
        for clip in clips:
            writer.add(clip)
    return root


def levels(frames: torch.Tensor) -> list[int]:
    """The frame numbers a ramp clip's decoded frames show."""
    means = frames.float().mean(dim=(1, 2, 3)).tolist()
    return [round((m - 6) / 12) for m in means]


# -- sampling -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clip_frames", "expected"),
    [
        (80, [5, 15, 25, 35, 45, 55, 65, 75]),  # segments of 10, centres
        (20, [1, 3, 6, 8, 11, 13, 16, 18]),  # segments of 2.5: floor(2.5 * (i + 0.5))
        (8, [0, 1, 2, 3, 4, 5, 6, 7]),
        (5, [0, 0, 1, 2, 2, 3, 4, 4]),  # shorter than 8: frames repeat
        (1, [0] * 8),
    ],
)
def test_evaluation_samples_segment_centres(clip_frames, expected):
    assert sample_frame_indices(clip_frames, 8, train=False).tolist() == expected


@pytest.mark.parametrize("clip_frames", [5, 20, 81])
def test_training_samples_one_frame_inside_each_segment(clip_frames):
    draws = np.stack(
        [
            sample_frame_indices(clip_frames, 8, train=True, rng=np.random.default_rng(seed))
            for seed in range(300)
        ]
    )
    for i in range(8):
        low = int(np.floor(i * clip_frames / 8))
        high = max(low + 1, int(np.floor((i + 1) * clip_frames / 8)))  # exclusive
        assert draws[:, i].min() == low and draws[:, i].max() == high - 1  # all of it, no more
    again = sample_frame_indices(clip_frames, 8, train=True, rng=np.random.default_rng(7))
    assert again.tolist() == draws[7].tolist()


def in_segments(shown: list[int], clip_frames: int) -> bool:
    return all(
        np.floor(i * clip_frames / 8)
        <= f
        < max(np.floor(i * clip_frames / 8) + 1, np.floor((i + 1) * clip_frames / 8))
        for i, f in enumerate(shown)
    )


def test_training_offsets_are_new_each_read_and_reproducible_by_seed(ramp_dataset):
    def dataset(seed: int) -> VideoClipDataset:
        return VideoClipDataset(ramp_dataset, "train", image_size=32, train=True, seed=seed)

    a, b = dataset(3), dataset(3)
    planned = a.frame_indices(0, 20).tolist()
    first, second = levels(a[0]["frames"]), levels(a[0]["frames"])
    assert first == planned and first != second  # the next read (epoch) draws new offsets
    assert in_segments(first, 20) and in_segments(second, 20)
    assert [levels(b[0]["frames"]), levels(b[0]["frames"])] == [first, second]  # same seed
    assert levels(dataset(4)[0]["frames"]) != first


@pytest.mark.parametrize("persistent", [False, True])
def test_training_offsets_through_loader_workers(ramp_dataset, persistent):
    def epochs() -> list[list[int]]:
        torch.manual_seed(0)  # what the Trainer's seed does
        data = VideoClipDataset(ramp_dataset, "train", image_size=32, train=True, seed=3)
        loader = DataLoader(
            data,
            batch_size=2,
            num_workers=1,
            persistent_workers=persistent,
            collate_fn=collate_clips,
        )
        return [levels(batch["frames"][0]) for _ in range(2) for batch in loader]

    first = epochs()
    assert first[0] != first[1] and all(in_segments(shown, 20) for shown in first)
    assert epochs() == first


# -- decoding -----------------------------------------------------------------------------------


def test_items_decode_the_sampled_frames_of_the_clip_and_its_segment(ramp_dataset):
    dataset = VideoClipDataset(ramp_dataset, "train", image_size=32, train=False)
    whole, segment = dataset[0], dataset[1]
    assert whole["frames"].shape == (8, 3, 32, 32) and whole["frames"].dtype == torch.uint8
    assert levels(whole["frames"]) == [1, 3, 6, 8, 11, 13, 16, 18]  # floor(2.5 * (i + 0.5))
    # segment 4-20: 16 frames, centres 1, 3, ..., 15 of it
    assert levels(segment["frames"]) == [5, 7, 9, 11, 13, 15, 17, 19]
    assert (segment["clip_id"], segment["label"]) == ("segment", 1)

    training = VideoClipDataset(ramp_dataset, "train", image_size=32, train=True, seed=5)
    planned = (4 + training.frame_indices(1, 16)).tolist()
    shown = levels(training[1]["frames"])
    assert shown == planned
    assert all(4 + 2 * i <= f < 6 + 2 * i for i, f in enumerate(shown))


def test_decoded_frames_match_the_rendered_video(synth_dataset):
    import av

    dataset = VideoClipDataset(synth_dataset, "validation", image_size=64, train=False)
    item = dataset[0]
    clip = next(c for c in open_dataset(synth_dataset).clips() if c.clip_id == item["clip_id"])
    with av.open(str(open_dataset(synth_dataset).video_path(clip))) as container:
        reference = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert reference.shape == (20, 48, 64, 3)
    picked = torch.from_numpy(reference[[1, 3, 6, 8, 11, 13, 16, 18]]).permute(0, 3, 1, 2)
    resized = torch.nn.functional.interpolate(picked.float(), size=(64, 64), mode="bilinear")
    # decord scales in its decoder (another filter): same picture within a few grey levels
    error = (item["frames"].float() - resized).abs().mean().item()
    assert error < 4.0
    other = torch.from_numpy(reference[[0, 2, 5, 7, 10, 12, 15, 17]]).permute(0, 3, 1, 2)
    other = torch.nn.functional.interpolate(other.float(), size=(64, 64), mode="bilinear")
    assert (item["frames"].float() - other).abs().mean().item() > error  # the right frames


def test_texts_labels_and_class_texts(synth_dataset):
    rows = [c for c in open_dataset(synth_dataset).clips("train")]
    classes = sorted(open_dataset(synth_dataset).classes, key=lambda c: c.id)
    fg = VideoClipDataset(synth_dataset, "train", image_size=64, train=True)
    assert len(fg) == 18 and fg.num_classes == 6
    assert fg.class_texts == [c.text for c in classes]
    assert fg.texts == [c.text for c in rows] and fg.labels == [c.label for c in rows]
    item = fg[4]
    assert (item["text"], item["label"], item["clip_id"]) == (
        rows[4].text,
        rows[4].label,
        rows[4].clip_id,
    )
    class_level = VideoClipDataset(
        synth_dataset, "train", image_size=64, train=True, text_source="class"
    )
    assert class_level[4]["text"] == classes[rows[4].label].text
    assert class_level.texts == [classes[c.label].text for c in rows]


def test_bad_clips_are_skipped_counted_and_dropped_by_collate(ramp_dataset):
    dataset = VideoClipDataset(ramp_dataset, "test", image_size=32, train=False)
    items = [dataset[i] for i in range(len(dataset))]
    assert items == [None] * 4 and dataset.skipped == 4
    assert set(dataset.skipped_clips) == {"missing", "garbage", "cut", "overlong"}
    assert "does not exist" in dataset.skipped_clips["missing"]
    assert "run past the end" in dataset.skipped_clips["overlong"]
    good = VideoClipDataset(ramp_dataset, "train", image_size=32, train=False)
    batch = collate_clips([good[0], None, good[1], None])
    assert batch["frames"].shape == (2, 8, 3, 32, 32) and batch["frames"].dtype == torch.uint8
    assert batch["labels"].tolist() == [0, 1] and batch["labels"].dtype == torch.long
    assert batch["clip_ids"] == ["whole", "segment"] and batch["skipped"] == 2
    empty = collate_clips([None, None])
    assert empty["labels"].numel() == 0 and empty["skipped"] == 2


def test_skips_are_counted_through_loader_workers(ramp_dataset):
    dataset = VideoClipDataset(ramp_dataset, "test", image_size=32, train=False)
    loader = DataLoader(dataset, batch_size=2, num_workers=2, collate_fn=collate_clips)
    assert sum(batch["skipped"] for batch in loader) == 4
    assert dataset.skipped == 0  # the workers' copies counted them, hence the batch count


def test_unlabelled_clips_and_bad_arguments_are_refused(synth_dataset, tmp_path):
    source = open_dataset(synth_dataset)
    rows = [
        {"clip_id": "u1", "video": "v.mp4", "label": 0, "split": "train", "status": "unlabelled"}
    ]
    unlabelled = write_dataset(
        tmp_path / "manifest", rows, name="m", schema=source.schema, classes=source.classes
    )
    with pytest.raises(FgTextError, match=r"1 clip\(s\) are unlabelled \(u1\); training needs"):
        VideoClipDataset(unlabelled, "train", train=True)
    problems = check_data(unlabelled).problems
    assert [(p.clip_id, p.reason) for p in problems] == [
        ("u1", "unlabelled (training needs final labels)")
    ]
    with pytest.raises(FgTextError, match=r"the split 'val' has no clips \(splits: test, train"):
        VideoClipDataset(synth_dataset, "val", train=True)
    with pytest.raises(FgTextError, match="text_source must be 'fg' or 'class', got 'tc'"):
        VideoClipDataset(synth_dataset, "train", train=True, text_source="tc")
    with pytest.raises(FgTextError, match="not an FG-Text dataset"):
        VideoClipDataset(tmp_path, "train", train=True)


def test_normalize_frames_matches_the_formula():
    frames = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 2, 2)
    out = normalize_frames(frames, IMAGENET_MEAN, IMAGENET_STD)
    assert out.dtype == torch.float32 and out.shape == (2, 3, 2, 2)
    expected = [(0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (1 - 0.406) / 0.225]
    torch.testing.assert_close(out[1, :, 1, 0], torch.tensor(expected))
    bf16 = normalize_frames(frames[None], dtype=torch.bfloat16)  # [B, T, 3, H, W] too
    assert bf16.dtype == torch.bfloat16 and bf16.shape == (1, 2, 3, 2, 2)
    with pytest.raises(ValueError, match="expects uint8"):
        normalize_frames(out)


def test_check_data_lists_every_bad_clip(ramp_dataset, synth_dataset):
    report = check_data(ramp_dataset)
    assert not report.ok and report.clips == 6
    assert report.splits == {"train": 2, "test": 4}
    reasons = {p.clip_id: p.reason for p in report.problems}
    assert set(reasons) == {"missing", "garbage", "cut", "overlong"}
    assert reasons["overlong"].startswith("segment frames 12-30 run past the end of")
    assert "cannot decode" in reasons["garbage"] and "cannot decode" in reasons["cut"]
    good = check_data(synth_dataset, workers=2)
    assert good.ok and good.clips == 30 and good.splits["train"] == 18


# -- the training copy -------------------------------------------------------------------------


def video_shape(path: Path) -> tuple[int, int, int]:
    """(frames, height, width) of a video, decoded with PyAV."""
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return (len(frames), *frames[0].shape[:2])


def test_training_copy_is_read_instead_of_the_originals(copy_dataset):
    root = copy_dataset()
    report = prepare_training_copy(root, size=32, workers=2)
    assert (report.clips, report.transcoded, report.reused, report.failed) == (30, 30, 0, {})
    assert report.folder == root / "training-copy" / "32px"
    assert json.loads((root / "training-copies.json").read_text()) == {"32": "training-copy/32px"}
    manifest = json.loads((report.folder / "copy.json").read_text())
    assert manifest["size"] == 32 and len(manifest["clips"]) == 30
    entry = manifest["clips"]["synth-00-000"]
    assert entry["frames"] == 20 and entry["source"] == "videos/synth-00-000.mp4"
    assert video_shape(report.folder / entry["video"]) == (20, 32, 32)  # every frame, resized
    umask = os.umask(0)
    os.umask(umask)
    for written in (report.folder / entry["video"], report.folder / "copy.json"):
        assert written.stat().st_mode & 0o777 == 0o666 & ~umask  # shareable, as the umask says

    from_copy = VideoClipDataset(root, "validation", image_size=32, train=False)
    originals = VideoClipDataset(
        root, "validation", image_size=32, train=False, use_training_copy=False
    )
    assert from_copy.reads_training_copy and not originals.reads_training_copy
    a, b = from_copy[0]["frames"].float(), originals[0]["frames"].float()
    assert a.shape == b.shape == (8, 3, 32, 32)
    assert (a - b).abs().mean().item() < 4.0  # the same frames, re-encoded at high quality
    # another size has no copy: read from the originals
    assert not VideoClipDataset(root, "validation", image_size=64, train=False).reads_training_copy


def test_training_copy_resumes_and_redoes_only_changed_clips(copy_dataset):
    root = copy_dataset()
    first = prepare_training_copy(root, size=32, workers=1)
    files = {p.name: p.stat().st_mtime_ns for p in (first.folder / "videos").iterdir()}
    again = prepare_training_copy(root, size=32, workers=1)
    assert (again.transcoded, again.reused) == (0, 30)
    assert {p.name: p.stat().st_mtime_ns for p in (first.folder / "videos").iterdir()} == files
    frames = json.loads((first.folder / "copy.json").read_text())["clips"]["synth-00-001"]
    assert frames["frames"] == 20  # kept for reused clips
    # a source video that changes is transcoded again; its old copy is removed
    changed = root / "videos" / "synth-00-001.mp4"
    changed.write_bytes((root / "videos" / "synth-00-002.mp4").read_bytes())
    (first.folder / "videos" / ".synth-00-003-x.mp4.0123.tmp").write_bytes(b"killed run")
    third = prepare_training_copy(root, size=32, workers=1)
    assert (third.transcoded, third.reused) == (1, 29)
    assert len(list((first.folder / "videos").iterdir())) == 30  # no stale or temporary files


def test_training_copy_cuts_segments_and_reports_bad_clips(ramp_dataset):
    report = prepare_training_copy(ramp_dataset, size=32, workers=1)
    assert report.transcoded == 2
    assert set(report.failed) == {"missing", "garbage", "cut", "overlong"}
    manifest = json.loads((report.folder / "copy.json").read_text())["clips"]
    assert set(manifest) == {"whole", "segment"} and manifest["segment"]["frames"] == 16
    dataset = VideoClipDataset(ramp_dataset, "train", image_size=32, train=False)
    assert dataset.reads_training_copy
    assert levels(dataset[1]["frames"]) == [5, 7, 9, 11, 13, 15, 17, 19]  # the same frames
    bad = VideoClipDataset(ramp_dataset, "test", image_size=32, train=False)
    assert [bad[i] for i in range(4)] == [None] * 4 and bad.skipped == 4


def test_training_copy_outside_the_dataset_can_be_named(ramp_dataset, tmp_path):
    folder = tmp_path / "copies" / "ramp-32"
    prepare_training_copy(ramp_dataset, size=32, out=folder)
    (ramp_dataset / "training-copies.json").unlink()  # e.g. a read-only dataset
    named = VideoClipDataset(
        ramp_dataset, "train", image_size=32, train=False, training_copy=folder
    )
    assert named.reads_training_copy
    assert levels(named[1]["frames"]) == [5, 7, 9, 11, 13, 15, 17, 19]
    assert not VideoClipDataset(
        ramp_dataset, "train", image_size=32, train=False
    ).reads_training_copy
    with pytest.raises(FgTextError, match=r"copy\.json is missing or invalid \(expected format"):
        VideoClipDataset(ramp_dataset, "train", image_size=64, train=False, training_copy=folder)


def test_training_copy_bad_arguments(synth_dataset, ramp_dataset):
    with pytest.raises(FgTextError, match="size must be an even number of pixels of at least 16"):
        prepare_training_copy(synth_dataset, size=33)
    (ramp_dataset / "training-copies.json").write_text('{"32": "nowhere"}')
    with pytest.raises(FgTextError, match=r"names the training copy \S*nowhere for size 32"):
        VideoClipDataset(ramp_dataset, "train", image_size=32, train=False)
