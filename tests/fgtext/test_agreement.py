"""fgtext.agreement against reference implementations and published worked examples."""

from __future__ import annotations

import csv
import itertools
import json
import warnings
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from fgtext.agreement import LabelTable, agreement_report, load_labels
from fgtext.agreement import coefficients as agreement
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS

ONE = ("initiator",)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 coders x 12
# units, nominal, with missing values (None); the paper gives alpha_nominal = 0.743.
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}

# Fleiss (1971) as reproduced in Wikipedia's "Fleiss' kappa" worked example (also in statsmodels'
# own tests): 10 subjects, 14 raters each, 5 categories; counts of raters per category;
# kappa = 0.210.
FLEISS_1971 = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


@pytest.fixture(autouse=True)
def _no_warnings():
    # Degenerate inputs must not warn either (RuntimeWarning from 0/0 and the like).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def table_from_matrix(data: dict[str, list], dimension: str = "initiator") -> LabelTable:
    """Coders x units reliability data (None = not coded) as a long-format table."""
    rows = [
        {"clip_id": f"u{unit:03d}", "annotator": coder, dimension: value}
        for coder, values in data.items()
        for unit, value in enumerate(values)
        if value is not None
    ]
    return LabelTable.from_rows(rows, dimensions=(dimension,))


def random_table(seed, n_clips=60, n_annotators=5, n_values=4, p_absent=0.25, p_missing=0.05,
                 dimensions=DIMENSIONS, classes=0, agreement_rate=0.6):  # fmt: skip
    """Random labels with some structure (a latent truth), absent rows and missing values."""
    rng = np.random.default_rng(seed)
    rows = []
    truth = rng.integers(0, n_values, size=(n_clips, len(dimensions)))
    for clip in range(n_clips):
        for annotator in range(n_annotators):
            if rng.random() < p_absent:
                continue
            row = {"clip_id": f"c{clip}", "annotator": f"a{annotator}"}
            for k, d in enumerate(dimensions):
                value = truth[clip, k] if rng.random() < agreement_rate else rng.integers(n_values)
                row[d] = None if rng.random() < p_missing else f"v{value}"
            if classes:
                row["class"] = f"k{clip % classes}"
            rows.append(row)
    return LabelTable.from_rows(rows, dimensions=dimensions)


def fresh(table: LabelTable) -> LabelTable:
    """The same labels in new arrays (no cached encoding)."""
    return LabelTable(
        clip_ids=list(table.clip_ids),
        annotators=list(table.annotators),
        values={d: list(v) for d, v in table.values.items()},
        classes=None if table.classes is None else list(table.classes),
    )


def reliability(table: LabelTable, dimension: str | None, units=None):
    """Coders x units float matrix (NaN = missing) for the krippendorff package; dimension None
    is the joined 4-tuple."""
    clips = sorted(set(table.clip_ids)) if units is None else units
    coders = sorted(set(table.annotators))
    if dimension is None:
        values = [
            None if any(table.values[d][i] is None for d in DIMENSIONS)
            else "|".join(table.values[d][i] for d in DIMENSIONS)
            for i in range(len(table))
        ]  # fmt: skip
    else:
        values = list(table.values[dimension])
    codes = {v: k for k, v in enumerate(sorted({v for v in values if v is not None}))}
    lookup = {(c, a): v for c, a, v in zip(table.clip_ids, table.annotators, values, strict=True)}
    data = np.full((len(coders), len(clips)), np.nan)
    for j, clip in enumerate(clips):
        for i, coder in enumerate(coders):
            value = lookup.get((clip, coder))
            if value is not None:
                data[i, j] = codes[value]
    return data


def package_alpha(data: np.ndarray) -> float:
    return krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")


# --------------------------------------------------------------------------- published examples


