"""Does showing suggestions bias the labels? Agreement, gold accuracy and time per suggestion
condition.

The annotation page may offer suggestions (a class's typical combinations, a model's
predictions) that an annotator accepts with one key. Annotators who accept the same suggestion
agree with each other more, so alpha rises without the labels being more correct. Splitting the
annotations by their `SuggestionCondition` shows it: per condition, alpha on that condition's
annotations only, accuracy against gold values, and the median time per clip; and alpha(accepted)
- alpha(not shown) with its interval.

- Alpha (nominal, per dimension and for the 4-tuple as one nominal variable) of a condition is
  computed on the reliability data restricted to the condition's annotations: the other
  annotations are missing values, so a clip with fewer than two annotations in the condition adds
  nothing. The coefficient and its bootstrap are `fgtext.agreement`'s. One bootstrap serves every
  condition: each resample draws the clips (those with two or more annotations in any condition)
  with replacement and computes every condition's alpha on the same draw, so the difference
  between two conditions has a paired interval (2.5 and 97.5 percentiles of the resample
  differences, over the resamples where both are defined). With `gold_in_agreement=False` the
  labels of gold clips count in accuracy only, as the annotation store's agreement figures
  leave gold clips out.
- Accuracy against gold: a label of a clip with gold values is right on a dimension when it equals
  the gold value, and on the tuple when all four do; 95 % Wilson intervals (`fgtext.stats`).
- Time: the median of the annotations' seconds; a missing, non-finite or negative value is left
  out (`n_timed` counts the others).

A missing value (None or "", surrounding whitespace trimmed, as in the agreement report) is left
out of its dimension's figures and of the tuple's. Undefined figures are None, never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from numbers import Real
from typing import Any, NamedTuple

import numpy as np

from fgtext.agreement.coefficients import TUPLE, _plain
from fgtext.agreement.labels import LabelTable, _as_str
from fgtext.agreement.report import _analyse_variables, _AnalysedVariables
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS
from fgtext.stats import accuracy_figures, median
from fgtext.vocabulary import SUGGESTION_CONDITIONS, SuggestionCondition

VARIABLES: tuple[str, ...] = (*DIMENSIONS, TUPLE)
POOLED = "all"  # every annotation, whatever its condition


class SuggestionRecord(NamedTuple):
    """One stored annotation: its clip and annotator (any hashable keys, e.g. database ids), its
    four values, its suggestion condition and the seconds the annotator spent (None: unknown)."""

    clip: Hashable
    annotator: Hashable
    attributes: Mapping[str, str | None]
    condition: SuggestionCondition | str
    seconds: float | None = None


def suggestion_bias(
    records: Iterable[SuggestionRecord | tuple],
    *,
    gold: Mapping[Hashable, Mapping[str, str]] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    gold_in_agreement: bool = True,
) -> dict[str, Any]:
    """Agreement, gold accuracy and time of the annotations split by suggestion condition.

    `records`: (clip, annotator, attributes, condition, seconds) each, one per clip and annotator;
    `gold`: {clip: four known values} for the clips whose truth is known; `gold_in_agreement`:
    whether their labels count in alpha too (False: in accuracy only). Returns (JSON types,
    None where undefined; VARIABLE is each dimension and "tuple"):

        {"conditions": {CONDITION: FIGURES for not_shown, accepted, edited},
         "all": FIGURES of every annotation together,
         "accepted_minus_not_shown": {VARIABLE: {"value", "ci95"}},
         "n_gold_clips": int,
         "bootstrap": {"n_resamples", "seed", "n_units", "units"}}

    FIGURES = {"n_annotations", "n_clips",
               "alpha": {VARIABLE: {"value", "ci95", "n_units", "n_values", "note"}},
               "accuracy": {VARIABLE: {"labels", "correct", "accuracy", "ci95"}},
               "seconds": {"median", "n_timed"}}

    alpha's n_units and n_values count the clips with two or more values and their values; note
    says why a value is None (else None). ci95 is [low, high] or None.
    """
    rows = _checked_records(records)
    gold_values = _checked_gold(gold or {})
    if n_bootstrap < 0:
        raise FgTextError(f"n_bootstrap is {n_bootstrap}; expected 0 (no interval) or more")

    groups = {c: [r for r in rows if r.condition == c] for c in SUGGESTION_CONDITIONS}
    groups[POOLED] = rows
    in_agreement = rows if gold_in_agreement else [r for r in rows if r.clip not in gold_values]
    analysed = _alphas(in_agreement, n_bootstrap, seed)
    figures = {
        group: {
            "n_annotations": len(members),
            "n_clips": len({r.clip for r in members}),
            "alpha": {v: _alpha(analysed.results[_name(group, v)]) for v in VARIABLES},
            "accuracy": _accuracy(members, gold_values),
            "seconds": _seconds(members),
        }
        for group, members in groups.items()
    }
    accepted, not_shown = SuggestionCondition.ACCEPTED, SuggestionCondition.NOT_SHOWN
    difference = {
        v: _difference(
            figures[accepted]["alpha"][v]["value"],
            figures[not_shown]["alpha"][v]["value"],
            analysed.samples.get(_name(accepted, v)),
            analysed.samples.get(_name(not_shown, v)),
        )
        for v in VARIABLES
    }
    return _plain(
        {
            "conditions": {c: figures[c] for c in SUGGESTION_CONDITIONS},
            POOLED: figures[POOLED],
            "accepted_minus_not_shown": difference,
            "n_gold_clips": len(gold_values),
            "bootstrap": {
                "n_resamples": n_bootstrap,
                "seed": seed,
                "n_units": len(analysed.lay.resample_clips),
                "units": "clips with at least two annotations"
                + ("" if gold_in_agreement else " (gold clips left out)")
                + ", drawn with replacement; every condition's alpha on the same draws",
            },
        }
    )


# --------------------------------------------------------------------------- the steps


def _checked_records(records: Iterable[SuggestionRecord | tuple]) -> list[SuggestionRecord]:
    rows: list[SuggestionRecord] = []
    seen: set[tuple[Hashable, Hashable]] = set()
    for i, record in enumerate(records):
        try:
            r = SuggestionRecord(*record)
        except TypeError:
            raise FgTextError(
                f"records[{i}]: expected (clip, annotator, attributes, condition, seconds)"
            ) from None
        if r.condition not in SUGGESTION_CONDITIONS:
            raise FgTextError(
                f"records[{i}]: condition {r.condition!r}; expected one of "
                f"{', '.join(SUGGESTION_CONDITIONS)}"
            )
        if not isinstance(r.attributes, Mapping):
            raise FgTextError(f"records[{i}]: attributes must map the dimensions to values")
        if (r.clip, r.annotator) in seen:
            raise FgTextError(
                f"records[{i}]: annotator {r.annotator!r} labelled clip {r.clip!r} twice; "
                "expected one annotation per clip and annotator"
            )
        seen.add((r.clip, r.annotator))
        values = {d: _value(r.attributes.get(d)) for d in DIMENSIONS}
        rows.append(r._replace(condition=SuggestionCondition(r.condition), attributes=values))
    return rows


def _checked_gold(gold: Mapping[Hashable, Mapping[str, str]]) -> dict[Hashable, dict[str, str]]:
    out = {}
    for clip, values in gold.items():
        known = (
            {d: _value(values.get(d)) for d in DIMENSIONS} if isinstance(values, Mapping) else {}
        )
        if not known or None in known.values():
            raise FgTextError(
                f"gold values of clip {clip!r}: expected a value for each of {', '.join(DIMENSIONS)}"
            )
        out[clip] = known
    return out


def _value(value: Any) -> str | None:
    text = _as_str(value)
    return (text.strip() or None) if text is not None else None


def _name(group: str, variable: str) -> str:
    """The label-table variable of a condition's values (the pooled ones keep their names)."""
    return variable if group == POOLED else f"{group}/{variable}"


