"""fgtext.agreement.suggestion_bias: agreement, gold accuracy and time per suggestion condition,
against hand computations and the krippendorff package on each condition's own labels."""

from __future__ import annotations

import json
import statistics
import sys
import warnings

import numpy as np
import pytest

from fgtext.agreement import LabelTable, SuggestionRecord, suggestion_bias
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS
from fgtext.stats import median
from fgtext.vocabulary import SUGGESTION_CONDITIONS, SuggestionCondition
from tests.fgtext.test_agreement import package_alpha, reliability

ACCEPTED, NOT_SHOWN, EDITED = (
    SuggestionCondition.ACCEPTED,
    SuggestionCondition.NOT_SHOWN,
    SuggestionCondition.EDITED,
)
VARIABLES = (*DIMENSIONS, "tuple")
# Every label of the worked example has these three values; only the initiator varies.
REST = {"receiver": "eyes", "direction": "static", "motion_type": "touch"}


@pytest.fixture(autouse=True)
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def label(initiator: str, **rest: str) -> dict[str, str]:
    return {"initiator": initiator} | REST | rest


# The worked example: five clips, annotators A-D, the initiator h(ead) or f(oot).
#
#   clip  accepted           not shown       edited
#   c1    A=h  B=h  C=h                      D=f
#   c2    A=h  B=f           C=f
#   c3    A=f  B=f           C=h
#   c4    A=h                B=f  C=h
#   c5                       A=h  B=f  C=f
WORKED = [
    SuggestionRecord("c1", "A", label("h"), ACCEPTED, 4.0),
    SuggestionRecord("c1", "B", label("h"), ACCEPTED, 2),
    SuggestionRecord("c1", "C", label("h"), ACCEPTED, None),
    SuggestionRecord("c2", "A", label("h"), ACCEPTED, float("nan")),
    SuggestionRecord("c2", "B", label("f"), ACCEPTED, -1.0),
    SuggestionRecord("c3", "A", label("f"), ACCEPTED, float("inf")),
    SuggestionRecord("c3", "B", label("f"), ACCEPTED, 10.0),
    SuggestionRecord("c4", "A", label("h"), ACCEPTED, 6.0),
    SuggestionRecord("c2", "C", label("f"), NOT_SHOWN, 3.0),
    SuggestionRecord("c3", "C", label("h"), "not_shown", True),  # the plain string works too
    SuggestionRecord("c4", "B", label("f"), NOT_SHOWN),
    SuggestionRecord("c4", "C", label("h"), NOT_SHOWN),
    SuggestionRecord("c5", "A", label("h"), NOT_SHOWN),
    SuggestionRecord("c5", "B", label("f"), NOT_SHOWN),
    SuggestionRecord("c5", "C", label("f"), NOT_SHOWN),
    SuggestionRecord("c1", "D", label("f"), EDITED, 7.5),
]
# Gold: c2's initiator is h and its motion type "rub" (no one said so); c3's initiator is h.
WORKED_GOLD = {"c2": label("h", motion_type="rub"), "c3": label("h")}