def test_krippendorff_2011_worked_example():
    table = table_from_matrix(KRIPPENDORFF_2011)
    report = agreement_report(table, dimensions=ONE, n_bootstrap=0)
    alpha = report.dimensions["initiator"]["krippendorff_alpha"]
    assert round(alpha["value"], 3) == 0.743
    data = np.array([[np.nan if v is None else v for v in vs] for vs in KRIPPENDORFF_2011.values()])
    assert alpha["value"] == pytest.approx(package_alpha(data), abs=1e-12)
    # 11 pairable units (unit 12 has one value) holding n = 40 pairable values
    assert (alpha["n_units"], alpha["n_values"]) == (11, 40)
    # the paper's coincidence matrix: marginals n_c = 9, 13, 10, 5, 3 for values 1..5 and,
    # e.g., o_11 = 7, o_12 = 4/3, o_55 = 3
    confusion = report.dimensions["initiator"]["confusion"]
    order = [confusion["categories"].index(str(v)) for v in (1, 2, 3, 4, 5)]
    matrix = np.array(confusion["matrix"])[np.ix_(order, order)]
    np.testing.assert_allclose(matrix.sum(axis=1), [9, 13, 10, 5, 3])
    assert matrix[0, 0] == pytest.approx(7)
    assert matrix[0, 1] == pytest.approx(4 / 3)
    assert matrix[4, 4] == pytest.approx(3)


def test_fleiss_1971_wikipedia_example():
    rows = []
    for subject, counts in enumerate(FLEISS_1971):
        raters = itertools.count()
        for category, count in enumerate(counts):
            for _ in range(count):
                rows.append({"clip_id": f"s{subject}", "annotator": f"r{next(raters)}",
                             "initiator": f"cat{category}"})  # fmt: skip
    table = LabelTable.from_rows(rows, dimensions=ONE)
    fleiss = agreement_report(table, dimensions=ONE, n_bootstrap=0).dimensions["initiator"][
        "fleiss_kappa"
    ]
    assert round(fleiss["value"], 3) == 0.210
    assert fleiss["value"] == pytest.approx(fleiss_kappa(FLEISS_1971), abs=1e-12)
    assert (fleiss["n_units"], fleiss["raters_per_unit"]) == (10, 14)


# --------------------------------------------------------------------------- reference libraries


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("path", ["package", "sparse"])
def test_alpha_matches_package(seed, path, monkeypatch):
    if path == "sparse":  # force the sparse evaluation of the formula
        monkeypatch.setattr(agreement, "_PACKAGE_MAX_CELLS", 0)
    table = random_table(seed, n_values=2 + seed % 5)
    report = agreement_report(table, n_bootstrap=0)
    for dimension in (*DIMENSIONS, "tuple"):
        alpha = report.dimensions[dimension]["krippendorff_alpha"]
        expected = package_alpha(reliability(table, None if dimension == "tuple" else dimension))
        assert alpha["value"] == pytest.approx(expected, abs=1e-12), dimension
        assert alpha["method"].startswith("krippendorff" if path == "package" else "coincidence")


