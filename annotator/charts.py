"""What the dashboard and review pages draw, computed here so the templates only place it:
alpha bars with their intervals on a fixed -1..1 axis, heat-map cells with their colours,
per-class rows, annotator speed, which dimensions a clip's annotators disagree on, and the
figures per suggestion condition (alpha and gold accuracy bars, the inflated-agreement warning,
time per condition).

Charts are inline SVG and tables written by the templates: no charting library, nothing to
download, and every number on screen is also in the page's text for screen readers.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from fgtext.schema import DIMENSIONS
from fgtext.vocabulary import SuggestionCondition

# Krippendorff's (2004) guide: alpha >= .800 reliable, >= .667 tentative conclusions only.
RELIABLE, TENTATIVE = 0.800, 0.667


def alpha_band(value: float | None) -> str:
    if value is None:
        return "undefined"
    return "good" if value >= RELIABLE else "fair" if value >= TENTATIVE else "poor"


def _x(value: float, left: float, width: float) -> float:
    """Position of an alpha on an axis from -1 (left) to 1 (left + width)."""
    return round(left + (max(-1.0, min(1.0, value)) + 1.0) / 2.0 * width, 1)


def alpha_chart(report: dict[str, Any], *, left: float = 130, width: float = 460) -> dict:
    """Rows (dimension, alpha, interval, bar and whisker x positions) and the axis ticks."""
    rows = []
    for name in [*DIMENSIONS, "tuple"]:
        figures = report.get("dimensions", {}).get(name)
        if figures is None:
            continue
        alpha = figures["krippendorff_alpha"]
        value, ci = alpha["value"], alpha.get("ci95")
        zero = _x(0.0, left, width)
        row = {"name": name, "value": value, "ci": ci, "band": alpha_band(value),
               "note": alpha.get("note", ""), "zero": zero}  # fmt: skip
        if value is not None:
            end = _x(value, left, width)
            row.update(bar_x=min(zero, end), bar_width=abs(end - zero), end=end)
        if ci and ci[0] is not None and ci[1] is not None:
            row.update(ci_lo=_x(ci[0], left, width), ci_hi=_x(ci[1], left, width))
        rows.append(row)
    ticks = [{"value": v, "x": _x(v, left, width)} for v in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    marks = [{"value": v, "x": _x(v, left, width)} for v in (TENTATIVE, RELIABLE)]
    return {"rows": rows, "ticks": ticks, "marks": marks, "left": left, "width": width}


def _blend(value: float, low: tuple[int, int, int], high: tuple[int, int, int]) -> str:
    t = max(0.0, min(1.0, value))
    r, g, b = (round(a + (c - a) * t) for a, c in zip(low, high, strict=True))
    return f"rgb({r}, {g}, {b})"


def heat_map(report: dict[str, Any], dimension: str, kind: str) -> dict[str, Any] | None:
    """Cells of the pairwise Cohen's kappa matrix (`kind="cohen_kappa"`: annotator x annotator,
    kappa from -1 to 1) or of the coincidence matrix (`kind="confusion"`: value x value, counts
    scaled by the largest off-diagonal one so confusions stand out), with colours and text."""
    figures = report.get("dimensions", {}).get(dimension)
    if not figures or not figures.get(kind):
        return None
    data = figures[kind]
    labels = data.get("annotators") if kind == "cohen_kappa" else data.get("categories")
    matrix = data.get("matrix") or []
    if not labels or not matrix:
        return None
    if kind == "cohen_kappa":
        n_items = data.get("n_items") or [[None] * len(labels)] * len(labels)

        def cell(i: int, j: int, v: float | None) -> dict[str, Any]:
            if v is None:
                colour = "#f1f3f5"
            elif v >= 0:  # diverging: white at chance (0), green above, red below
                colour = _blend(v, (247, 248, 248), (40, 130, 90))
            else:
                colour = _blend(-v, (247, 248, 248), (200, 60, 60))
            return {"value": v, "colour": colour, "text": "–" if v is None else f"{v:.2f}",
                    "title": f"{labels[i]} × {labels[j]}: κ = "
                    + ("undefined" if v is None else f"{v:.3f}") + f" over {n_items[i][j]} clips",
                    "dark": v is not None and abs(v) > 0.55}  # fmt: skip

    else:
        cell = _count_cell(matrix, lambda i, j, v: f"{labels[i]} ↔ {labels[j]}: {v:g} coincidences")

    rows = [
        {"label": labels[i], "cells": [cell(i, j, v) for j, v in enumerate(r)]}
        for i, r in enumerate(matrix)
    ]
    return {"labels": labels, "rows": rows, "note": data.get("note", ""),
            "top": data.get("top_disagreements", [])}  # fmt: skip


def _count_cell(matrix: list[list[float]], describe):
    """Cells of a count matrix: the diagonal (agreement) green and the rest (confusions) warm,
    each scaled by its largest value so the confusions stand out."""
    off = [v for i, r in enumerate(matrix) for j, v in enumerate(r) if i != j]
    top = max(off, default=0.0) or 1.0
    diag = max((matrix[i][i] for i in range(len(matrix))), default=0.0) or 1.0

    def cell(i: int, j: int, v: float | None) -> dict[str, Any]:
        v = v or 0.0
        if i == j:
            colour, dark = _blend(v / diag, (244, 247, 246), (64, 145, 108)), v / diag > 0.6
        else:
            colour, dark = _blend(v / top, (250, 250, 250), (214, 92, 60)), v / top > 0.6
        return {"value": v, "colour": colour, "text": f"{v:g}" if v else "·", "dark": dark,
                "title": describe(i, j, v)}  # fmt: skip

    return cell


def pair_table(
    counts: dict[tuple[str, str], int], first: str, second: str, *, max_values: int = 12
) -> dict[str, Any] | None:
    """The confusion matrix of two annotators (rows: `first`'s value, columns: `second`'s)
    over the clips both labelled, on the `max_values` most used values (the rest pooled as
    "(other)"), with the number of clips and the share they agree on."""
    if not counts:
        return None
    use: Counter[str] = Counter()
    for (a, b), n in counts.items():
        use[a] += n
        use[b] += n
    kept = [v for v, _ in use.most_common(max_values)]
    labels = kept + (["(other)"] if len(use) > max_values else [])
    index = {v: i for i, v in enumerate(kept)}
    other = len(kept)
    matrix = [[0.0] * len(labels) for _ in labels]
    for (a, b), n in counts.items():
        matrix[index.get(a, other)][index.get(b, other)] += n
    cell = _count_cell(
        matrix, lambda i, j, v: f"{first}: {labels[i]}, {second}: {labels[j]} on {v:g} clips"
    )
    total = sum(counts.values())
    agreed = sum(n for (a, b), n in counts.items() if a == b)
    rows = [{"label": labels[i], "cells": [cell(i, j, v) for j, v in enumerate(r)]}
            for i, r in enumerate(matrix)]  # fmt: skip
    return {"labels": labels, "rows": rows, "clips": total, "agreed": agreed / total}


def busiest_pair(report: dict[str, Any], dimension: str) -> tuple[str, str] | None:
    """The two annotators who share the most clips (the dashboard's default pair)."""
    kappa = (report.get("dimensions", {}).get(dimension) or {}).get("cohen_kappa") or {}
    names, shared = kappa.get("annotators") or [], kappa.get("n_items") or []
    pairs = [(shared[i][j] or 0, names[i], names[j])
             for i in range(len(names)) for j in range(i + 1, len(names))]  # fmt: skip
    if not pairs:
        return None
    _, first, second = max(pairs, key=lambda p: p[0])
    return first, second


def per_class_rows(report: dict[str, Any], dimension: str) -> list[dict[str, Any]]:
    """Per gesture class: alpha, percent agreement and clips, weakest alpha first."""
    figures = report.get("dimensions", {}).get(dimension) or {}
    rows = [
        {"name": name, "alpha": f.get("krippendorff_alpha"), "band": alpha_band(
            f.get("krippendorff_alpha")), "percent": f.get("percent_agreement"),
         "n_units": f.get("n_units"), "note": f.get("note", "")}
        for name, f in (figures.get("per_class") or {}).items()
    ]  # fmt: skip
    return sorted(rows, key=lambda r: (r["alpha"] is None, r["alpha"] or 0.0, r["name"]))


def annotator_speed(progress: dict[str, Any]) -> list[dict[str, Any]]:
    """Per annotator: labels, median seconds per clip, clips per hour and a bar width (%)."""
    rows = progress.get("annotators", [])
    most = max((r["annotations"] for r in rows), default=0) or 1
    return [
        {**r, "per_hour": _per_hour(r["median_seconds"]),
         "share": round(100 * r["annotations"] / most)}
        for r in rows
    ]  # fmt: skip


def _per_hour(median_seconds: float | None) -> int | None:
    """Clips per hour at this median, None where it says nothing (no time, or an instant)."""
    if not median_seconds or not math.isfinite(median_seconds):
        return None
    per_hour = 3600 / median_seconds
    return round(per_hour) if math.isfinite(per_hour) else None


def disagreeing_dimensions(review: Any) -> list[str]:
    """The dimensions on which a clip's annotations differ."""
    return [d for d in DIMENSIONS if len({a.attributes[d] for a in review.annotations}) > 1]


def majority_values(review: Any) -> dict[str, str]:
    """Per dimension the most common value among the annotations (the earliest on a tie): the
    review form's starting point, which the reviewer confirms or changes."""
    values: dict[str, str] = {}
    for d in DIMENSIONS:
        counts = Counter(a.attributes[d] for a in review.annotations)
        if counts:
            values[d] = counts.most_common(1)[0][0]
    return values


# -- annotator quality and posteriors ---------------------------------------------------------

FLAG_BELOW = 0.6  # the quality page's default threshold (its `?below=` parameter)


def kappa_with_others(report: dict[str, Any], dimension: str = "tuple") -> dict[str, dict]:
    """Per annotator, the agreement report's pairwise Cohen's kappa with each other annotator
    averaged, weighted by the clips they share: {username: {"value", "clips"}}."""
    kappa = (report.get("dimensions", {}).get(dimension) or {}).get("cohen_kappa") or {}
    names, matrix = kappa.get("annotators") or [], kappa.get("matrix") or []
    shared = kappa.get("n_items") or []
    out = {}
    for i, name in enumerate(names):
        pairs = [(matrix[i][j], shared[i][j] or 0) for j in range(len(names))
                 if j != i and matrix[i][j] is not None and shared[i][j]]  # fmt: skip
        clips = sum(n for _, n in pairs)
        out[name] = {"value": sum(v * n for v, n in pairs) / clips if clips else None,
                     "clips": clips}  # fmt: skip
    return out


def quality_rows(
    gold: dict[str, Any],
    estimated: dict[str, dict[str, float | None]] | None,
    report: dict[str, Any],
    progress: dict[str, Any],
    *,
    below: float = FLAG_BELOW,
) -> list[dict[str, Any]]:
    """One row per annotator with labels: gold accuracy per dimension and 4-tuple (None
    without gold labels), the model's estimated accuracy per dimension (None unless
    dawid-skene), mean kappa with the others, speed (`annotator_speed`), and the reasons to
    flag them: the 4-tuple's gold accuracy is below `below` with 95 % confidence (the upper
    end of its interval is under it), or an estimated accuracy is below `below`."""
    by_gold = {r["username"]: r for r in gold.get("annotators", [])}
    kappa = kappa_with_others(report)
    rows = []
    for speed in annotator_speed(progress):
        name = speed["username"]
        scores = by_gold.get(name)
        est = (estimated or {}).get(name) if estimated is not None else None
        flags = []
        if scores:
            tuple_score = scores["accuracy"]["tuple"]
            upper = tuple_score["ci95"][1]
            if upper is not None and upper < below:
                flags.append(f"gold 4-tuple accuracy under {below:g} (95 % interval up to "
                             f"{upper:.2f})")  # fmt: skip
        for d in DIMENSIONS:
            value = (est or {}).get(d)
            if value is not None and value < below:
                flags.append(f"estimated {d.replace('_', ' ')} accuracy {value:.2f}")
        rows.append({"username": name, "gold": scores, "estimated": est,
                     "kappa": kappa.get(name, {"value": None, "clips": 0}), "speed": speed,
                     "flags": flags})  # fmt: skip
    return rows


def accuracy_chart(rows: list[dict[str, Any]], *, below: float, left: float = 130,
                   width: float = 460) -> dict[str, Any]:  # fmt: skip
    """Bars of each annotator's gold 4-tuple accuracy with its 95 % interval on a 0..1 axis,
    and the flag threshold's x."""

    def x(v: float) -> float:
        return round(left + max(0.0, min(1.0, v)) * width, 1)

    bars = []
    for r in rows:
        if not r["gold"]:
            continue
        score = r["gold"]["accuracy"]["tuple"]
        lo, hi = score["ci95"]
        bars.append({"name": r["username"], "value": score["accuracy"], "labels": score["labels"],
                     "correct": score["correct"], "bar_width": x(score["accuracy"]) - left,
                     "ci": [lo, hi], "ci_lo": x(lo), "ci_hi": x(hi),
                     "band": "poor" if r["flags"] else "good"})  # fmt: skip
    ticks = [{"value": v, "x": x(v)} for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    return {"rows": bars, "ticks": ticks, "mark": x(below), "left": left, "width": width}


def posterior_histogram(
    confidences: list[float], threshold: float, *, bins: int = 20, width: float = 560,
    height: float = 140,
) -> dict[str, Any] | None:  # fmt: skip
    """Clips per bin of their least certain posterior (bins of 1/`bins` on 0..1, the last one
    closed), as SVG bars, and the threshold's x; None without posteriors."""
    if not confidences:
        return None
    counts = [0] * bins
    for c in confidences:
        counts[min(bins - 1, max(0, int(c * bins)))] += 1
    top = max(counts)
    step = width / bins
    bars = [
        {"lo": i / bins, "hi": (i + 1) / bins, "count": n, "x": round(i * step, 1),
         "width": round(step - 2, 1), "height": round(height * n / top, 1),
         "y": round(height - height * n / top, 1), "below": (i + 1) / bins <= threshold}
        for i, n in enumerate(counts)
    ]  # fmt: skip
    return {"bars": bars, "width": width, "height": height, "clips": len(confidences),
            "below": sum(c < threshold for c in confidences), "threshold": threshold,
            "threshold_x": round(threshold * width, 1), "top": top,
            "ticks": [{"value": v, "x": round(v * width, 1)} for v in (0, 0.25, 0.5, 0.75, 1)]}  # fmt: skip


# -- suggestions and agreement ---------------------------------------------------------------

CONDITION_NAMES = {
    SuggestionCondition.NOT_SHOWN: "not shown",
    SuggestionCondition.ACCEPTED: "accepted",
    SuggestionCondition.EDITED: "edited",
}
VARIABLES = (*DIMENSIONS, "tuple")


def seconds_text(value: float | None) -> str:
    """Seconds for a table cell: one decimal, or three significant digits past 100,000 s (an
    older version stored times without an upper limit)."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.1f} s" if abs(value) < 1e5 else f"{value:.3g} s"


def condition_speed(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Per suggestion condition: labels, timed labels, median seconds and clips per hour."""
    return [
        {"condition": c, "name": name, "labels": f["n_annotations"],
         "timed": f["seconds"]["n_timed"], "median": seconds_text(f["seconds"]["median"]),
         "per_hour": _per_hour(f["seconds"]["median"])}
        for c, name in CONDITION_NAMES.items()
        for f in [figures["conditions"][c]]
    ]  # fmt: skip


def suggestion_alpha_chart(
    figures: dict[str, Any], *, left: float = 130, width: float = 460, bar: float = 11
) -> dict[str, Any]:
    """Alpha per dimension (and 4-tuple) and condition as grouped bars from 0 on a -1..1 axis,
    with interval whiskers; an undefined alpha is a row without a bar."""
    zero = _x(0.0, left, width)
    groups, y = [], 8.0
    for variable in VARIABLES:
        bars = []
        for i, (condition, name) in enumerate(CONDITION_NAMES.items()):
            alpha = figures["conditions"][condition]["alpha"][variable]
            value, ci = alpha["value"], alpha["ci95"]
            row = {"condition": condition, "name": name, "value": value, "ci": ci,
                   "y": round(y + i * (bar + 3), 1), "note": alpha["note"] or ""}  # fmt: skip
            if value is not None:
                end = _x(value, left, width)
                row.update(bar_x=min(zero, end), bar_width=max(abs(end - zero), 1.0))
            if ci is not None:
                row.update(ci_lo=_x(ci[0], left, width), ci_hi=_x(ci[1], left, width))
            bars.append(row)
        groups.append({"variable": variable, "y": y, "bars": bars,
                       "label_y": round(y + 1.5 * (bar + 3) + 3, 1)})  # fmt: skip
        y += len(CONDITION_NAMES) * (bar + 3) + 12
    return {"groups": groups, "height": round(y + 22, 1), "axis_y": round(y, 1), "bar": bar,
            "zero": zero, "left": left, "width": width,
            "ticks": [{"value": v, "x": _x(v, left, width)} for v in (-1.0, -0.5, 0.0, 0.5, 1.0)],
            "marks": [{"value": v, "x": _x(v, left, width)} for v in (TENTATIVE, RELIABLE)]}  # fmt: skip


def suggestion_accuracy_chart(
    figures: dict[str, Any], *, left: float = 110, width: float = 300
) -> dict[str, Any] | None:
    """Gold 4-tuple accuracy per condition with its Wilson interval on a 0..1 axis; None
    without gold labels."""

    def x(v: float) -> float:
        return round(left + max(0.0, min(1.0, v)) * width, 1)

    rows = []
    for i, (condition, name) in enumerate(CONDITION_NAMES.items()):
        score = figures["conditions"][condition]["accuracy"]["tuple"]
        row = {"condition": condition, "name": name, "y": 8 + 30 * i, **score}
        if score["accuracy"] is not None:
            lo, hi = score["ci95"]
            row.update(bar_width=max(x(score["accuracy"]) - left, 1.0), ci_lo=x(lo), ci_hi=x(hi))
        rows.append(row)
    if not any(r["labels"] for r in rows):
        return None
    return {"rows": rows, "left": left, "width": width, "height": 8 + 30 * len(rows) + 26,
            "axis_y": 8 + 30 * len(rows),
            "ticks": [{"value": v, "x": x(v)} for v in (0.0, 0.25, 0.5, 0.75, 1.0)]}  # fmt: skip


def inflated_agreement(figures: dict[str, Any]) -> dict[str, Any] | None:
    """The signature of agreement inflated by suggestions, on the 4-tuple: accepted labels agree
    more than those made without suggestions (the paired 95 % interval of the difference lies
    above 0) while no more accurate against gold (`kind` "inflated"), or with no gold labels in
    one of the two to tell (`kind` "no_gold"). None when they do not agree more, or are also
    more accurate."""
    difference = figures["accepted_minus_not_shown"]["tuple"]
    if difference["ci95"] is None or difference["ci95"][0] <= 0:
        return None
    accepted, not_shown = (
        figures["conditions"][c]
        for c in (SuggestionCondition.ACCEPTED, SuggestionCondition.NOT_SHOWN)
    )
    right, base = (
        accepted["accuracy"]["tuple"]["accuracy"],
        not_shown["accuracy"]["tuple"]["accuracy"],
    )
    facts = {"difference": difference, "accepted": accepted, "not_shown": not_shown}
    if right is None or base is None:
        return {"kind": "no_gold", **facts}
    if right <= base:
        return {"kind": "inflated", **facts}
    return None


def suggestion_view(figures: dict[str, Any]) -> dict[str, Any]:
    """What the dashboard's "Suggestions and agreement" section draws from the figures of
    `fgtext.agreement.suggestion_bias`."""
    return {
        "figures": figures,
        "names": CONDITION_NAMES,
        "variables": VARIABLES,
        "alpha_chart": suggestion_alpha_chart(figures),
        "accuracy_chart": suggestion_accuracy_chart(figures),
        "warning": inflated_agreement(figures),
        "speed": condition_speed(figures),
    }