def test_worked_example_by_hand():
    result = suggestion_bias(WORKED, gold=WORKED_GOLD, n_bootstrap=200)
    json.dumps(result, allow_nan=False)
    accepted = result["conditions"][ACCEPTED]
    not_shown = result["conditions"][NOT_SHOWN]
    edited = result["conditions"][EDITED]
    pooled = result["all"]
    assert [accepted["n_annotations"], accepted["n_clips"]] == [8, 4]
    assert [not_shown["n_annotations"], not_shown["n_clips"]] == [7, 4]
    assert [edited["n_annotations"], edited["n_clips"]] == [1, 1]
    assert [pooled["n_annotations"], pooled["n_clips"]] == [16, 5]

    # Alpha = 1 - (n - 1) * sum_{c != k} o_ck / (n^2 - sum_c n_c^2), with the coincidences
    # o_ck = sum_u n_uc (n_uk - [c == k]) / (m_u - 1) over the clips with m_u >= 2 values.
    #
    # Accepted: c4 has one value (left out); c1 (h,h,h) gives o_hh = 3*2/2 = 3; c2 (h,f) gives
    # o_hf = o_fh = 1*1/1 = 1; c3 (f,f) gives o_ff = 2*1/1 = 2. So n_h = 3 + 1 = 4, n_f = 1 + 2 = 3,
    # n = 7, disagreement o_hf + o_fh = 2, expected 49 - 16 - 9 = 24:
    # alpha = 1 - 6 * 2 / 24 = 0.5, from 3 clips and 7 values.
    alpha = accepted["alpha"]["initiator"]
    assert alpha["value"] == pytest.approx(0.5, abs=1e-12)
    assert [alpha["n_units"], alpha["n_values"], alpha["note"]] == [3, 7, None]
    # The other dimensions use one value each: alpha is 0/0, None. The tuple differs only in
    # the initiator, so its alpha is the initiator's.
    for d in ("receiver", "direction", "motion_type"):
        assert accepted["alpha"][d]["value"] is None and accepted["alpha"][d]["ci95"] is None
        assert "only one category" in accepted["alpha"][d]["note"]
    assert accepted["alpha"]["tuple"]["value"] == pytest.approx(0.5, abs=1e-12)

    # Not shown: c2 and c3 have one value each (left out); c4 (f,h) gives o_fh = o_hf = 1; c5
    # (h,f,f), m = 3, gives o_hf = 1*2/2 = 1, o_fh = 2*1/2 = 1, o_ff = 2*1/2 = 1. So n_h = 2,
    # n_f = 3, n = 5, disagreement 4, expected 25 - 4 - 9 = 12: alpha = 1 - 4 * 4 / 12 = -1/3.
    assert not_shown["alpha"]["initiator"]["value"] == pytest.approx(-1 / 3, abs=1e-12)
    assert not_shown["alpha"]["tuple"]["value"] == pytest.approx(-1 / 3, abs=1e-12)
    difference = result["accepted_minus_not_shown"]
    assert difference["initiator"]["value"] == pytest.approx(0.5 + 1 / 3, abs=1e-12)
    assert difference["tuple"]["value"] == pytest.approx(0.5 + 1 / 3, abs=1e-12)
    assert difference["receiver"] == {"value": None, "ci95": None}

    # Edited: one value (c1's D), nothing pairable.
    for v in VARIABLES:
        assert edited["alpha"][v]["value"] is None and edited["alpha"][v]["ci95"] is None
        assert edited["alpha"][v]["n_units"] == 0

    # All together: c1 (h,h,h,f) m = 4: o_hh = 3*2/3 = 2, o_hf = o_fh = 3*1/3 = 1; c2, c3, c5
    # (one h, two f) each o_hf = o_fh = o_ff = 1; c4 (h,f,h): o_hh = 2*1/2 = 1, o_hf = o_fh = 1.
    # o_hh = 3, o_hf = o_fh = 5, o_ff = 3; n_h = n_f = 8, n = 16; disagreement 10, expected
    # 256 - 64 - 64 = 128: alpha = 1 - 15 * 10 / 128 = -22/128 = -0.171875.
    assert pooled["alpha"]["initiator"]["value"] == pytest.approx(-0.171875, abs=1e-12)

    # Gold accuracy, counted by hand: accepted labels of gold clips are c2 A=h (right), B=f, c3
    # A=f, B=f: initiator 1 of 4. Motion type: c2's gold is "rub", so c3's two only: 2 of 4.
    # Tuple: c2's have the wrong motion type, c3's the wrong initiator: 0 of 4.
    # Not shown: c2 C=f (wrong), c3 C=h (right; c3's tuple too): initiator 1/2, tuple 1/2.
    counts = {v: [accepted["accuracy"][v]["correct"], accepted["accuracy"][v]["labels"]]
              for v in VARIABLES}  # fmt: skip
    assert counts == {"initiator": [1, 4], "receiver": [4, 4], "direction": [4, 4],
                      "motion_type": [2, 4], "tuple": [0, 4]}  # fmt: skip
    counts = {v: [not_shown["accuracy"][v]["correct"], not_shown["accuracy"][v]["labels"]]
              for v in VARIABLES}  # fmt: skip
    assert counts == {"initiator": [1, 2], "receiver": [2, 2], "direction": [2, 2],
                      "motion_type": [1, 2], "tuple": [1, 2]}  # fmt: skip
    # Wilson, z = 1.959964, z^2 = 3.841459, for 1 of 4 (p = 0.25, n = 4):
    #   denominator 1 + z^2/n = 1.960365
    #   centre (p + z^2/(2n)) / 1.960365 = (0.25 + 0.480182) / 1.960365 = 0.372473
    #   half z sqrt(p(1-p)/n + z^2/(4n^2)) / 1.960365
    #        = 1.959964 * sqrt(0.046875 + 0.060023) / 1.960365 = 0.326886
    #   interval [0.045587, 0.699359]
    initiator = accepted["accuracy"]["initiator"]
    assert initiator["accuracy"] == 0.25
    assert initiator["ci95"] == pytest.approx([0.045587, 0.699359], abs=2e-6)
    # No gold clip among the edited labels: no accuracy.
    assert edited["accuracy"]["tuple"] == {"labels": 0, "correct": 0, "accuracy": None,
                                           "ci95": None}  # fmt: skip
    assert result["n_gold_clips"] == 2

    # Seconds: accepted has 4.0, 2, None, NaN, -1.0, inf, 10.0, 6.0; the usable ones are 4, 2, 10
    # and 6, median 5. Not shown: 3.0 and True (not a number of seconds): median 3.
    assert accepted["seconds"] == {"median": 5.0, "n_timed": 4}
    assert not_shown["seconds"] == {"median": 3.0, "n_timed": 1}
    assert edited["seconds"] == {"median": 7.5, "n_timed": 1}
    assert pooled["seconds"] == {"median": 5.0, "n_timed": 6}