@pytest.mark.parametrize("seed", range(4))
def test_fleiss_matches_statsmodels(seed):
    # varying raters per clip: Fleiss' kappa is taken over the clips with the modal count
    table = random_table(seed, n_clips=80, n_annotators=6, p_absent=0.2, p_missing=0.0)
    report = agreement_report(table, n_bootstrap=0, include_tuple=False)
    for dimension in DIMENSIONS:
        fleiss = report.dimensions[dimension]["fleiss_kappa"]
        per_clip: dict[str, list[str]] = {}
        for clip, value in zip(table.clip_ids, table.values[dimension], strict=True):
            per_clip.setdefault(clip, []).append(value)
        sizes = [len(v) for v in per_clip.values() if len(v) >= 2]
        modal = max(set(sizes), key=lambda s: (sizes.count(s), s))
        categories = sorted(set(table.values[dimension]))
        counts = np.array(
            [[vs.count(c) for c in categories] for vs in per_clip.values() if len(vs) == modal]
        )
        assert fleiss["raters_per_unit"] == modal
        assert fleiss["n_units"] == len(counts)
        assert fleiss["value"] == pytest.approx(fleiss_kappa(counts), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_cohen_matches_sklearn_for_every_pair(seed):
    table = random_table(seed, n_clips=70, n_annotators=5, p_absent=0.3, p_missing=0.1)
    report = agreement_report(table, n_bootstrap=0)
    for dimension in (*DIMENSIONS, "tuple"):
        cohen = report.dimensions[dimension]["cohen_kappa"]
        names = cohen["annotators"]
        data = reliability(table, None if dimension == "tuple" else dimension)
        for i, j in itertools.combinations(range(len(names)), 2):
            both = ~np.isnan(data[i]) & ~np.isnan(data[j])
            assert cohen["n_items"][i][j] == cohen["n_items"][j][i] == both.sum()
            expected = cohen_kappa_score(data[i, both], data[j, both])
            assert cohen["matrix"][i][j] == pytest.approx(expected, abs=1e-12)
            assert cohen["matrix"][j][i] == cohen["matrix"][i][j]
        assert all(cohen["matrix"][i][i] == 1.0 for i in range(len(names)))


def brute_force_percent(data: np.ndarray) -> float:
    shares = []
    for unit in data.T:
        values = unit[~np.isnan(unit)]
        pairs = list(itertools.combinations(values, 2))
        if pairs:
            shares.append(sum(a == b for a, b in pairs) / len(pairs))
    return float(np.mean(shares))


def brute_force_coincidences(data: np.ndarray, n_categories: int) -> np.ndarray:
    o = np.zeros((n_categories, n_categories))
    for unit in data.T:
        values = unit[~np.isnan(unit)].astype(int)
        for i, j in itertools.permutations(range(len(values)), 2):
            o[values[i], values[j]] += 1 / (len(values) - 1)
    return o


@pytest.mark.parametrize("seed", range(4))
def test_percent_agreement_and_confusion_match_brute_force(seed):
    table = random_table(seed, n_clips=50, p_missing=0.1)
    report = agreement_report(table, n_bootstrap=0)
    for dimension in DIMENSIONS:
        figures = report.dimensions[dimension]
        data = reliability(table, dimension)
        assert figures["percent_agreement"]["value"] == pytest.approx(brute_force_percent(data))
        categories = sorted({v for v in table.values[dimension] if v is not None})
        expected = brute_force_coincidences(data, len(categories))
        order = [categories.index(c) for c in figures["confusion"]["categories"]]
        np.testing.assert_allclose(figures["confusion"]["matrix"], expected[np.ix_(order, order)])


def assert_close(a, b, path="report"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{path}[{k}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


def test_sorted_key_paths_equal_dense_ones(monkeypatch):
    """Large key ranges switch from dense bincounts to sorting; both give the same report."""
    table = random_table(10, n_clips=120, classes=3)
    dense = agreement_report(table, n_bootstrap=200).to_dict()
    monkeypatch.setattr(agreement, "_DENSE_COUNT_MAX", 0)
    monkeypatch.setattr(agreement, "_PACKAGE_MAX_CELLS", 0)
    sorted_keys = agreement_report(fresh(table), n_bootstrap=200).to_dict()
    for figures in sorted_keys["dimensions"].values():
        figures["krippendorff_alpha"].pop("method")
    for figures in dense["dimensions"].values():
        figures["krippendorff_alpha"].pop("method")
    assert_close(dense, sorted_keys)


def test_confusion_pools_rare_categories(monkeypatch):
    monkeypatch.setattr(agreement, "_CONFUSION_MAX_CATEGORIES", 3)
    table = random_table(1, n_clips=80, n_values=6)
    confusion = agreement_report(table, n_bootstrap=0).dimensions["direction"]["confusion"]
    assert confusion["categories"][-1] == "(other)" and len(confusion["categories"]) == 4
    data = reliability(table, "direction")
    total = brute_force_coincidences(data, 6).sum()
    assert np.sum(confusion["matrix"]) == pytest.approx(total)
    top = confusion["top_disagreements"][0]["coincidences"]
    off_diagonal = brute_force_coincidences(data, 6)[~np.eye(6, dtype=bool)]
    assert top == pytest.approx(off_diagonal.max())


def test_per_class_matches_package_on_each_class():
    table = random_table(2, n_clips=90, classes=3)
    report = agreement_report(table, n_bootstrap=0)
    per_class = report.dimensions["receiver"]["per_class"]
    assert sorted(per_class) == ["k0", "k1", "k2"]
    for name, figures in per_class.items():
        units = sorted({c for c, k in zip(table.clip_ids, table.classes, strict=True) if k == name})
        data = reliability(table, "receiver", units=units)
        assert figures["krippendorff_alpha"] == pytest.approx(package_alpha(data), abs=1e-12)
        assert figures["percent_agreement"] == pytest.approx(brute_force_percent(data))
        assert figures["n_units"] == int(((~np.isnan(data)).sum(axis=0) >= 2).sum())


def test_tuple_is_missing_when_any_dimension_is():
    table = random_table(3, p_missing=0.15)
    report = agreement_report(table, n_bootstrap=0)
    complete = np.ones(len(table), dtype=bool)
    for d in DIMENSIONS:
        complete &= np.array([v is not None for v in table.values[d]])
    data = reliability(table, None)
    assert report.dimensions["tuple"]["krippendorff_alpha"]["n_values"] == int(
        (~np.isnan(data))[:, (~np.isnan(data)).sum(axis=0) >= 2].sum()
    )
    assert (~np.isnan(data)).sum() == complete.sum()
    assert " | " in report.dimensions["tuple"]["confusion"]["categories"][0]


small_tables = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 3), st.sampled_from(["a", "b", "c", None])),
    min_size=2,
    max_size=40,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_tables)
