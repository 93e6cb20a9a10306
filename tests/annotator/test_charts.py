"""What the dashboard draws: alpha bars and intervals on the -1..1 axis, heat-map colours,
per-class order, annotator speed, and the review form's starting values."""

from __future__ import annotations

from types import SimpleNamespace

from annotator import charts
from fgtext.schema import DIMENSIONS


def _dimension(alpha, ci=None, **more):
    return {"krippendorff_alpha": {"value": alpha, "ci95": ci}, **more}


def test_alpha_bars_and_whiskers_sit_on_the_axis():
    report = {"dimensions": {
        "initiator": _dimension(1.0, [0.8, 1.0]), "receiver": _dimension(-0.5, [-1.0, 0.0]),
        "direction": _dimension(None), "motion_type": _dimension(0.7, [None, None]),
        "tuple": _dimension(0.0, [-0.2, 0.3]),
    }}  # fmt: skip
    chart = charts.alpha_chart(report, left=100, width=400)
    rows = {r["name"]: r for r in chart["rows"]}
    assert [r["name"] for r in chart["rows"]] == [
        "initiator",
        "receiver",
        "direction",
        "motion_type",
        "tuple",
    ]
    assert rows["initiator"]["zero"] == 300 and rows["initiator"]["end"] == 500
    assert (rows["initiator"]["bar_x"], rows["initiator"]["bar_width"]) == (300, 200)
    assert (rows["initiator"]["ci_lo"], rows["initiator"]["ci_hi"]) == (460, 500)
    assert (rows["receiver"]["bar_x"], rows["receiver"]["bar_width"]) == (200, 100)  # leftwards
    assert "bar_x" not in rows["direction"] and rows["direction"]["band"] == "undefined"
    assert "ci_lo" not in rows["motion_type"] and rows["motion_type"]["band"] == "fair"
    assert rows["tuple"]["band"] == "poor" and rows["initiator"]["band"] == "good"
    assert [t["x"] for t in chart["ticks"]] == [100, 200, 300, 400, 500]
    assert [m["x"] for m in chart["marks"]] == [433.4, 460]


def test_kappa_heat_map_diverges_from_white_at_chance():
    report = {"dimensions": {"initiator": {"cohen_kappa": {
        "annotators": ["a", "b", "c"],
        "matrix": [[1.0, 0.0, -1.0], [0.0, 1.0, None], [-1.0, None, 1.0]],
        "n_items": [[5, 5, 4], [5, 5, 0], [4, 0, 4]],
    }}}}  # fmt: skip
    heat = charts.heat_map(report, "initiator", "cohen_kappa")
    cells = [[c["colour"] for c in row["cells"]] for row in heat["rows"]]
    assert cells[0] == ["rgb(40, 130, 90)", "rgb(247, 248, 248)", "rgb(200, 60, 60)"]
    assert cells[1][2] == "#f1f3f5" and heat["rows"][1]["cells"][2]["text"] == "–"
    assert heat["rows"][0]["cells"][2]["title"] == "a × c: κ = -1.000 over 4 clips"
    assert charts.heat_map(report, "receiver", "cohen_kappa") is None


def test_confusion_heat_map_scales_off_diagonal_cells_by_the_largest():
    report = {"dimensions": {"receiver": {"confusion": {
        "categories": ["eyes", "nose"], "matrix": [[6.0, 2.0], [2.0, 3.0]],
        "top_disagreements": [{"categories": ["eyes", "nose"], "coincidences": 2.0}],
    }}}}  # fmt: skip
    heat = charts.heat_map(report, "receiver", "confusion")
    assert heat["rows"][0]["cells"][1]["colour"] == "rgb(214, 92, 60)"  # the top confusion
    assert heat["rows"][0]["cells"][0]["colour"] == "rgb(64, 145, 108)"  # the top agreement
    assert heat["rows"][1]["cells"][1]["text"] == "3"
    assert heat["top"][0]["coincidences"] == 2.0


def test_per_class_rows_weakest_first_and_speed():
    report = {"dimensions": {"initiator": {"per_class": {
        "b": {"krippendorff_alpha": 0.9, "percent_agreement": 0.95, "n_units": 4},
        "a": {"krippendorff_alpha": None, "percent_agreement": 1.0, "n_units": 3},
        "c": {"krippendorff_alpha": 0.2, "percent_agreement": 0.5, "n_units": 5},
    }}}}  # fmt: skip
    assert [r["name"] for r in charts.per_class_rows(report, "initiator")] == ["c", "b", "a"]
    speed = charts.annotator_speed({"annotators": [
        {"username": "x", "annotations": 10, "median_seconds": 12.0},
        {"username": "y", "annotations": 5, "median_seconds": None},
    ]})  # fmt: skip
    assert [(r["per_hour"], r["share"]) for r in speed] == [(300, 100), (None, 50)]


def test_review_starts_from_the_most_common_value_and_marks_disputes():
    labels = [
        {"initiator": "head", "receiver": "none", "direction": "static", "motion_type": "lower"},
        {"initiator": "neck", "receiver": "none", "direction": "static", "motion_type": "raise"},
        {"initiator": "neck", "receiver": "none", "direction": "static", "motion_type": "lower"},
    ]
    review = SimpleNamespace(annotations=[SimpleNamespace(attributes=a) for a in labels])
    assert charts.majority_values(review) == {
        "initiator": "neck",
        "receiver": "none",
        "direction": "static",
        "motion_type": "lower",
    }
    assert charts.disagreeing_dimensions(review) == ["initiator", "motion_type"]
    tie = SimpleNamespace(annotations=review.annotations[:2])
    assert charts.majority_values(tie)["initiator"] == "head"  # the earliest on a tie


