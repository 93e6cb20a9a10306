"""`fgtext merge --rule dawid-skene`: the reliability model's rule, through the CLI."""

import json

import pytest

from fgtext.consensus import needs_another_annotator, posterior_status
from fgtext.dataset import open_dataset
from fgtext.schema import DIMENSIONS
from tests.fgtext.helpers import fgtext

# one careful and two careless simulated annotators, on 17 classes x 12 tiny clips
SKILLS = ["--classes", 17, "--clips-per-class", 12, "--size", "32x32", "--fps", 2, "--seconds", 1,
          "--annotator-accuracy", "0.95,0.6,0.6", "--seed", 3]  # fmt: skip


@pytest.fixture(scope="module")
def skilled(tmp_path_factory):
    from fgtext.cli import main

    root = tmp_path_factory.mktemp("skilled")
    with pytest.raises(SystemExit) as done:  # Typer exits, 0 on success
        main(
            ["synth", str(root / "synth"), *map(str, SKILLS), "--labels", str(root / "labels.csv")]
        )
    assert done.value.code == 0
    return root


def recovered(path, truth):
    """Clips whose final 4-tuple is the true one."""
    return sum(c.attributes == truth[c.clip_id] for c in open_dataset(path).clips() if c.attributes)


def test_dawid_skene_recovers_the_truth_on_clearly_more_clips_than_majority(
    skilled, tmp_path, capsys
):
    truth = {c.clip_id: c.attributes for c in open_dataset(skilled / "synth").clips()}
    args = [skilled / "synth", skilled / "labels.csv", "--bootstrap", 10]
    code, _, err = fgtext(capsys, "merge", *args, "--out", tmp_path / "mv", "--rule", "majority")
    assert code == 0, err
    code, out, err = fgtext(capsys, "merge", *args, "--out", tmp_path / "ds", "--rule",
                            "dawid-skene", "--threshold", 0.9, "--review", tmp_path / "review.txt")  # fmt: skip
    assert code == 0, err
    majority, dawid_skene = recovered(tmp_path / "mv", truth), recovered(tmp_path / "ds", truth)
    print(f"true 4-tuple recovered of {len(truth)}: majority {majority}, dawid-skene {dawid_skene}")
    assert dawid_skene >= majority + 40, (majority, dawid_skene)
    ds = open_dataset(tmp_path / "ds")
    assert ds.info.format == "fgtext-dataset/2" and ds.info.source["rule"] == "dawid-skene"
    # each annotator's estimated accuracy: the careful one stands out on every dimension
    acc = ds.info.annotators
    assert set(acc) == {"annotator-1", "annotator-2", "annotator-3"}
    for d in DIMENSIONS:
        assert acc["annotator-1"][d] > 0.85 and 0.45 < acc["annotator-2"][d] < 0.75
    # every final clip reaches the threshold on every dimension; the rest is to review
    clips = list(ds.clips())
    assert clips and all(c.status == "consensus" for c in clips)
    assert all(min(c.confidence.values()) >= 0.9 for c in clips)
    assert all(set(c.confidence) == set(DIMENSIONS) for c in clips)
    review = (tmp_path / "review.txt").read_text().split()
    assert len(review) == len(truth) - len(clips) and not set(review) & {c.clip_id for c in clips}
    assert f"{len(review)} without consensus" in out