def test_property_alpha_and_kappas_match_references(rows):
    table = LabelTable.from_rows(
        [{"clip_id": f"c{c}", "annotator": f"a{a}", "initiator": v} for c, a, v in rows],
        dimensions=ONE,
    )
    figures = agreement_report(table, dimensions=ONE, n_bootstrap=20).dimensions["initiator"]
    data = reliability(table, "initiator")
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    used = np.unique(data[:, pairable][~np.isnan(data[:, pairable])])
    alpha = figures["krippendorff_alpha"]["value"]
    if not pairable.any() or len(used) < 2:
        assert alpha is None and figures["krippendorff_alpha"]["ci95"] is None
    else:
        assert alpha == pytest.approx(package_alpha(data), abs=1e-12)
        low, high = figures["krippendorff_alpha"]["ci95"]
        assert low <= high
    if pairable.any():
        assert figures["percent_agreement"]["value"] == pytest.approx(brute_force_percent(data))
    json.dumps(figures, allow_nan=False)


# --------------------------------------------------------------------------- bootstrap


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_bootstrap_resamples_equal_the_package_on_the_resampled_units(layout, monkeypatch):
    """Each vectorised resample equals krippendorff.alpha on the same resampled clips."""
    if layout == "sparse":  # no dense column at all, rare categories in many small blocks
        monkeypatch.setattr(agreement, "_DENSE_MIN_SHARE", 2.0)
        monkeypatch.setattr(agreement, "_SPARSE_BLOCK", 3)
    table = random_table(4, n_clips=40, n_annotators=4, n_values=3)
    enc = agreement._encoded_table(table, DIMENSIONS)
    lay = agreement._layout(enc)
    codes = [enc.codes[d][lay.order] for d in DIMENSIONS]
    joint = agreement._tuple_codes(codes, [enc.categories[d] for d in DIMENSIONS])
    variables = [(codes[0], enc.categories["initiator"]), joint]
    boots = [agreement._analyse(c, names, lay, enc)[1] for c, names in variables]
    if layout == "sparse":
        assert boots[1].single_unit.size and boots[1].sparse_unit.size
        assert len(boots[1].sparse_blocks) > 1
    n_units = len(lay.resample_clips)
    alphas = agreement._bootstrap_alphas(boots, n_units, 25, seed=7)
    # replay the draws: resample r draws rng.integers(0, n_units, n_units) (_draw_counts)
    rng = np.random.default_rng(7)
    clips = list(enc.clip_names[lay.resample_clips])
    data = [reliability(table, d, units=clips) for d in ("initiator", None)]
    for row in alphas:
        drawn = rng.integers(0, n_units, n_units)
        for alpha, matrix in zip(row, data, strict=True):
            assert alpha == pytest.approx(package_alpha(matrix[:, drawn]), abs=1e-9)


def test_ci_contains_point_and_is_deterministic():
    table = random_table(5, n_clips=200)
    first = agreement_report(table, n_bootstrap=300, seed=11).to_dict()
    again = agreement_report(table, n_bootstrap=300, seed=11).to_dict()
    other = agreement_report(table, n_bootstrap=300, seed=12).to_dict()
    assert first == again
    for name, figures in first["dimensions"].items():
        alpha = figures["krippendorff_alpha"]
        low, high = alpha["ci95"]
        assert low < alpha["value"] < high, name
        assert alpha["n_bootstrap"] == alpha["n_bootstrap_defined"] == 300
    ci95 = [r["dimensions"]["initiator"]["krippendorff_alpha"]["ci95"] for r in (first, other)]
    assert ci95[0] != ci95[1]


def test_ci_narrows_with_more_units():
    widths = []
    for n_clips in (50, 400, 3200):
        table = random_table(6, n_clips=n_clips, dimensions=ONE)
        low, high = agreement_report(table, dimensions=ONE, n_bootstrap=400).dimensions[
            "initiator"
        ]["krippendorff_alpha"]["ci95"]
        widths.append(high - low)
    assert widths[0] > 2 * widths[1] > 4 * widths[2]