def _alphas(rows: list[SuggestionRecord], n_bootstrap: int, seed: int) -> _AnalysedVariables:
    """Alpha of every variable of every group, with the shared bootstrap."""
    clips: dict[Hashable, int] = {}
    annotators: dict[Hashable, int] = {}
    values: dict[str, list[str | None]] = {}
    for group in (POOLED, *SUGGESTION_CONDITIONS):
        for d in DIMENSIONS:
            values[_name(group, d)] = [
                r.attributes[d] if group in (POOLED, r.condition) else None for r in rows
            ]
    table = LabelTable(
        clip_ids=np.array([str(clips.setdefault(r.clip, len(clips))) for r in rows], dtype=object),
        annotators=np.array(
            [str(annotators.setdefault(r.annotator, len(annotators))) for r in rows], dtype=object
        ),
        values={name: np.array(column, dtype=object) for name, column in values.items()},
    )
    tuples = {
        _name(group, TUPLE): [_name(group, d) for d in DIMENSIONS]
        for group in (POOLED, *SUGGESTION_CONDITIONS)
    }
    return _analyse_variables(table, list(values), tuples, n_bootstrap=n_bootstrap, seed=seed)


def _alpha(results: Mapping[str, Any]) -> dict[str, Any]:
    info = results["krippendorff_alpha"]
    return {
        "value": info["value"],
        "ci95": info["ci95"],
        "n_units": info["n_units"],
        "n_values": info["n_values"],
        "note": info.get("note"),
    }


def _accuracy(
    rows: list[SuggestionRecord], gold: Mapping[Hashable, Mapping[str, str]]
) -> dict[str, dict[str, Any]]:
    labels = dict.fromkeys(VARIABLES, 0)
    correct = dict.fromkeys(VARIABLES, 0)
    for r in rows:
        truth = gold.get(r.clip)
        if truth is None:
            continue
        given = [d for d in DIMENSIONS if r.attributes[d] is not None]
        for d in given:
            labels[d] += 1
            correct[d] += r.attributes[d] == truth[d]
        if len(given) == len(DIMENSIONS):
            labels[TUPLE] += 1
            correct[TUPLE] += all(r.attributes[d] == truth[d] for d in DIMENSIONS)
    return {v: accuracy_figures(correct[v], labels[v]) for v in VARIABLES}


def _seconds(rows: list[SuggestionRecord]) -> dict[str, Any]:
    timed = [
        float(r.seconds)
        for r in rows
        if isinstance(r.seconds, Real)
        and not isinstance(r.seconds, bool)
        and math.isfinite(r.seconds)
        and r.seconds >= 0
    ]
    return {"median": median(timed), "n_timed": len(timed)}


def _difference(
    first: float | None,
    second: float | None,
    first_samples: np.ndarray | None,
    second_samples: np.ndarray | None,
) -> dict[str, Any]:
    """first - second, with the percentile interval of the paired resample differences."""
    if first is None or second is None:
        return {"value": None, "ci95": None}
    ci95 = None
    if first_samples is not None and second_samples is not None:
        paired = first_samples - second_samples
        paired = paired[np.isfinite(paired)]
        if paired.size:
            ci95 = [float(v) for v in np.percentile(paired, [2.5, 97.5])]
    return {"value": first - second, "ci95": ci95}