def test_review_list_is_least_certain_first_and_unresolved_rows_keep_no_values(
    skilled, tmp_path, capsys
):
    args = [skilled / "synth", skilled / "labels.csv", "--bootstrap", 10, "--rule", "dawid-skene"]
    code, _, err = fgtext(capsys, "merge", *args, "--threshold", 0.999, "--include-unresolved",
                          "--out", tmp_path / "all", "--review", tmp_path / "r.txt")  # fmt: skip
    assert code == 0, err
    from fgtext.agreement import load_labels
    from fgtext.agreement.dawid_skene import fit_reliability

    rel = fit_reliability(load_labels(skilled / "labels.csv"))
    least = dict(zip(map(str, rel.clip_ids), rel.min_confidence, strict=True))
    review = (tmp_path / "r.txt").read_text().split()
    assert len(review) > 10
    assert [least[c] for c in review] == sorted(least[c] for c in review)
    assert all(least[c] < 0.999 for c in review)
    rows = {c.clip_id: c for c in open_dataset(tmp_path / "all").clips()}
    assert len(rows) == 17 * 12
    assert all(rows[c].status == "unlabelled" and rows[c].confidence is None for c in review)


def test_gold_clips_anchor_the_model_and_keep_their_values(skilled, tmp_path, capsys):
    # every synthetic clip is gold: anchored, each keeps its known value, posterior 1
    code, out, err = fgtext(capsys, "merge", skilled / "synth", skilled / "labels.csv",
                            "--out", tmp_path / "g", "--rule", "dawid-skene", "--anchor-gold",
                            "--bootstrap", 10)  # fmt: skip
    assert code == 0, err
    truth = {c.clip_id: c.attributes for c in open_dataset(skilled / "synth").clips()}
    ds = open_dataset(tmp_path / "g")
    assert all(c.status == "gold" and c.attributes == truth[c.clip_id] for c in ds.clips())
    assert all(c.confidence == {d: 1.0 for d in DIMENSIONS} for c in ds.clips())
    assert f"{len(truth)} gold" in out
    # calibrated by the truth, the accuracies are those measured against it
    labels = [line.split(",") for line in (skilled / "labels.csv").read_text().splitlines()[1:]]
    for name, acc in ds.info.annotators.items():
        mine = [r for r in labels if r[1] == name]
        right = sum(r[3] == truth[r[0]]["initiator"] for r in mine)
        assert acc["initiator"] == pytest.approx(right / len(mine), abs=1e-6)
    assert (
        json.loads((tmp_path / "g" / "dataset.json").read_text())["source"]["gold_anchors"] == 204
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--rule", "bayes"],
            "unknown rule 'bayes'; expected one of unanimous, majority, dawid-skene",
        ),
        (["--rule", "dawid-skene", "--threshold", 1.5], "threshold must be a probability"),
        (["--rule", "majority", "--anchor-gold"], "anchor_gold needs rule 'dawid-skene'"),
    ],
)
def test_bad_merge_options_are_one_clear_error(skilled, tmp_path, capsys, args, message):
    code, _, err = fgtext(capsys, "merge", skilled / "synth", skilled / "labels.csv", "--out",
                          tmp_path / "x", *args)  # fmt: skip
    assert code == 1 and message in err


def test_posterior_status_and_adaptive_k():
    sure = {d: 0.99 for d in DIMENSIONS}
    unsure = sure | {"receiver": 0.6}
    assert posterior_status(3, sure, 0.95) == "consensus"
    assert posterior_status(1, sure, 0.95) == "single"
    assert posterior_status(3, unsure, 0.95) == "disputed"
    assert posterior_status(0, {}, 0.95) == "unlabelled"
    kw = dict(k_min=2, k_max=4, threshold=0.95)
    assert needs_another_annotator(0, None, **kw) and needs_another_annotator(1, sure, **kw)
    assert not needs_another_annotator(2, sure, **kw)  # an easy clip stops at k_min
    assert needs_another_annotator(2, unsure, **kw) and needs_another_annotator(3, unsure, **kw)
    assert needs_another_annotator(2, None, **kw)  # not fitted yet: ask
    assert not needs_another_annotator(4, unsure, **kw)  # never beyond k_max
    assert not needs_another_annotator(2, list(sure.values()), **kw)
    with pytest.raises(Exception, match="k_min <= k_max"):
        needs_another_annotator(1, None, k_min=3, k_max=2, threshold=0.9)