def test_ci_agrees_with_a_slow_reference_bootstrap():
    """Percentile interval from calling krippendorff.alpha in a loop (200 resamples)."""
    table = random_table(8, n_clips=150, n_annotators=4, dimensions=ONE)
    data = reliability(table, "initiator")
    rated = (~np.isnan(data)).sum(axis=0) >= 2  # the bootstrap's units: clips rated twice
    data = data[:, rated]
    rng = np.random.default_rng(123)
    reference = [
        package_alpha(data[:, rng.integers(0, data.shape[1], data.shape[1])]) for _ in range(200)
    ]
    ref_low, ref_high = np.percentile(reference, [2.5, 97.5])
    alpha = agreement_report(table, dimensions=ONE, n_bootstrap=2000, seed=1).dimensions[
        "initiator"
    ]["krippendorff_alpha"]
    low, high = alpha["ci95"]
    assert (low + high) / 2 == pytest.approx((ref_low + ref_high) / 2, abs=0.02)
    assert high - low == pytest.approx(ref_high - ref_low, rel=0.25)
    assert low == pytest.approx(ref_low, abs=0.04) and high == pytest.approx(ref_high, abs=0.04)


# --------------------------------------------------------------------------- degenerate inputs


def test_one_category_everywhere():
    rows = [
        {"clip_id": f"c{c}", "annotator": a, **dict.fromkeys(DIMENSIONS, "x")}
        for c in range(5)
        for a in ("ann1", "ann2", "ann3")
    ]
    report = agreement_report(LabelTable.from_rows(rows), n_bootstrap=100)
    for figures in report.dimensions.values():
        alpha = figures["krippendorff_alpha"]
        assert alpha["value"] is None and alpha["ci95"] is None
        assert "only one category" in alpha["note"]
        assert figures["fleiss_kappa"]["value"] is None
        assert "only one category" in figures["fleiss_kappa"]["note"]
        assert figures["percent_agreement"]["value"] == 1.0
        matrix = figures["cohen_kappa"]["matrix"]
        assert [matrix[i][i] for i in range(3)] == [1.0, 1.0, 1.0]
        assert matrix[0][1] is None and figures["cohen_kappa"]["n_items"][0][1] == 5
    assert report.summary()["direction"] == {
        "krippendorff_alpha": None, "ci95": None, "fleiss_kappa": None, "percent_agreement": 1.0,
    }  # fmt: skip
    json.dumps(report.to_dict(), allow_nan=False)


def test_one_annotator_only():
    table = table_from_matrix({"A": [1, 2, 3, 1]})
    figures = agreement_report(table, dimensions=ONE).dimensions["initiator"]
    assert figures["krippendorff_alpha"]["value"] is None
    assert "only one annotator" in figures["krippendorff_alpha"]["note"]
    assert figures["fleiss_kappa"]["value"] is None
    assert figures["percent_agreement"]["value"] is None
    assert figures["cohen_kappa"] == {"annotators": ["A"], "matrix": [[1.0]], "n_items": [[4]]}
    json.dumps(figures, allow_nan=False)


def test_no_clip_with_two_ratings_and_pairs_without_shared_clips():
    table = table_from_matrix({"A": [1, 2, None, None], "B": [None, None, 1, 2]})
    report = agreement_report(table, dimensions=ONE)
    figures = report.dimensions["initiator"]
    assert figures["krippendorff_alpha"]["value"] is None
    assert "no clip has two or more values" in figures["krippendorff_alpha"]["note"]
    assert figures["percent_agreement"]["value"] is None
    assert figures["cohen_kappa"]["matrix"] == [[1.0, None], [None, 1.0]]
    assert figures["cohen_kappa"]["n_items"] == [[2, 0], [0, 2]]
    assert report.summary()["initiator"]["krippendorff_alpha"] is None


def test_pair_without_shared_clips_among_others():
    # A and B share clips 0-3, A and C share 4-7; B and C share none.
    table = table_from_matrix(
        {
            "A": [1, 2, 1, 2, 1, 2, 2, 1],
            "B": [1, 2, 2, 2, *[None] * 4],
            "C": [*[None] * 4, 1, 2, 1, 1],
        }
    )
    cohen = agreement_report(table, dimensions=ONE, n_bootstrap=0).dimensions["initiator"][
        "cohen_kappa"
    ]
    assert cohen["matrix"][1][2] is None and cohen["n_items"][1][2] == 0
    assert cohen["matrix"][0][1] == pytest.approx(cohen_kappa_score([1, 2, 1, 2], [1, 2, 2, 2]))
    assert cohen["matrix"][0][2] == pytest.approx(cohen_kappa_score([1, 2, 2, 1], [1, 2, 1, 1]))


