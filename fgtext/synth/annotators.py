"""Simulated annotators of known skill: the synthetic dataset's labels, the reliability benches
and `fgtext design` all draw them here.

An annotator with accuracy a keeps the true value of each dimension with probability a and
otherwise picks one of the other values uniformly; errors are drawn per dimension, independently.
A spammer (accuracy None) picks any value uniformly, the true one included (so it is right with
chance 1/values, by luck).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fgtext.schema import DIMENSIONS, Schema


def annotate_clip(
    truth: Mapping[str, str],
    schema: Schema,
    accuracies: Sequence[float | None],
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """One clip's annotations, {"annotator": "annotator-<j>", "attributes"} for each annotator.

    The draws for a skilled annotator are those the generator has always made (one uniform per
    dimension, one pick among the others on an error), so a seed gives the same labels as
    before per-annotator skill existed."""
    out = []
    for j, accuracy in enumerate(accuracies, 1):
        attrs = {}
        for d in DIMENSIONS:
            value = truth[d]
            if accuracy is None:
                values = schema.values(d)
                value = values[int(rng.integers(len(values)))]
            elif rng.random() < 1.0 - accuracy:
                others = [v for v in schema.values(d) if v != value]
                if others:
                    value = others[int(rng.integers(len(others)))]
            attrs[d] = value
        out.append({"annotator": f"annotator-{j}", "attributes": attrs})
    return out


def simulate_codes(
    truth: np.ndarray, n_values: int, accuracies: Sequence[float | None], rng: np.random.Generator
) -> np.ndarray:
    """(clips, annotators) value codes from true codes (clips,): the same model, vectorised."""
    truth = np.asarray(truth, dtype=np.int64)
    out = np.empty((len(truth), len(accuracies)), dtype=np.int64)
    for j, accuracy in enumerate(accuracies):
        if accuracy is None:
            out[:, j] = rng.integers(n_values, size=len(truth))
            continue
        wrong = rng.random(len(truth)) < 1.0 - accuracy
        if n_values > 1:
            shifted = (truth + rng.integers(1, n_values, size=len(truth))) % n_values
        else:
            shifted = truth
        out[:, j] = np.where(wrong, shifted, truth)
    return out


def parse_accuracies(text: str) -> tuple[float, ...]:
    """ "0.95,0.7,0.6" -> (0.95, 0.7, 0.6) (the CLIs' --annotator-accuracy)."""
    from fgtext.errors import FgTextError

    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise FgTextError(
            f"annotator accuracy {text!r}: expected comma-separated probabilities, e.g. 0.95,0.7,0.6"
        ) from None
