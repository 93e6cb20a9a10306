"""`fgtext design`: the study designer recommends k by simulation, through the CLI."""

import csv
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from fgtext.design import study, uniform_pool
from fgtext.schema import DIMENSIONS, default_schema
from fgtext.synth.annotators import simulate_codes
from tests.fgtext.helpers import fgtext

SMALL = ["--clips", 400, "--seeds", 3, "--k-max", 7, "--target", 0.9]


def design(capsys, *args):
    code, out, err = fgtext(capsys, "design", *SMALL, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_better_annotators_need_fewer_and_the_recommendation_holds_in_a_new_study(capsys):
    results = {a: design(capsys, "--accuracy", a) for a in (0.7, 0.8, 0.9)}
    recommended = {a: r["recommended_k"] for a, r in results.items()}
    assert recommended[0.9] < recommended[0.8] < recommended[0.7], recommended
    assert recommended[0.9] in (2, 3) and recommended[0.7] <= 7
    for a, k in recommended.items():
        # the smallest k whose whole interval clears the target
        lows = [r["dawid_skene"]["correct"][1] for r in results[a]["rows"]]
        assert lows[k - 1] >= 0.9 and all(low < 0.9 for low in lows[: k - 1]), (a, lows)
        # ... and new studies of that size (other seeds) reach it
        rows = study(
            400, default_schema(), uniform_pool([a] * 7), k_values=[k], seeds=range(10, 15)
        )
        assert rows[0].dawid_skene.correct[0] >= 0.9, (a, k, rows[0].dawid_skene)


def test_the_table_and_the_chart(capsys, tmp_path):
    code, out, err = fgtext(capsys, "design", *SMALL, "--accuracy", "0.9", "--plot",
                            tmp_path / "k.svg")  # fmt: skip
    assert code == 0, err
    assert "Recommended: k = " in out and "dawid-skene" in out
    svg = ET.parse(tmp_path / "k.svg").getroot()
    lines = svg.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 2 and all(len(p.get("points").split()) == 7 for p in lines)


def test_a_pilot_gives_the_pool_its_estimated_accuracies(capsys, tmp_path):
    rng = np.random.default_rng(0)
    n, accuracies = 600, [0.95, 0.6, 0.6]
    schema = default_schema()
    labels = {}
    for d in DIMENSIONS:
        truth = rng.integers(len(schema.values(d)), size=n)
        labels[d] = simulate_codes(truth, len(schema.values(d)), accuracies, rng)
    with (tmp_path / "pilot.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["clip_id", "annotator", *DIMENSIONS])
        for i in range(n):
            for j in range(3):
                w.writerow(
                    [f"c{i}", f"a{j}", *(schema.values(d)[labels[d][i, j]] for d in DIMENSIONS)]
                )
    result = design(capsys, "--pilot", tmp_path / "pilot.csv")
    for d in DIMENSIONS:
        assert result["pool"][d] == pytest.approx(accuracies, abs=0.06)
    assert [r["k"] for r in result["rows"]] == [1, 2, 3]  # a pilot of three: k up to 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--accuracy", "1.5"], "expected probabilities from 0 to 1"),
        (["--rule", "vote"], "--rule 'vote': expected dawid-skene or majority"),
        (["--target", "0"], "--target must be in (0, 1]"),
        (["--alpha-width", "0"], "--alpha-width must be in (0, 2]"),
    ],
)
def test_bad_design_options_are_one_clear_error(capsys, args, message):
    code, _, err = fgtext(capsys, "design", *args)
    assert code == 1 and message in err


def test_a_target_width_of_alphas_interval_needs_fewer_annotators_on_more_clips(capsys):
    def run(clips):
        code, out, err = fgtext(capsys, "design", "--clips", clips, "--seeds", 3, "--k-max", 7,
                                "--accuracy", 0.8, "--alpha-width", 0.1, "--json")  # fmt: skip
        assert code == 0, err
        return json.loads(out)

    small, large = run(200), run(800)
    assert large["recommended_k"] < small["recommended_k"], (small, large)
    for result in (small, large):
        k = result["recommended_k"]
        highs = [r["alpha_width"] and r["alpha_width"][2] for r in result["rows"]]
        assert highs[0] is None  # alpha needs two labels a clip
        assert highs[k - 1] <= 0.1 and all(h > 0.1 for h in highs[1 : k - 1])