def test_clip_rated_once_is_not_pairable():
    base = {"A": [1, 2, 3, 1, 2], "B": [1, 2, 3, 2, 2]}
    with_single = {"A": [*base["A"], 3], "B": [*base["B"], None]}
    first = agreement_report(table_from_matrix(base), dimensions=ONE, n_bootstrap=0)
    second = agreement_report(table_from_matrix(with_single), dimensions=ONE, n_bootstrap=0)
    a, b = (r.dimensions["initiator"]["krippendorff_alpha"] for r in (first, second))
    assert a["value"] == b["value"] and a["n_units"] == b["n_units"] == 5
    assert second.n_clips == 6


def test_exact_duplicate_rows_are_dropped_and_missing_values_are_skipped():
    rows = [
        {"clip_id": "c1", "annotator": "A", "initiator": "x"},
        {"clip_id": "c1", "annotator": "A", "initiator": "x"},
        {"clip_id": "c1", "annotator": "B", "initiator": " x "},
        {"clip_id": "c2", "annotator": "A", "initiator": "y"},
        {"clip_id": "c2", "annotator": "B", "initiator": "z"},
        {"clip_id": "c2", "annotator": "C", "initiator": ""},
        {"clip_id": "c3", "annotator": "A", "initiator": float("nan")},
        {"clip_id": "c3", "annotator": "B", "initiator": "y"},
    ]
    table = LabelTable.from_rows(rows, dimensions=ONE)
    assert len(table) == 7
    report = agreement_report(table, dimensions=ONE, n_bootstrap=0)
    assert report.n_labels == 7 and report.n_clips == 3 and report.n_annotators == 3
    alpha = report.dimensions["initiator"]["krippendorff_alpha"]
    assert (alpha["n_units"], alpha["n_values"]) == (2, 4)
    assert alpha["value"] == pytest.approx(package_alpha(np.array([[0, 1], [0, 2]])))


def test_direct_table_and_options():
    table = LabelTable(
        clip_ids=np.array(["c1", "c1", "c2", "c2", "c2"]),
        annotators=["A", "B", "A", "B", "B"],  # one exact repeat
        values={"initiator": ["x", "y", "x", 3, 3]},
    )
    report = agreement_report(table, dimensions=ONE, n_bootstrap=0, include_tuple=False)
    assert list(report.dimensions) == ["initiator"] and report.n_labels == 4
    assert report.dimensions["initiator"]["krippendorff_alpha"]["ci95"] is None
    assert report.dimensions["initiator"]["krippendorff_alpha"]["n_bootstrap"] == 0
    with pytest.raises(FgTextError, match="LabelTable: no values for dimension 'receiver'"):
        agreement_report(table)
    with pytest.raises(FgTextError, match="n_bootstrap"):
        agreement_report(table, dimensions=ONE, n_bootstrap=-1)
    with pytest.raises(FgTextError, match=r"LabelTable: annotators has 1 entries; expected 2"):
        LabelTable(clip_ids=["a", "b"], annotators=["x"], values={})
    conflict = LabelTable(
        clip_ids=["c", "c"], annotators=["A", "A"], values={"initiator": ["x", "y"]}
    )
    with pytest.raises(FgTextError, match=r"LabelTable\[1\]: clip 'c' was already labelled"):
        agreement_report(conflict, dimensions=ONE)


def test_report_shape_and_summary():
    table = random_table(9, n_clips=40, classes=2)
    report = agreement_report(table, n_bootstrap=50)
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    assert list(data["dimensions"]) == [*DIMENSIONS, "tuple"]
    assert data["n_annotators"] == len(data["annotators"]) == 5
    for name, figures in data["dimensions"].items():
        assert set(figures) >= {
            "krippendorff_alpha", "fleiss_kappa", "percent_agreement", "cohen_kappa",
            "per_class", "confusion",
        }  # fmt: skip
        assert figures["krippendorff_alpha"]["level"] == "nominal"
        assert "most common number" in figures["fleiss_kappa"]["note"]
        summary = report.summary()[name]
        assert summary == {
            "krippendorff_alpha": figures["krippendorff_alpha"]["value"],
            "ci95": figures["krippendorff_alpha"]["ci95"],
            "fleiss_kappa": figures["fleiss_kappa"]["value"],
            "percent_agreement": figures["percent_agreement"]["value"],
        }
        assert report.alpha(name) == summary["krippendorff_alpha"]
    data["dimensions"]["initiator"]["krippendorff_alpha"]["value"] = 5
    assert report.alpha("initiator") != 5  # to_dict hands out a copy