def test_gold_clips_can_count_in_accuracy_only():
    """The annotation store's figures leave gold clips out of agreement: with
    gold_in_agreement=False, alpha and its bootstrap are those of the labels of the other clips,
    accuracy still that of the gold clips' labels."""
    result = suggestion_bias(WORKED, gold=WORKED_GOLD, n_bootstrap=200, gold_in_agreement=False)
    others = [r for r in WORKED if r.clip not in WORKED_GOLD]
    without = suggestion_bias(others, n_bootstrap=200)
    with_gold = suggestion_bias(WORKED, gold=WORKED_GOLD, n_bootstrap=200)
    for group in (*SUGGESTION_CONDITIONS, "all"):
        mine = result["all"] if group == "all" else result["conditions"][group]
        theirs = without["all"] if group == "all" else without["conditions"][group]
        assert mine["alpha"] == theirs["alpha"], group
        kept = with_gold["all"] if group == "all" else with_gold["conditions"][group]
        assert mine["accuracy"] == kept["accuracy"], group
        assert mine["n_annotations"] == kept["n_annotations"], group  # every label counted
    assert result["accepted_minus_not_shown"] == without["accepted_minus_not_shown"]
    assert (
        result["bootstrap"]["n_units"] == 3
        and "gold clips left out" in result["bootstrap"]["units"]
    )
    # By hand, without c2 and c3: accepted pairs only c1 (h, h, h): one value in use, undefined.
    # Not shown is c4 and c5 as before, -1/3. All: c1 (h,h,h,f) o_hh = 2, o_hf = o_fh = 1; c4
    # (h,f,h) o_hh = 1, o_hf = o_fh = 1; c5 (h,f,f) o_hf = o_fh = o_ff = 1. n_h = 6, n_f = 4,
    # n = 10, disagreement 6, expected 100 - 36 - 16 = 48: alpha = 1 - 9 * 6 / 48 = -0.125.
    assert result["conditions"][ACCEPTED]["alpha"]["initiator"]["value"] is None
    assert result["conditions"][NOT_SHOWN]["alpha"]["initiator"]["value"] == pytest.approx(-1 / 3)
    assert result["all"]["alpha"]["initiator"]["value"] == pytest.approx(-0.125, abs=1e-12)


def test_the_median_of_huge_stored_times_stays_finite():
    """An older version stored any time: two near the largest float have that median, not
    infinity (which the JSON answer would turn into null); otherwise it is statistics.median."""
    huge = sys.float_info.max
    records = [
        SuggestionRecord("c1", annotator, label("h"), NOT_SHOWN, seconds)
        for annotator, seconds in (("A", huge), ("B", huge), ("C", huge), ("D", 1.0))
    ]
    seconds = suggestion_bias(records, n_bootstrap=0)["conditions"][NOT_SHOWN]["seconds"]
    assert seconds == {"median": huge, "n_timed": 4}  # the middle two: huge and huge
    rng = np.random.default_rng(0)
    for n in range(1, 12):
        values = list(rng.exponential(10, size=n))
        assert median(values) == statistics.median(values)
    assert median([]) is None


# --------------------------------------------------------------------------- reference package


