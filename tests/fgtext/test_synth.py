"""fgtext.synth: the synthetic micro-gesture generator.

What matters to its users: a valid dataset with the right counts and labels, playable H.264 of
the configured shape, reproducibility from a seed, a class signal that lives in small local
motion, simulated annotators with the configured error rate, clear errors for bad configs, and
every value of a schema (default or extended) rendering."""

import itertools
import json
from collections import Counter
from dataclasses import asdict, replace

import av
import numpy as np
import pytest

from fgtext.compose import compose_fg_text
from fgtext.dataset import open_dataset, validate_dataset
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS, default_schema, load_class_list
from fgtext.stats import binomial_interval
from fgtext.synth import SynthConfig, render_clip, simulated_labels, synthesize, write_mp4

SCHEMA = default_schema()
SMG = load_class_list("smg")


def decode(path):
    """All frames (T, H, W, 3) and the stream's frame rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, stream.average_rate


def energy(frames):
    """Per-pixel motion energy: mean over time of |frame_t - frame_0|, summed over colour."""
    f = frames.astype(np.float32)
    return np.abs(f - f[0]).sum(-1).mean(0)


def best_window_share(e, k):
    """The largest share of the total energy inside any k x k window."""
    c = np.pad(e.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return float(s.max() / e.sum())


# -- the dataset --------------------------------------------------------------------------------

SMALL = SynthConfig(classes=4, clips_per_class=5, width=96, height=72, fps=12, seconds=1.5)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    calls = []
    out = synthesize(
        tmp_path_factory.mktemp("synth") / "ds",
        SMALL,
        progress=lambda done, total: calls.append((done, total)),
    )
    return out, calls


def test_dataset_counts_splits_and_labels(small):
    root, _ = small
    ds = open_dataset(root)
    clips = list(ds.clips())
    assert len(clips) == len(ds) == 20
    assert [c.name for c in ds.classes] == [c.name for c in SMG[:4]]
    # stratified: 5 per class -> 3 train, 1 validation, 1 test in every class
    per_class = Counter((c.label, c.split) for c in clips)
    for label in range(4):
        assert per_class[(label, "train")] == 3
        assert per_class[(label, "validation")] == 1
        assert per_class[(label, "test")] == 1
    assert ds.info.splits == {"test": 4, "train": 12, "validation": 4}
    assert validate_dataset(root) == {
        "clips": 20,
        "splits": {"train": 12, "validation": 4, "test": 4},
        "status": {"gold": 20},
    }
    assert ds.info.source == {
        "generator": "fgtext.synth",
        "config": json.loads(json.dumps(asdict(SMALL))),
    }
    for clip in clips:
        assert clip.status == "gold"
        assert clip.video == f"videos/{clip.clip_id}.mp4"
        assert ds.video_path(clip).is_file()
        assert clip.attributes in [dict(a) for a in SMG[clip.label].attributes]
        assert clip.text == compose_fg_text(clip.attributes)
        assert [a.annotator for a in clip.annotations] == [
            "annotator-1",
            "annotator-2",
            "annotator-3",
        ]
    # classes with several typical tuples show more than one of them (texts vary within a class)
    texts = {label: {c.text for c in clips if c.label == label} for label in range(4)}
    assert all(len(texts[c.id]) == min(len(c.attributes), 5) for c in SMG[:4])


def test_progress_is_reported_for_every_clip(small):
    _, calls = small
    assert calls == [(i, 20) for i in range(21)]


def test_videos_decode_with_the_configured_shape(small):
    root, _ = small
    ds = open_dataset(root)
    for clip in ds.clips():
        frames, rate = decode(ds.video_path(clip))
        assert frames.shape == (18, 72, 96, 3)  # 12 fps x 1.5 s
        assert rate == 12


def test_motion_survives_compression_and_stays_local(tmp_path):
    config = SynthConfig(classes=3, clips_per_class=2, noise=0.0, annotators=0)
    ds = open_dataset(synthesize(tmp_path / "clean", config))
    for clip in ds.clips():
        assert clip.annotations == []
        frames, _ = decode(ds.video_path(clip))
        assert frames.shape == (50, 120, 160, 3)
        # against the temporal median: the first frame is an I-frame, coded unlike the rest
        f = frames.astype(np.float32)
        e = np.abs(f - np.median(f, axis=0)).sum(-1).mean(0)
        assert e.max() > 60, f"{clip.text}: no visible motion after H.264"
        assert best_window_share(e, 64) > 0.95, f"{clip.text}: motion is not local"


# -- reproducibility ----------------------------------------------------------------------------

TINY = SynthConfig(classes=3, clips_per_class=2, width=64, height=48, fps=10, seconds=1.0)


def test_same_seed_same_dataset_different_seed_different_frames(tmp_path):
    a = synthesize(tmp_path / "a", TINY)
    b = synthesize(tmp_path / "b", TINY, workers=2)  # worker processes: the same clips
    c = synthesize(tmp_path / "c", replace(TINY, seed=1))
    assert (a / "clips.jsonl").read_bytes() == (b / "clips.jsonl").read_bytes()
    for video in sorted((a / "videos").iterdir()):
        fa, _ = decode(video)
        fb, _ = decode(b / "videos" / video.name)
        fc, _ = decode(c / "videos" / video.name)
        # The rendered frames are a function of the seed (next test); libx264 was seen to
        # make a different choice now and then under heavy CPU load, within its quantisation
        # noise, so the decoded pictures are compared, not the bytes.
        assert fa.shape == fb.shape and np.abs(fa.astype(int) - fb).mean() < 1.0
        assert np.abs(fa.astype(int) - fc).mean() > 5.0  # another seed: another clip (~15)
    assert (a / "clips.jsonl").read_bytes() != (c / "clips.jsonl").read_bytes()


def test_render_clip_is_a_function_of_its_generator():
    attrs = dict(SMG[1].attributes[0])
    kw = dict(width=80, height=60, fps=10, seconds=1.0, noise=0.02)
    one = render_clip(attrs, rng=np.random.default_rng(7), **kw)
    assert one.shape == (10, 60, 80, 3) and one.dtype == np.uint8
    assert np.array_equal(one, render_clip(attrs, rng=np.random.default_rng(7), **kw))
    assert not np.array_equal(one, render_clip(attrs, rng=np.random.default_rng(8), **kw))


def test_write_mp4_round_trips_and_rejects_odd_sizes(tmp_path):
    frames = render_clip(
        dict(SMG[5].attributes[0]),
        width=64,
        height=48,
        fps=8,
        seconds=1.0,
        noise=0.0,
        rng=np.random.default_rng(0),
    )
    write_mp4(frames, tmp_path / "a.mp4", 8)
    decoded, rate = decode(tmp_path / "a.mp4")
    assert decoded.shape == frames.shape and rate == 8
    # lossy, but close: H.264 at crf 23 on a flat cartoon
    assert np.abs(decoded.astype(int) - frames).mean() < 4
    with pytest.raises(FgTextError, match="even"):
        write_mp4(np.zeros((2, 47, 64, 3), np.uint8), tmp_path / "odd.mp4", 8)
    assert not (tmp_path / "odd.mp4").exists()


# -- the class signal: small, local motion ------------------------------------------------------


def clean_clip(attrs, seed, fps=25):
    return render_clip(
        attrs,
        width=160,
        height=120,
        fps=fps,
        seconds=2.0,
        noise=0.0,
        rng=np.random.default_rng(seed),
    )


@pytest.mark.parametrize(
    "attrs",
    [dict(a) for c in SMG for a in c.attributes],
    ids=lambda a: "/".join(a.values()),
)
def test_every_smg_gesture_moves_visibly_but_locally(attrs):
    frames = clean_clip(attrs, seed=3, fps=10)
    e = energy(frames)
    moving = e > 10
    assert moving.sum() >= 100, "the motion must be visible"
    # concentrated: almost all of it inside a window of 35% of the frame's width
    assert best_window_share(e, 56) > 0.95
    # and a small part of the picture changes at all
    assert moving.mean() < 0.08
    # the rest of the figure stays exactly still (no noise at noise=0)
    assert (e == 0).mean() > 0.85


def test_classes_differ_in_where_things_move():
    """Motion-energy maps of clips of one class are closer to each other than to other classes'
    (despite per-clip timing, amplitude, position and tuple variation): a nearest-centroid
    classifier on 8-px-pooled maps beats chance (1/6) by far."""
    classes = SMG[:6]
    feats, labels = [], []
    for c in classes:
        for k in range(6):
            attrs = dict(c.attributes[k % len(c.attributes)])
            e = energy(clean_clip(attrs, seed=100 * c.id + k, fps=10))
            pooled = e.reshape(15, 8, 20, 8).sum((1, 3)).ravel()
            assert pooled.sum() > 0
            feats.append(pooled / pooled.sum())
            labels.append(c.id)
    x, y = np.stack(feats), np.array(labels)
    dist = np.abs(x[:, None] - x[None]).sum(-1)
    same = (y[:, None] == y[None]) & ~np.eye(len(y), dtype=bool)
    assert dist[same].mean() < 0.75 * dist[y[:, None] != y[None]].mean()
    correct = 0
    for i in range(len(y)):
        rest = np.arange(len(y)) != i
        centroids = {c: x[rest & (y == c)].mean(0) for c in range(6)}
        correct += min(centroids, key=lambda c: np.abs(x[i] - centroids[c]).sum()) == y[i]
    assert correct / len(y) >= 0.6


# -- simulated annotators -----------------------------------------------------------------------

LABELS = dict(classes=17, clips_per_class=6, width=32, height=32, fps=2, seconds=1.0)


def test_error_free_annotators_agree_with_gold(tmp_path):
    root = synthesize(tmp_path / "ds", SynthConfig(**LABELS, annotators=4, annotator_error=0.0))
    rows = simulated_labels(root)
    gold = {c.clip_id: c for c in open_dataset(root).clips()}
    assert len(rows) == 17 * 6 * 4
    assert set(rows[0]) == {"clip_id", "annotator", "label", *DIMENSIONS}
    for r in rows:
        assert r["label"] == gold[r["clip_id"]].label
        assert {d: r[d] for d in DIMENSIONS} == gold[r["clip_id"]].attributes


def test_annotator_error_rate_is_the_configured_one(tmp_path):
    k, error = 6, 0.3
    root = synthesize(tmp_path / "ds", SynthConfig(**LABELS, annotators=k, annotator_error=error))
    gold = {c.clip_id: c.attributes for c in open_dataset(root).clips()}
    rows = simulated_labels(root)
    n = len(rows)
    assert n == 17 * 6 * k
    for d in DIMENSIONS:
        wrong = [r for r in rows if r[d] != gold[r["clip_id"]][d]]
        assert all(r[d] in SCHEMA.values(d) for r in wrong)
        # 612 labels: binomial sd ~0.019, so 0.06 is > 3 sd
        assert abs(len(wrong) / n - error) < 0.06, d
        # a clip shows disagreement on d unless all k annotators kept the gold value
        disputed = {r["clip_id"] for r in wrong}
        assert abs(len(disputed) / len(gold) - (1 - (1 - error) ** k)) < 0.08, d


# -- bad configurations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(width=161), "width must be an even number"),
        (dict(height=0), "height must be an even number"),
        (dict(clips_per_class=0), "clips_per_class must be a whole number of at least 1"),
        (dict(classes=0), "classes must be at least 1"),
        (dict(split=(0.6, 0.2, 0.1)), "split fractions must sum to 1"),
        (dict(split=(1.2, -0.2, 0.0)), "split must be three fractions"),
        (dict(split=(0.5, 0.5)), "split must be three fractions"),
        (dict(fps=0), "fps must be"),
        (dict(fps=10, seconds=0.1), "at least 2 frames"),
        (dict(noise=-0.1), "noise must be"),
        (dict(annotator_error=1.5), "annotator_error must be a probability"),
        (dict(seed=-1), "seed must be"),
    ],
)
def test_bad_config_is_a_clear_error(kwargs, message):
    with pytest.raises(FgTextError, match=message):
        SynthConfig(**kwargs)


def test_bad_class_lists_are_clear_errors(tmp_path):
    with pytest.raises(FgTextError, match="unknown class list 'nope'"):
        synthesize(tmp_path / "a", SynthConfig(classes="nope"))
    with pytest.raises(FgTextError, match="smg has 17 classes"):
        synthesize(tmp_path / "b", SynthConfig(classes=18))
    names = tmp_path / "names.txt"
    names.write_text("fidgeting\nnodding\n")
    with pytest.raises(FgTextError, match=r"'fidgeting'.*no attribute tuples"):
        synthesize(tmp_path / "c", SynthConfig(classes=str(names)))
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


def test_existing_output_needs_overwrite(tmp_path):
    out = synthesize(tmp_path / "ds", TINY)
    with pytest.raises(FgTextError, match="overwrite"):
        synthesize(out, TINY)
    assert synthesize(out, TINY, overwrite=True) == out


def test_config_accepts_what_json_and_a_cli_hand_over():
    config = SynthConfig(classes="3", split=[0.5, 0.25, 0.25])
    assert config.classes == 3 and config.split == (0.5, 0.25, 0.25)
    assert SynthConfig(fps=10, seconds=1.25).frames == 12


# -- every value of a schema renders ------------------------------------------------------------

BASES = {
    "initiator": dict(receiver="none", direction="upward", motion_type="raise"),
    "receiver": dict(initiator="right_hand", direction="static", motion_type="touch"),
    "direction": dict(initiator="right_hand", receiver="neck", motion_type="rub"),
    "motion_type": dict(initiator="right_hand", receiver="neck", direction="static"),
}


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_every_default_value_renders_its_own_motion(dimension):
    """Each value, the other three fixed: it renders, it moves, and no two values of a
    dimension render the same clip."""
    clips = {}
    for value in SCHEMA.values(dimension):
        attrs = {**BASES[dimension], dimension: value}
        frames = clean_clip(attrs, seed=0, fps=5)
        assert frames.shape == (10, 120, 160, 3)
        assert energy(frames).max() > 10, attrs
        clips[value] = frames
    same = [
        (a, b) for a, b in itertools.combinations(clips, 2) if np.array_equal(clips[a], clips[b])
    ]
    assert same == []


def test_values_a_project_adds_render_through_the_fallback(tmp_path):
    data = SCHEMA.to_dict()
    data["version"] = "1.1.0"
    added = {
        "initiator": ["left_elbow", "tongue", "xyzzy"],
        "receiver": ["wrist", "glasses", "plugh"],
        "direction": ["diagonal", "zigzag"],
        "motion_type": ["wiggle", "nod"],
    }
    for d, values in added.items():
        for v in values:
            data["dimensions"][d]["values"][v] = {"text": v.replace("_", " ")}
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(data))
    for d, values in added.items():
        for v in values:
            attrs = {**BASES[d], d: v}
            assert energy(clean_clip(attrs, seed=0, fps=5)).max() > 10, attrs
    classes_path = tmp_path / "classes.json"
    tuples = [
        {"initiator": "left_elbow", "receiver": "wrist", "direction": "diagonal", "motion_type": "wiggle"},
        {"initiator": "tongue", "receiver": "none", "direction": "zigzag", "motion_type": "nod"},
    ]  # fmt: skip
    classes_path.write_text(
        json.dumps({"classes": [{"id": i, "name": f"new {i}", "attributes": [t]} for i, t in enumerate(tuples)]})
    )  # fmt: skip
    config = SynthConfig(
        classes=str(classes_path), schema=str(schema_path), clips_per_class=2, width=64,
        height=48, fps=8, seconds=1.0,
    )  # fmt: skip
    ds = open_dataset(synthesize(tmp_path / "ds", config))
    assert ds.schema.version == "1.1.0" and ds.name == "synth-classes"
    assert [c.attributes for c in ds.clips()] == [tuples[0]] * 2 + [tuples[1]] * 2


def test_every_value_of_the_default_schema_has_its_own_rendering():
    # synth's motion tables follow the vocabulary; a value missing there would render through
    # the name-based fallback without anyone noticing
    from fgtext.synth.motion import fallback_values

    assert fallback_values(default_schema()) == {d: [] for d in DIMENSIONS}


# -- simulated annotators of mixed skill ---------------------------------------------------------

SKILL = dict(LABELS, clips_per_class=10, annotator_accuracy=(0.95, 0.7, 0.6), spammers=1)


def test_each_annotator_has_its_configured_accuracy_and_the_spammer_guesses(tmp_path):
    config = SynthConfig(**SKILL, annotators=4)
    assert config.accuracies == [0.95, 0.7, 0.6, None]
    root = synthesize(tmp_path / "ds", config)
    gold = {c.clip_id: c.attributes for c in open_dataset(root).clips()}
    rows = simulated_labels(root)
    assert len(rows) == 17 * 10 * 4
    for j, accuracy in enumerate(config.accuracies, 1):
        mine = [r for r in rows if r["annotator"] == f"annotator-{j}"]
        for d in DIMENSIONS:
            right = sum(r[d] == gold[r["clip_id"]][d] for r in mine)
            # a spammer is right by luck: one value in len(values)
            expected = 1 / len(SCHEMA.values(d)) if accuracy is None else accuracy
            low, high = binomial_interval(right, len(mine), level=0.999)
            assert low <= expected <= high, (j, d, right, len(mine))
            assert all(r[d] in SCHEMA.values(d) for r in mine)
    # the careful one is clearly better than the spammer, dimension by dimension
    careful = [r for r in rows if r["annotator"] == "annotator-1"]
    spammer = [r for r in rows if r["annotator"] == "annotator-4"]
    for d in DIMENSIONS:
        assert sum(r[d] == gold[r["clip_id"]][d] for r in careful) > 0.85 * len(careful)
        assert sum(r[d] == gold[r["clip_id"]][d] for r in spammer) < 0.3 * len(spammer)


def test_skilled_annotators_are_reproducible_and_keep_the_old_draws(tmp_path):
    a = simulated_labels(synthesize(tmp_path / "a", SynthConfig(**SKILL, annotators=4)))
    b = simulated_labels(synthesize(tmp_path / "b", SynthConfig(**SKILL, annotators=4)))
    assert a == b
    c = simulated_labels(synthesize(tmp_path / "c", SynthConfig(**SKILL, annotators=4, seed=1)))
    assert a != c
    # one accuracy for all equals the same error rate: the labels of before are unchanged
    old = SynthConfig(**LABELS, annotators=3, annotator_error=0.25)
    new = SynthConfig(**LABELS, annotators=3, annotator_accuracy=(0.75,))
    assert simulated_labels(synthesize(tmp_path / "old", old)) == simulated_labels(
        synthesize(tmp_path / "new", new)
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(annotators=3, annotator_accuracy=(0.9, 0.8)), "has 2 entries; expected 1"),
        (dict(annotators=3, annotator_accuracy=(0.9, 1.2, 0.8)), "probabilities from 0 to 1"),
        (dict(annotators=2, spammers=3), "spammers must be a whole number from 0 to annotators"),
    ],
)
def test_bad_annotator_skills_are_clear_errors(kwargs, message):
    with pytest.raises(FgTextError, match=message):
        SynthConfig(**kwargs)


def test_synth_cli_takes_annotator_accuracies_and_spammers(tmp_path, capsys):
    from tests.fgtext.helpers import fgtext

    code, _, err = fgtext(
        capsys, "synth", tmp_path / "ds", "--classes", 2, "--clips-per-class", 3,
        "--size", "32x32", "--fps", 2, "--seconds", 1, "--annotator-accuracy", "1,0.5",
        "--spammers", 1,
    )  # fmt: skip
    assert code == 0, err
    ds = open_dataset(tmp_path / "ds")
    assert ds.info.source["config"]["annotator_accuracy"] == [1.0, 0.5]
    assert ds.info.source["config"]["spammers"] == 1
    for clip in ds.clips():
        assert [a.annotator for a in clip.annotations] == [f"annotator-{j}" for j in (1, 2, 3)]
        assert clip.annotations[0].attributes == clip.attributes  # accuracy 1
    code, _, err = fgtext(capsys, "synth", tmp_path / "x", "--annotator-accuracy", "0.9,high")
    assert code == 1 and "expected comma-separated probabilities" in err