# --------------------------------------------------------------------------- loading files


def sample_rows():
    return [
        {"clip_id": "c1", "annotator": "A", "initiator": "hand", "receiver": "eye",
         "direction": "up", "motion_type": "rub", "class": "rubbing eyes"},
        {"clip_id": "c1", "annotator": "B", "initiator": "hand", "receiver": "eye",
         "direction": "down", "motion_type": "rub", "class": "rubbing eyes"},
        {"clip_id": "c2", "annotator": "A", "initiator": "hand", "receiver": "neck",
         "direction": None, "motion_type": "touch", "class": "touching neck"},
        {"clip_id": "c2", "annotator": "B", "initiator": "finger", "receiver": "neck",
         "direction": "up", "motion_type": "touch", "class": "touching neck"},
        {"clip_id": "c3", "annotator": "B", "initiator": "hand", "receiver": "neck",
         "direction": "up", "motion_type": "scratch", "class": "touching neck"},
    ]  # fmt: skip


def write_csv(path: Path, rows, fields=None):
    fields = fields or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def write_jsonl(path: Path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def assert_same_table(a: LabelTable, b: LabelTable):
    assert list(a.clip_ids) == list(b.clip_ids)
    assert list(a.annotators) == list(b.annotators)
    assert a.values.keys() == b.values.keys()
    for d in a.values:
        assert list(a.values[d]) == list(b.values[d])
    assert list(a.classes) == list(b.classes)


def test_csv_and_jsonl_round_trip(tmp_path):
    rows = sample_rows()
    expected = LabelTable.from_rows(rows)
    write_csv(tmp_path / "labels.csv", rows)
    write_jsonl(tmp_path / "labels.jsonl", rows)
    (tmp_path / "labels.json").write_text(json.dumps(rows), encoding="utf-8")
    reference = agreement_report(expected, n_bootstrap=50).to_dict()
    for name in ("labels.csv", "labels.jsonl", "labels.json"):
        table = load_labels(tmp_path / name)
        assert_same_table(table, expected)
        assert table.values["direction"][2] is None
        assert agreement_report(table, n_bootstrap=50).to_dict() == reference
    assert sorted(reference["dimensions"]["direction"]["per_class"]) == [
        "rubbing eyes", "touching neck",
    ]  # fmt: skip


def test_jsonl_with_numbers_blank_lines_and_label_key(tmp_path):
    path = tmp_path / "labels.ndjson"
    lines = [
        {"clip_id": 1, "annotator": 7, "initiator": "hand", "label": 3},
        {"clip_id": 1, "annotator": "bob", "initiator": "hand", "label": 3},  # mixed types
    ]
    path.write_text("\n" + json.dumps(lines[0]) + "\n\n" + json.dumps(lines[1]) + "\n")
    table = load_labels(path, dimensions=ONE)
    assert list(table.clip_ids) == ["1", "1"] and list(table.annotators) == ["7", "bob"]
    assert list(table.classes) == ["3", "3"]


def test_jsonl_keeps_date_like_ids_and_all_null_dimensions(tmp_path):
    path = tmp_path / "labels.jsonl"
    rows = [
        {"clip_id": "2021-03-04", "annotator": "a", "initiator": "hand", "receiver": None},
        {"clip_id": "2021-03-04", "annotator": "b", "initiator": "hand", "receiver": None},
    ]
    write_jsonl(path, rows)
    table = load_labels(path, dimensions=("initiator", "receiver"))
    assert list(table.clip_ids) == ["2021-03-04"] * 2
    assert list(table.values["receiver"]) == [None, None]


def test_csv_trims_whitespace_and_reads_label_column(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("clip_id, annotator ,initiator,label\nc1, A ,hand ,k\nc1,B,  ,k\n")
    table = load_labels(path, dimensions=ONE)
    assert list(table.annotators) == ["A", "B"]
    assert list(table.values["initiator"]) == ["hand", None]
    assert list(table.classes) == ["k", "k"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("labels.txt", "x", r"labels\.txt: unknown label file type '\.txt'; expected \.csv"),
        ("labels.csv", "", r"labels\.csv: empty file; expected a header row"),
        ("labels.csv", "clip_id,annotator,initiator,receiver,motion_type\nc,a,x,y,z\n",
         r"labels\.csv line 1: missing column 'direction'; expected columns clip_id, annotator"),
        ("labels.csv", "clip_id,annotator,initiator,receiver,direction,motion_type\n",
         r"labels\.csv: no label rows"),
        ("labels.csv", "clip_id,annotator,initiator,receiver,direction,motion_type\n"
         "c1,a,x,y,z,w\n\nc2,a,x,y,z\n",
         r"labels\.csv line 4: 5 fields; expected 6 like the header"),
        ("labels.csv", "clip_id,annotator,initiator,receiver,direction,motion_type\n"
         "c1,a,x,y,z,w\n,a,x,y,z,w\n",
         r"labels\.csv line 3: empty clip_id; expected a non-empty clip_id and annotator"),
        ("labels.csv", "clip_id,annotator,initiator,receiver,direction,motion_type\n"
         "c1,a,x,y,up,w\nc2,a,x,y,z,w\nc1,a,x,y,down,w\n",
         r"labels\.csv line 4: clip 'c1' was already labelled by annotator 'a' \(line 2\) with "
         r"another direction \('up' vs 'down'\)"),
        ("labels.csv", "clip_id,annotator,initiator,receiver,direction,motion_type,class\n"
         "c1,a,x,y,z,w,k1\nc1,b,x,y,z,w,k2\n",
         r"labels\.csv line 3: clip 'c1' has class 'k2' but line 2 gives 'k1'; expected one class"),
        ("labels.jsonl", "", r"labels\.jsonl: no label rows"),
        ("labels.jsonl", '{"clip_id": "c1", "annotator": "a", "initiator": "x"}\n',
         r"labels\.jsonl: no line has 'receiver'; expected fields clip_id, annotator"),
        ("labels.jsonl", '{"clip_id": "c1", "annotator": "a", "initiator": "x", "receiver": "y",'
         ' "direction": "z", "motion_type": "w"}\n\n{"clip_id": "c2", "annotator": \n',
         r"labels\.jsonl line 3: malformed JSON \(.*\); expected one JSON object per line"),
        ("labels.jsonl", '["c1", "a"]\n', r"labels\.jsonl line 1: found a JSON list; expected"),
        ("labels.jsonl", '{"clip_id": "c1", "annotator": "a", "initiator": "x", "receiver": "y",'
         ' "direction": "z", "motion_type": "w"}\n{"clip_id": "c2", "initiator": "x"}\n',
         r"labels\.jsonl line 2: empty annotator"),
        ("labels.jsonl", '{"clip_id": "c1", "annotator": "a", "initiator": ["x"], "receiver": "y",'
         ' "direction": "z", "motion_type": "w"}\n',
         r"labels\.jsonl line 1: initiator is a JSON list; expected a string"),
    ],
)  # fmt: skip
def test_load_labels_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FgTextError, match=message):
        load_labels(path)


