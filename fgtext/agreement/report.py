"""The agreement report of a label table, and its summary for dataset.json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fgtext.agreement.coefficients import (
    TUPLE,
    _analyse,
    _bootstrap_alphas,
    _BootVariable,
    _Layout,
    _layout,
    _plain,
    _tuple_codes,
)
from fgtext.agreement.labels import LabelTable, _dimension_names, _Encoded, _encoded_table
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS

# --------------------------------------------------------------------------- the analysis


@dataclass
class _AnalysedVariables:
    """Every coefficient of each variable (`results`, as in the report's "dimensions") and the
    bootstrap's alphas of the variables whose alpha is defined (`samples`: one per resample,
    NaN where 0/0; every variable saw the same resamples of the same clips, so two variables'
    samples can be subtracted resample by resample)."""

    enc: _Encoded
    lay: _Layout
    results: dict[str, dict[str, Any]]
    samples: dict[str, np.ndarray]


def _analyse_variables(
    table: LabelTable,
    dimensions: Sequence[str],
    tuples: Mapping[str, Sequence[str]],
    *,
    n_bootstrap: int,
    seed: int,
) -> _AnalysedVariables:
    """The coefficients of the table's `dimensions` and of joint variables (`tuples`: the name of
    each joint variable and the dimensions it joins), with alpha's bootstrap interval over
    `n_bootstrap` resamples of the clips drawn from `seed`."""
    if n_bootstrap < 0:
        raise FgTextError(f"n_bootstrap is {n_bootstrap}; expected 0 (no interval) or more")
    enc = _encoded_table(table, dimensions)
    lay = _layout(enc)
    codes = {d: enc.codes[d][lay.order] for d in dimensions}
    variables: list[tuple[str, np.ndarray, np.ndarray]] = [
        (d, codes[d], enc.categories[d]) for d in dimensions
    ]
    for name, parts in tuples.items():
        joint, labels = _tuple_codes([codes[p] for p in parts], [enc.categories[p] for p in parts])
        variables.append((name, joint, labels))

    results: dict[str, dict[str, Any]] = {}
    boots: list[tuple[str, _BootVariable]] = []  # the variables whose alpha is defined
    for name, var_codes, categories in variables:
        results[name], boot, _ = _analyse(var_codes, categories, lay, enc)
        if boot is not None:
            boots.append((name, boot))

    samples: dict[str, np.ndarray] = {}
    if n_bootstrap and boots:
        alphas = _bootstrap_alphas(
            [b for _, b in boots], len(lay.resample_clips), n_bootstrap, seed
        )
        for index, (name, _) in enumerate(boots):
            info = results[name]["krippendorff_alpha"]
            samples[name] = alphas[:, index]
            sample = samples[name][np.isfinite(samples[name])]
            info["n_bootstrap"] = n_bootstrap
            info["n_bootstrap_defined"] = int(sample.size)
            if sample.size:
                low, high = np.percentile(sample, [2.5, 97.5])
                info["ci95"] = [float(low), float(high)]
            else:
                info["note"] = "ci95 undefined: no resample has two categories in use"
    for figures in results.values():
        figures["krippendorff_alpha"].setdefault("n_bootstrap", 0)
    return _AnalysedVariables(enc, lay, results, samples)


# --------------------------------------------------------------------------- the report


@dataclass
class AgreementReport:
    """Agreement figures per dimension (and "tuple"); see the module docstring."""

    n_clips: int
    n_annotators: int
    n_labels: int
    annotators: list[str]
    dimensions: dict[str, dict[str, Any]]
    bootstrap: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The full report, JSON-serialisable (numbers are floats, ints or None; never NaN)."""
        return _plain(
            {
                "n_clips": self.n_clips,
                "n_annotators": self.n_annotators,
                "n_labels": self.n_labels,
                "annotators": self.annotators,
                "dimensions": self.dimensions,
                "bootstrap": self.bootstrap,
            }
        )

    def summary(self) -> dict[str, dict[str, Any]]:
        """The dataset.json "agreement" field: headline coefficients per variable."""
        return agreement_summary(self.to_dict())

    def alpha(self, variable: str) -> float | None:
        """Krippendorff's alpha of a dimension or of "tuple" (None where undefined)."""
        return self.dimensions[variable]["krippendorff_alpha"]["value"]


def agreement_summary(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """dataset.json's "agreement" field from a report dict (`AgreementReport.to_dict()`, e.g.
    one cached by the annotation store): the headline coefficients per variable."""
    return _plain(
        {
            name: {
                "krippendorff_alpha": figures["krippendorff_alpha"]["value"],
                "ci95": figures["krippendorff_alpha"]["ci95"],
                "fleiss_kappa": figures["fleiss_kappa"]["value"],
                "percent_agreement": figures["percent_agreement"]["value"],
            }
            for name, figures in report.get("dimensions", {}).items()
        }
    )


def agreement_report(
    table: LabelTable,
    *,
    dimensions: Sequence[str] = DIMENSIONS,
    n_bootstrap: int = 1000,
    seed: int = 0,
    include_tuple: bool = True,
) -> AgreementReport:
    """Every agreement coefficient of the table's dimensions (and of their 4-tuple); the
    bootstrap interval of alpha takes `n_bootstrap` resamples drawn from `seed`."""
    dimensions = _dimension_names(dimensions)
    if include_tuple and TUPLE in dimensions:
        raise FgTextError(f"dimension name {TUPLE!r} is reserved for the joint variable")
    tuples = {TUPLE: dimensions} if include_tuple and dimensions else {}
    analysed = _analyse_variables(table, dimensions, tuples, n_bootstrap=n_bootstrap, seed=seed)
    enc, lay = analysed.enc, analysed.lay
    return AgreementReport(
        n_clips=lay.n_clips,
        n_annotators=lay.n_annotators,
        n_labels=len(enc.clip),
        annotators=[str(a) for a in enc.annotator_names],
        dimensions=analysed.results,
        bootstrap={
            "n_resamples": n_bootstrap,
            "seed": seed,
            "units": "clips with at least two annotations, drawn with replacement",
            "n_units": len(lay.resample_clips),
            "interval": "percentile, 2.5 and 97.5",
        },
    )