def random_records(seed: int, n_clips: int = 120, n_annotators: int = 5, n_values: int = 4):
    """Clips with a true and a suggested tuple; an accepted label keeps the suggestion's value per
    dimension with probability 0.9, others the truth's with probability 0.6, else a value drawn
    uniformly; some values missing, some annotators absent."""
    rng = np.random.default_rng(seed)
    records = []
    for clip in range(n_clips):
        truth = {d: f"v{rng.integers(n_values)}" for d in DIMENSIONS}
        suggestion = {d: f"v{rng.integers(n_values)}" for d in DIMENSIONS}
        for annotator in range(n_annotators):
            if rng.random() < 0.2:
                continue
            condition = SUGGESTION_CONDITIONS[rng.integers(3)]
            kept, rate = (suggestion, 0.9) if condition == ACCEPTED else (truth, 0.6)
            values = {
                d: kept[d] if rng.random() < rate else f"v{rng.integers(n_values)}"
                for d in DIMENSIONS
            }
            if rng.random() < 0.05:
                values[DIMENSIONS[rng.integers(4)]] = None
            records.append(
                SuggestionRecord(f"clip{clip}", f"a{annotator}", values, condition, rng.random())
            )
    return records


def restricted_table(records, condition: str | None) -> LabelTable:
    """The labels of one condition (None: all) as the agreement report's long table."""
    rows = [
        {"clip_id": r.clip, "annotator": r.annotator, **r.attributes}
        for r in records
        if condition is None or r.condition == condition
    ]
    return LabelTable.from_rows(rows)


@pytest.mark.parametrize("seed", range(3))
def test_alpha_of_each_condition_equals_the_package_on_its_own_labels(seed):
    records = random_records(seed)
    result = suggestion_bias(records, n_bootstrap=0)
    groups = {c: result["conditions"][c] for c in SUGGESTION_CONDITIONS} | {None: result["all"]}
    for condition, figures in groups.items():
        table = restricted_table(records, condition)
        for v in VARIABLES:
            expected = package_alpha(reliability(table, None if v == "tuple" else v))
            assert figures["alpha"][v]["value"] == pytest.approx(expected, abs=1e-12), (
                condition,
                v,
            )
            assert figures["alpha"][v]["ci95"] is None  # no resamples asked for
        assert figures["n_annotations"] == len(table)
    accepted = result["conditions"][ACCEPTED]["alpha"]["tuple"]["value"]
    not_shown = result["conditions"][NOT_SHOWN]["alpha"]["tuple"]["value"]
    assert result["accepted_minus_not_shown"]["tuple"]["value"] == pytest.approx(
        accepted - not_shown
    )


def test_intervals_agree_with_a_slow_paired_reference_bootstrap():
    """Percentile intervals from the package in a loop over resampled clips (300 resamples):
    the clips with two or more annotations in any condition, drawn with replacement, each
    condition's alpha on the same draw."""
    records = random_records(11, n_clips=150)
    result = suggestion_bias(records, n_bootstrap=2000, seed=3)
    assert result == suggestion_bias(records, n_bootstrap=2000, seed=3)
    per_clip: dict[str, int] = {}
    for r in records:
        per_clip[r.clip] = per_clip.get(r.clip, 0) + 1
    units = sorted(c for c, n in per_clip.items() if n >= 2)
    data = {
        c: reliability(restricted_table(records, c), "initiator", units=units)
        for c in (ACCEPTED, NOT_SHOWN)
    }
    rng = np.random.default_rng(5)
    reference: dict[str, list[float]] = {ACCEPTED: [], NOT_SHOWN: [], "difference": []}
    for _ in range(300):
        drawn = rng.integers(0, len(units), len(units))
        alphas = {c: package_alpha(matrix[:, drawn]) for c, matrix in data.items()}
        for c, alpha in alphas.items():
            reference[c].append(alpha)
        reference["difference"].append(alphas[ACCEPTED] - alphas[NOT_SHOWN])
    intervals = {
        ACCEPTED: result["conditions"][ACCEPTED]["alpha"]["initiator"]["ci95"],
        NOT_SHOWN: result["conditions"][NOT_SHOWN]["alpha"]["initiator"]["ci95"],
        "difference": result["accepted_minus_not_shown"]["initiator"]["ci95"],
    }
    for name, (low, high) in intervals.items():
        ref_low, ref_high = np.percentile(reference[name], [2.5, 97.5])
        assert low == pytest.approx(ref_low, abs=0.04), name
        assert high == pytest.approx(ref_high, abs=0.04), name
    # Accepted labels copy one suggestion: far more agreement than labels made alone.
    assert intervals["difference"][0] > 0.2
    for c in SUGGESTION_CONDITIONS:
        alpha = result["conditions"][c]["alpha"]["tuple"]
        assert alpha["ci95"][0] < alpha["value"] < alpha["ci95"][1], c


# --------------------------------------------------------------------------- degenerate inputs