def test_load_labels_missing_file_and_bad_encoding(tmp_path):
    with pytest.raises(FgTextError, match=r"nope\.csv: no such file"):
        load_labels(tmp_path / "nope.csv")
    with pytest.raises(FgTextError, match="is a directory"):
        load_labels(tmp_path)
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "clip_id,annotator,initiator,receiver,direction,motion_type\nc1,a,é,y,z,w\n".encode(
            "latin-1"
        )
    )
    with pytest.raises(FgTextError, match=r"latin1\.csv: not UTF-8 text"):
        load_labels(path)


def test_from_rows_errors():
    with pytest.raises(FgTextError, match=r"rows\[1\]: found list; expected a mapping"):
        LabelTable.from_rows([{"clip_id": "c", "annotator": "a"}, ["c", "a"]], dimensions=ONE)
    with pytest.raises(FgTextError, match=r"rows\[0\]: empty clip_id"):
        LabelTable.from_rows([{"annotator": "a", "initiator": "x"}], dimensions=ONE)
    with pytest.raises(FgTextError, match=r"rows: no row has 'initiator'"):
        LabelTable.from_rows([{"clip_id": "c", "annotator": "a"}], dimensions=ONE)
    with pytest.raises(FgTextError, match=r"rows: no label rows"):
        LabelTable.from_rows([], dimensions=ONE)