def test_pair_table_pools_rare_values_and_counts_agreement():
    counts = {("eyes", "eyes"): 5, ("eyes", "nose"): 2, ("nose", "nose"): 1, ("ear", "hair"): 1}
    table = charts.pair_table(counts, "ivan", "jane", max_values=2)
    assert table["labels"] == ["eyes", "nose", "(other)"]
    assert [[c["value"] for c in row["cells"]] for row in table["rows"]] == [
        [5, 2, 0],
        [0, 1, 0],
        [0, 0, 1],
    ]  # ear/hair both pool into (other): a disagreement that lands on the diagonal
    assert table["clips"] == 9 and table["agreed"] == 6 / 9
    assert table["rows"][0]["cells"][1]["title"] == "ivan: eyes, jane: nose on 2 clips"
    assert charts.pair_table({}, "a", "b") is None


def test_busiest_pair_shares_the_most_clips():
    report = {"dimensions": {"receiver": {"cohen_kappa": {
        "annotators": ["a", "b", "c"], "matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        "n_items": [[9, 2, 7], [2, 5, 1], [7, 1, 8]],
    }}}}  # fmt: skip
    assert charts.busiest_pair(report, "receiver") == ("a", "c")
    assert charts.busiest_pair({"dimensions": {}}, "receiver") is None


def test_speed_says_nothing_for_times_that_mean_nothing():
    rows = [{"username": u, "annotations": 1, "median_seconds": s}
            for u, s in [("a", 1e-320), ("b", 5e-324), ("c", float("inf")), ("d", float("nan")),
                         ("e", 1e300), ("f", 0.0), ("g", 36.0)]]  # fmt: skip
    speed = charts.annotator_speed({"annotators": rows})
    assert [r["per_hour"] for r in speed] == [None, None, None, None, 0, None, 100]


def _figures(alpha: dict, accuracy: dict, difference_ci) -> dict:
    """Figures of fgtext.agreement.suggestion_bias with every variable's alpha equal to the
    condition's `alpha` (value, ci) and the 4-tuple's gold score `accuracy` (correct, labels)."""

    def condition(c: str) -> dict:
        value, ci = alpha[c]
        correct, labels = accuracy.get(c, (0, 0))
        return {
            "n_annotations": 4, "n_clips": 2,
            "alpha": {v: {"value": value, "ci95": ci, "n_units": 2, "n_values": 4,
                          "note": None if value is not None else "undefined: no pairable clip"}
                      for v in (*DIMENSIONS, "tuple")},
            "accuracy": {"tuple": {"labels": labels, "correct": correct,
                                   "accuracy": correct / labels if labels else None,
                                   "ci95": [0.1, 0.9] if labels else None}},
            "seconds": {"median": 3.0, "n_timed": 4},
        }  # fmt: skip

    return {"conditions": {c: condition(c) for c in ("not_shown", "accepted", "edited")},
            "accepted_minus_not_shown": {"tuple": {"value": 0.5, "ci95": difference_ci}}}  # fmt: skip


def test_suggestion_alpha_bars_clamp_to_the_axis_and_skip_undefined_ones():
    figures = _figures(
        {"not_shown": (-3.0, [-5.0, 2.0]), "accepted": (1.0, None), "edited": (None, None)},
        {}, None,
    )  # fmt: skip
    chart = charts.suggestion_alpha_chart(figures, left=100, width=400)
    assert [g["variable"] for g in chart["groups"]] == [*DIMENSIONS, "tuple"]
    not_shown, accepted, edited = chart["groups"][0]["bars"]
    # an alpha below -1 (or an interval past the axis) stops at its end
    assert (not_shown["bar_x"], not_shown["bar_width"]) == (100, 200)
    assert (not_shown["ci_lo"], not_shown["ci_hi"]) == (100, 500)
    assert (accepted["bar_x"], accepted["bar_width"]) == (300, 200) and "ci_lo" not in accepted
    assert "bar_x" not in edited and edited["note"].startswith("undefined")
    assert charts.suggestion_accuracy_chart(figures) is None  # no gold labels at all


def test_the_inflated_agreement_warning_needs_more_agreement_and_no_more_accuracy():
    alpha = {"not_shown": (0.4, [0.2, 0.6]), "accepted": (0.9, [0.8, 1.0]), "edited": (None, None)}
    worse = {"not_shown": (8, 10), "accepted": (5, 10)}
    assert charts.inflated_agreement(_figures(alpha, worse, [0.2, 0.7]))["kind"] == "inflated"
    same = {"not_shown": (5, 10), "accepted": (5, 10)}
    assert charts.inflated_agreement(_figures(alpha, same, [0.2, 0.7]))["kind"] == "inflated"
    # more accurate too: agreement that is earned
    better = {"not_shown": (5, 10), "accepted": (9, 10)}
    assert charts.inflated_agreement(_figures(alpha, better, [0.2, 0.7])) is None
    # an interval that reaches 0 (or none) is no evidence of more agreement
    assert charts.inflated_agreement(_figures(alpha, worse, [0.0, 0.7])) is None
    assert charts.inflated_agreement(_figures(alpha, worse, None)) is None
    # no gold labels in one condition: it cannot be told
    no_gold = {"not_shown": (5, 10)}
    assert charts.inflated_agreement(_figures(alpha, no_gold, [0.2, 0.7]))["kind"] == "no_gold"


def test_seconds_read_well_however_large():
    assert [charts.seconds_text(v) for v in (None, float("inf"), 4.25, 99999.0, 1.5e5, 1e308)] == [
        "–", "–", "4.2 s", "99999.0 s", "1.5e+05 s", "1e+308 s"
    ]  # fmt: skip