def test_conditions_without_pairable_labels_give_none():
    # Accepted labels each on a clip of their own, nothing edited: only "not shown" pairs.
    records = [
        SuggestionRecord(f"c{i}", "A", label("h"), ACCEPTED) for i in range(3)
    ] + [
        SuggestionRecord(f"c{i}", annotator, label(value), NOT_SHOWN)
        for i in range(3)
        for annotator, value in (("B", "h"), ("C", "hf"[i % 2]))
    ]  # fmt: skip
    result = suggestion_bias(records, n_bootstrap=50)
    json.dumps(result, allow_nan=False)
    for c in (ACCEPTED, EDITED):
        figures = result["conditions"][c]
        for v in VARIABLES:
            assert figures["alpha"][v]["value"] is None
            assert figures["alpha"][v]["ci95"] is None
            assert figures["alpha"][v]["note"].startswith("undefined")
            assert figures["accuracy"][v]["accuracy"] is None  # no gold given
    assert result["conditions"][EDITED]["n_annotations"] == 0
    assert result["conditions"][EDITED]["seconds"] == {"median": None, "n_timed": 0}
    assert result["conditions"][NOT_SHOWN]["alpha"]["initiator"]["value"] is not None
    assert all(d == {"value": None, "ci95": None}
               for d in result["accepted_minus_not_shown"].values())  # fmt: skip

    nothing = suggestion_bias([], n_bootstrap=10)
    assert nothing["all"]["n_annotations"] == 0
    assert nothing["all"]["alpha"]["tuple"]["value"] is None
    assert nothing["bootstrap"]["n_units"] == 0


def test_gold_accuracy_equals_a_count_by_hand_with_missing_values():
    records = random_records(2, n_clips=60)
    gold = {f"clip{i}": {d: f"v{(i + k) % 4}" for k, d in enumerate(DIMENSIONS)}
            for i in range(0, 60, 3)}  # fmt: skip
    result = suggestion_bias(records, gold=gold, n_bootstrap=0)
    for condition in SUGGESTION_CONDITIONS:
        right = dict.fromkeys(VARIABLES, 0)
        given = dict.fromkeys(VARIABLES, 0)
        for r in records:
            if r.condition != condition or r.clip not in gold:
                continue
            for d in DIMENSIONS:
                if r.attributes[d] is not None:
                    given[d] += 1
                    right[d] += r.attributes[d] == gold[r.clip][d]
            if None not in r.attributes.values():
                given["tuple"] += 1
                right["tuple"] += r.attributes == gold[r.clip]
        for v in VARIABLES:
            figures = result["conditions"][condition]["accuracy"][v]
            assert [figures["correct"], figures["labels"]] == [right[v], given[v]]
            assert given[v] > 0
            assert figures["accuracy"] == pytest.approx(right[v] / given[v])
            low, high = figures["ci95"]
            assert low <= figures["accuracy"] <= high
    assert result["n_gold_clips"] == 20


def test_clip_and_annotator_keys_may_be_any_hashable():
    by_name = suggestion_bias(WORKED, gold=WORKED_GOLD, n_bootstrap=100, seed=4)
    ids = {name: k for k, name in enumerate(["c1", "c2", "c3", "c4", "c5"])}
    by_id = suggestion_bias(
        [r._replace(clip=ids[r.clip], annotator=(r.annotator,)) for r in WORKED],
        gold={ids[c]: v for c, v in WORKED_GOLD.items()},
        n_bootstrap=100,
        seed=4,
    )
    assert by_id == by_name


@pytest.mark.parametrize(
    ("records", "gold", "message"),
    [
        ([("c1", "A", label("h"), "shown")], None, "condition 'shown'; expected one of"),
        ([("c1", "A", label("h"))], None, "expected (clip, annotator, attributes"),
        ([("c1", "A", "h", ACCEPTED)], None, "attributes must map"),
        (
            [("c1", "A", label("h"), ACCEPTED), ("c1", "A", label("f"), EDITED)],
            None,
            "annotator 'A' labelled clip 'c1' twice",
        ),
        ([], {"c1": {"initiator": "h"}}, "gold values of clip 'c1'"),
    ],
)
def test_input_errors_are_one_clear_sentence(records, gold, message):
    with pytest.raises(FgTextError, match=message.replace("(", r"\(")):
        suggestion_bias(records, gold=gold)
    with pytest.raises(FgTextError, match="n_bootstrap is -1"):
        suggestion_bias([], n_bootstrap=-1)


def test_vocabulary_names_the_conditions_once():
    assert SUGGESTION_CONDITIONS == ("not_shown", "accepted", "edited")
    assert SuggestionCondition("accepted") is ACCEPTED == "accepted"
