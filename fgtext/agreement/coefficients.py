"""The coefficients (alpha, Fleiss' and Cohen's kappa, percent agreement, per class, confusion)
and alpha's bootstrap interval, which resamples the same per-clip coincidence counts; see the
package docstring for the definitions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import krippendorff
import numpy as np

from fgtext.agreement.labels import _Encoded
from fgtext.agreement.labels import _encoded_table as _encoded_table  # the pipeline's first step

TUPLE = "tuple"
TUPLE_SEPARATOR = " | "

# Beyond this many units x categories^2 cells the package's dense intermediates (several float64
# arrays of that size) cost seconds and gigabytes (measured at 100k clips: 13 categories about a
# second, 35 several); the sparse evaluation of the same formula takes over.
_PACKAGE_MAX_CELLS = 4_000_000
# Resample weights are built in chunks of about this many cells (32 MiB of float32).
_BOOT_CHUNK_CELLS = 1 << 23
# A category gets a dense column in the bootstrap matrix product when at least 1/64 of the units
# contain it; rarer ones are summed sparsely (the tuple has thousands of rare categories).
_DENSE_MIN_SHARE = 1 / 64
_DENSE_MAX_COLUMNS = 128
# Rare-category entries are summed in blocks of this many, so each block's rows stay in cache.
_SPARSE_BLOCK = 2048
_CONFUSION_MAX_CATEGORIES = 40
_TOP_DISAGREEMENTS = 10
# Group counts are tallied with a dense bincount up to this many groups, sorted keys above.
_DENSE_COUNT_MAX = 4_000_000


# --------------------------------------------------------------------------- numpy helpers


def _group_bounds(sorted_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each run of equal values in a sorted array."""
    n = len(sorted_groups)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    return starts, np.r_[starts[1:], n]


def _within_group_pairs(sorted_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs (i, j), i < j, inside runs of equal values of a sorted array."""
    n = len(sorted_groups)
    starts, ends = _group_bounds(sorted_groups)
    partners = np.repeat(ends, ends - starts) - np.arange(n) - 1
    i = np.repeat(np.arange(n), partners)
    first = np.cumsum(partners) - partners
    j = i + 1 + np.arange(len(i)) - np.repeat(first, partners)
    return i, j


def _group_counts(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys, their counts), dense bincount when the key range is small."""
    if size <= _DENSE_COUNT_MAX:
        counts = np.bincount(keys, minlength=size)
        present = np.flatnonzero(counts)
        return present, counts[present]
    return np.unique(keys, return_counts=True)


def _compact(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys in order, each key's index among them), keys in range(size)."""
    if size <= _DENSE_COUNT_MAX:
        present = np.zeros(size, dtype=bool)
        present[keys] = True
        index = np.cumsum(present) - 1
        return np.flatnonzero(present), index[keys]
    return np.unique(keys, return_inverse=True)


def _sum_by_key(keys: np.ndarray, weights: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys in order, the sum of the weights of each), keys in range(size)."""
    distinct, index = _compact(keys, size)
    return distinct, np.bincount(index, weights=weights, minlength=len(distinct))


def _plain(value: Any) -> Any:
    """A deep copy made of JSON types only: numpy scalars unwrapped, NaN and inf as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def _float(x: Any) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


# --------------------------------------------------------------------------- the analysis


@dataclass
class _Layout:
    """What all variables share: rows sorted by (clip, annotator) and the clip-level sets."""

    n_clips: int
    n_annotators: int
    order: np.ndarray
    clip: np.ndarray
    annotator: np.ndarray
    pair_i: np.ndarray  # the within-clip row pairs Cohen's kappa is counted on
    pair_j: np.ndarray
    resample_clips: np.ndarray  # clips with >= 2 annotations: the bootstrap's units
    resample_pos: np.ndarray  # clip -> position in resample_clips, -1 if not there
    clip_class: np.ndarray | None
    class_names: np.ndarray | None


def _layout(enc: _Encoded) -> _Layout:
    n_clips, n_annotators = len(enc.clip_names), len(enc.annotator_names)
    order = np.lexsort((enc.annotator, enc.clip))
    clip, annotator = enc.clip[order], enc.annotator[order]
    pair_i, pair_j = _within_group_pairs(clip)
    rated = np.bincount(clip, minlength=n_clips)
    resample_clips = np.flatnonzero(rated >= 2)
    resample_pos = np.full(n_clips, -1, dtype=np.int64)
    resample_pos[resample_clips] = np.arange(len(resample_clips))
    clip_class = None
    if enc.row_class is not None:
        clip_class = np.full(n_clips, -1, dtype=np.int64)
        given = enc.row_class >= 0
        clip_class[enc.clip[given]] = enc.row_class[given]
    return _Layout(
        n_clips, n_annotators, order, clip, annotator, pair_i, pair_j,
        resample_clips, resample_pos, clip_class, enc.class_names,
    )  # fmt: skip


@dataclass
class _BootVariable:
    """Per-unit sums of one variable over the bootstrap's units (clips with >= 2 annotations).

    Every entry is an integer, so resampled sums of them are exact in float32.
    """

    m: np.ndarray  # pairable values per unit (0 where the unit is not pairable)
    # sum_{c != k} o_ck of a unit is (m^2 - sum_c n_uc^2) / (m - 1): the integer numerator, in
    # one column per distinct m, and the factors 1 / (m - 1) of those columns
    numerator_unit: np.ndarray
    numerator_col: np.ndarray
    numerator: np.ndarray
    scale: np.ndarray
    dense_unit: np.ndarray  # entries (unit, dense column, count) of the frequent categories
    dense_col: np.ndarray
    dense_count: np.ndarray
    n_dense: int
    # units holding categories found in no other unit, and the sum of those n_uc^2
    single_unit: np.ndarray
    single_sq: np.ndarray
    sparse_unit: np.ndarray  # entries of the other rare categories, sorted by category
    sparse_count: np.ndarray
    # cache-sized blocks of those entries: (first, end, where each category begins - first)
    sparse_blocks: list[tuple[int, int, np.ndarray]]

    @property
    def n_columns(self) -> int:
        return 1 + len(self.scale) + self.n_dense


def _tuple_codes(
    codes: Sequence[np.ndarray], names: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the joint variable; missing where any part is missing."""
    joint = codes[0].copy()
    parts = [np.arange(len(names[0]))]
    for part_codes, part_names in zip(codes[1:], names[1:], strict=True):
        valid = (joint >= 0) & (part_codes >= 0)
        key = joint[valid] * len(part_names) + part_codes[valid]
        distinct, inverse = _compact(key, max(len(parts[0]), 1) * len(part_names))
        joint = np.full(len(joint), -1, dtype=np.int64)
        joint[valid] = inverse
        parts = [p[distinct // len(part_names)] for p in parts] + [distinct % len(part_names)]
    labels = np.array(
        [
            TUPLE_SEPARATOR.join(str(n[p]) for n, p in zip(names, combo, strict=True))
            for combo in zip(*parts, strict=True)
        ],
        dtype=object,
    )  # one string per distinct combination in use, not per row
    return joint, labels


def _analyse(
    codes: np.ndarray, categories: np.ndarray, lay: _Layout, enc: _Encoded
) -> tuple[dict[str, Any], _BootVariable | None, float | None]:
    """Every coefficient of one variable; codes are in the layout's (sorted) row order."""
    n_cat = max(len(categories), 1)
    valid = codes >= 0
    m = np.bincount(lay.clip[valid], minlength=lay.n_clips)
    pairable = m >= 2
    units = np.flatnonzero(pairable)
    entry_key, entry_count = _group_counts(
        lay.clip[valid] * n_cat + codes[valid], lay.n_clips * n_cat
    )
    entry_unit, entry_cat = entry_key // n_cat, entry_key % n_cat
    keep = pairable[entry_unit]
    eu, ec, en = entry_unit[keep], entry_cat[keep], entry_count[keep].astype(np.float64)
    n_raters = np.count_nonzero(np.bincount(lay.annotator[valid], minlength=lay.n_annotators))
    n_values = int(m[units].sum())
    result: dict[str, Any] = {
        "n_categories": int(np.count_nonzero(np.bincount(codes[valid], minlength=n_cat)))
    }

    if not units.size:
        note = (
            "undefined: only one annotator labelled this variable, so no value is pairable"
            if n_raters <= 1
            else "undefined: no clip has two or more values of this variable"
        )
        result |= _undefined_result(note, lay, enc, codes, categories)
        return result, None, None

    # Per unit u: its disagreement sum_{c != k} o_ck = (m_u^2 - sum_c n_uc^2) / (m_u - 1) and
    # its share of agreeing value pairs sum_c n_uc (n_uc - 1) / (m_u (m_u - 1)).
    sum_sq = np.bincount(eu, weights=en * en, minlength=lay.n_clips)
    mf = m.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        disagreement = np.where(pairable, (mf * mf - sum_sq) / (mf - 1), 0.0)
        agree_share = np.where(pairable, (sum_sq - mf) / (mf * (mf - 1)), 0.0)
    marginals = np.bincount(ec, weights=en, minlength=n_cat)
    used = np.flatnonzero(marginals)
    expected = float(n_values) ** 2 - float((marginals**2).sum())
    one_category = len(used) < 2

    alpha_info: dict[str, Any] = {
        "value": None,
        "ci95": None,
        "n_units": int(units.size),
        "n_values": n_values,
        "level": "nominal",
    }
    if one_category:
        alpha_info["note"] = "undefined: only one category in use (no expected disagreement)"
        alpha = None
    elif units.size * len(used) ** 2 <= _PACKAGE_MAX_CELLS:
        counts = np.zeros((units.size, len(used)), dtype=np.int64)
        column = np.zeros(n_cat, dtype=np.int64)
        column[used] = np.arange(len(used))
        row = np.cumsum(pairable) - 1
        counts[row[eu], column[ec]] = en.astype(np.int64)
        alpha = float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))
        alpha_info["method"] = "krippendorff package (value_counts)"
    else:
        alpha = 1.0 - (n_values - 1) * float(disagreement.sum()) / expected
        alpha_info["method"] = (
            "coincidence counts (the package's formula; its dense units x categories^2 "
            "intermediate would be too large)"
        )
    alpha_info["value"] = alpha
    result["krippendorff_alpha"] = alpha_info
    result["fleiss_kappa"] = _fleiss(m, units, eu, ec, en, sum_sq, n_cat)
    result["percent_agreement"] = {
        "value": float(agree_share[units].mean()),
        "n_units": int(units.size),
    }
    result["cohen_kappa"] = _cohen(codes, lay, enc, n_cat)
    if lay.clip_class is not None:
        result["per_class"] = _per_class(
            lay, units, m, disagreement, agree_share, eu, ec, en, n_cat
        )
    result["confusion"] = _confusion(eu, ec, en, m, marginals, categories, n_cat)

    boot = None
    if alpha is not None and lay.resample_clips.size:
        boot = _boot_variable(lay, units, m, sum_sq, eu, ec, en, n_cat)
    return result, boot, alpha


def _undefined_result(
    note: str, lay: _Layout, enc: _Encoded, codes: np.ndarray, categories: np.ndarray
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "krippendorff_alpha": {
            "value": None, "ci95": None, "n_units": 0, "n_values": 0,
            "level": "nominal", "note": note,
        },
        "fleiss_kappa": {"value": None, "n_units": 0, "raters_per_unit": None, "note": note},
        "percent_agreement": {"value": None, "n_units": 0, "note": note},
        "cohen_kappa": _cohen(codes, lay, enc, max(len(categories), 1)),
    }  # fmt: skip
    if lay.clip_class is not None:
        result["per_class"] = {
            str(name): {"krippendorff_alpha": None, "percent_agreement": None, "n_units": 0}
            for name in lay.class_names
        }
    result["confusion"] = {"categories": [], "matrix": [], "top_disagreements": []}
    return result


def _fleiss(
    m: np.ndarray,
    units: np.ndarray,
    eu: np.ndarray,
    ec: np.ndarray,
    en: np.ndarray,
    sum_sq: np.ndarray,
    n_cat: int,
) -> dict[str, Any]:
    raters_counts = np.bincount(m[units])
    raters = int(np.flatnonzero(raters_counts == raters_counts.max()).max())
    chosen = units[m[units] == raters]
    left_out = units.size - chosen.size
    note = (  # only worth saying when Fleiss' equal-raters assumption cost some clips
        f"Fleiss' kappa over the {chosen.size} clips with exactly {raters} values, the most "
        f"common number; {left_out} pairable clips with another number are left out"
        if left_out
        else None
    )
    info: dict[str, Any] = {"value": None, "n_units": int(chosen.size), "raters_per_unit": raters}
    per_unit = (sum_sq[chosen] - raters) / (raters * (raters - 1))
    in_chosen = m[eu] == raters
    totals = np.bincount(ec[in_chosen], weights=en[in_chosen], minlength=n_cat)
    if np.count_nonzero(totals) < 2:
        info["note"] = "; ".join(filter(None, ["undefined: only one category in use", note]))
        return info
    share = totals / totals.sum()
    chance = float((share**2).sum())
    info["value"] = (float(per_unit.mean()) - chance) / (1.0 - chance)
    if note:
        info["note"] = note
    return info


def _cohen(codes: np.ndarray, lay: _Layout, enc: _Encoded, n_cat: int) -> dict[str, Any]:
    n_ann = lay.n_annotators
    x, y = codes[lay.pair_i], codes[lay.pair_j]
    ok = (x >= 0) & (y >= 0)
    x, y = x[ok], y[ok]
    # rows are sorted by annotator inside a clip, so pair_i's annotator is the smaller one
    pair = lay.annotator[lay.pair_i][ok] * n_ann + lay.annotator[lay.pair_j][ok]
    n_pairs = n_ann * n_ann
    n_items = np.bincount(pair, minlength=n_pairs).astype(np.float64)
    agree = np.bincount(pair[x == y], minlength=n_pairs).astype(np.float64)
    # chance agreement count: sum_c (times a gave c) * (times b gave c), per pair
    kx, cx = _group_counts(pair * n_cat + x, n_pairs * n_cat)
    ky, cy = _group_counts(pair * n_cat + y, n_pairs * n_cat)
    common, ix, iy = np.intersect1d(kx, ky, assume_unique=True, return_indices=True)
    chance = np.bincount(
        common // n_cat, weights=cx[ix].astype(np.float64) * cy[iy], minlength=n_pairs
    )
    # kappa = (p_o - p_e) / (1 - p_e) with p_o = agree / n and p_e = chance / n^2; all integers
    numerator = agree * n_items - chance
    denominator = n_items * n_items - chance
    defined = (n_items >= 2) & (denominator > 0)
    kappa = np.full(n_pairs, np.nan)
    kappa[defined] = numerator[defined] / denominator[defined]
    kappa = kappa.reshape(n_ann, n_ann)
    items = n_items.reshape(n_ann, n_ann)
    kappa = np.where(np.isnan(kappa), kappa.T, kappa)  # fill the lower triangle
    items = items + items.T
    own = np.bincount(lay.annotator[codes >= 0], minlength=n_ann)
    np.fill_diagonal(items, own)
    np.fill_diagonal(kappa, np.where(own >= 2, 1.0, np.nan))
    return {
        "annotators": [str(a) for a in enc.annotator_names],
        "matrix": [[_float(v) for v in row] for row in kappa],
        "n_items": items.astype(np.int64).tolist(),
    }


def _per_class(
    lay: _Layout,
    units: np.ndarray,
    m: np.ndarray,
    disagreement: np.ndarray,
    agree_share: np.ndarray,
    eu: np.ndarray,
    ec: np.ndarray,
    en: np.ndarray,
    n_cat: int,
) -> dict[str, Any]:
    n_classes = len(lay.class_names)
    unit_class = lay.clip_class[units]
    has = unit_class >= 0
    cls, u = unit_class[has], units[has]
    n_units = np.bincount(cls, minlength=n_classes)
    n_values = np.bincount(cls, weights=m[u], minlength=n_classes)
    observed = np.bincount(cls, weights=disagreement[u], minlength=n_classes)
    agree = np.bincount(cls, weights=agree_share[u], minlength=n_classes)
    entry_class = lay.clip_class[eu]
    he = entry_class >= 0
    key, class_totals = _sum_by_key(entry_class[he] * n_cat + ec[he], en[he], n_classes * n_cat)
    sum_sq = np.bincount(key // n_cat, weights=class_totals**2, minlength=n_classes)
    expected = n_values**2 - sum_sq
    out: dict[str, Any] = {}
    for k, name in enumerate(lay.class_names):
        entry: dict[str, Any] = {
            "krippendorff_alpha": None,
            "percent_agreement": None,
            "n_units": int(n_units[k]),
        }
        if n_units[k]:
            entry["percent_agreement"] = float(agree[k] / n_units[k])
            if expected[k] > 0:
                entry["krippendorff_alpha"] = float(
                    1.0 - (n_values[k] - 1) * observed[k] / expected[k]
                )
            else:
                entry["note"] = "alpha undefined: only one category in use"
        else:
            entry["note"] = "undefined: no clip of this class has two or more values"
        out[str(name)] = entry
    return out


def _confusion(
    eu: np.ndarray,
    ec: np.ndarray,
    en: np.ndarray,
    m: np.ndarray,
    marginals: np.ndarray,
    categories: np.ndarray,
    n_cat: int,
) -> dict[str, Any]:
    weight = 1.0 / (m[eu] - 1.0)
    ei, ej = _within_group_pairs(eu)  # distinct categories of the same clip
    off = en[ei] * en[ej] * weight[ei]
    keys = np.concatenate([ec * n_cat + ec, ec[ei] * n_cat + ec[ej], ec[ej] * n_cat + ec[ei]])
    values = np.concatenate([en * (en - 1) * weight, off, off])
    key, coincidences = _sum_by_key(keys, values, n_cat * n_cat)
    row, col = key // n_cat, key % n_cat

    used = np.flatnonzero(marginals)
    used = used[np.lexsort((used, -marginals[used]))]  # most frequent first
    shown = used[:_CONFUSION_MAX_CATEGORIES]
    pooled = len(used) > len(shown)
    size = len(shown) + pooled
    position = np.full(n_cat, len(shown), dtype=np.int64)
    position[shown] = np.arange(len(shown))
    matrix = np.bincount(
        position[row] * size + position[col], weights=coincidences, minlength=size * size
    ).reshape(size, size)
    names = [str(categories[c]) for c in shown] + (["(other)"] if pooled else [])
    confusion: dict[str, Any] = {"categories": names, "matrix": matrix.tolist()}
    if pooled:
        confusion["note"] = (
            f"the {len(shown)} most frequent of {len(used)} categories; the rest pooled as (other)"
        )
    upper = row < col
    top = np.argsort(-coincidences[upper], kind="stable")[:_TOP_DISAGREEMENTS]
    confusion["top_disagreements"] = [
        {
            "categories": [str(categories[a]), str(categories[b])],
            "coincidences": float(v),
        }
        for a, b, v in zip(row[upper][top], col[upper][top], coincidences[upper][top], strict=True)
    ]
    return confusion


def _boot_variable(
    lay: _Layout,
    units: np.ndarray,
    m: np.ndarray,
    sum_sq: np.ndarray,
    eu: np.ndarray,
    ec: np.ndarray,
    en: np.ndarray,
    n_cat: int,
) -> _BootVariable:
    n_units = len(lay.resample_clips)
    pos = lay.resample_pos
    unit_m = np.zeros(n_units, dtype=np.float32)
    unit_m[pos[units]] = m[units]
    sizes, size_col = np.unique(m[units], return_inverse=True)
    presence = np.bincount(ec, minlength=n_cat)  # units that contain each category
    ranked = np.lexsort((np.arange(n_cat), -presence))
    dense = ranked[presence[ranked] >= _DENSE_MIN_SHARE * n_units][:_DENSE_MAX_COLUMNS]
    column = np.full(n_cat, -1, dtype=np.int64)
    column[dense] = np.arange(len(dense))
    is_dense = column[ec] >= 0
    is_single = ~is_dense & (presence[ec] == 1)
    single_unit, single_sq = _sum_by_key(pos[eu[is_single]], en[is_single] ** 2, n_units)
    rare = np.flatnonzero(~is_dense & ~is_single)
    rare = rare[np.argsort(ec[rare], kind="stable")]
    starts, _ = _group_bounds(ec[rare])
    firsts = starts[np.r_[True, np.diff(starts // _SPARSE_BLOCK) > 0]] if rare.size else starts
    ends = np.r_[firsts[1:], len(rare)] if rare.size else starts
    blocks = [
        (int(a), int(b), starts[(starts >= a) & (starts < b)] - a)
        for a, b in zip(firsts, ends, strict=True)
    ]  # a Python list of ~nnz / _SPARSE_BLOCK blocks, not of entries
    return _BootVariable(
        m=unit_m,
        numerator_unit=pos[units],
        numerator_col=size_col,
        numerator=m[units].astype(np.float64) ** 2 - sum_sq[units],
        scale=1.0 / (sizes - 1.0),
        dense_unit=pos[eu[is_dense]],
        dense_col=column[ec[is_dense]],
        dense_count=en[is_dense],
        n_dense=len(dense),
        single_unit=single_unit,
        single_sq=single_sq,
        sparse_unit=pos[eu[rare]],
        sparse_count=en[rare].astype(np.float32),
        sparse_blocks=blocks,
    )


def _draw_counts(rng: np.random.Generator, n_units: int) -> np.ndarray:
    """One resample: how often each of the units is drawn in n_units draws with replacement."""
    return np.bincount(rng.integers(0, n_units, n_units), minlength=n_units)


def _bootstrap_alphas(
    variables: Sequence[_BootVariable], n_units: int, n_resamples: int, seed: int
) -> np.ndarray:
    """Alpha of every variable on `n_resamples` resamples of the units (NaN where 0/0).

    A resample is a count vector w (how often each unit was drawn). Then n = w.m, the
    disagreement sum_{c != k} o_ck = sum over m of w.numerator_m / (m - 1), and n_c = w.n_c:
    one float32 matrix product for all variables, exact because every factor is a small
    integer. The rare categories are summed from rows of w's transpose; one present in a
    single unit only adds (w_u n_uc)^2 = w_u^2 n_uc^2.
    """
    offsets = np.cumsum([0] + [v.n_columns for v in variables])
    columns = np.zeros((n_units, offsets[-1]), dtype=np.float32)
    for v, start in zip(variables, offsets, strict=False):
        columns[:, start] = v.m
        columns[v.numerator_unit, start + 1 + v.numerator_col] = v.numerator
        columns[v.dense_unit, start + 1 + len(v.scale) + v.dense_col] = v.dense_count
    any_sparse = any(v.sparse_unit.size or v.single_unit.size for v in variables)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, _BOOT_CHUNK_CELLS // max(n_units, 1)))
    weights = np.empty((chunk, n_units), dtype=np.float32)
    alphas = np.empty((n_resamples, len(variables)))
    for begin in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - begin)
        for k in range(size):
            weights[k] = _draw_counts(rng, n_units)
        w = weights[:size]
        totals = (w @ columns).astype(np.float64)
        by_unit = np.ascontiguousarray(w.T) if any_sparse else None  # units x resamples
        for index, (v, start) in enumerate(zip(variables, offsets, strict=False)):
            n = totals[:, start]
            groups = start + 1 + len(v.scale)
            observed = totals[:, start + 1 : groups] @ v.scale
            dense = totals[:, groups : groups + v.n_dense]
            sum_sq = (dense * dense).sum(axis=1)
            if v.single_unit.size:
                drawn = by_unit[v.single_unit].astype(np.float64)
                sum_sq += (drawn * drawn).T @ v.single_sq
            for first, end, starts in v.sparse_blocks:
                rows = by_unit[v.sparse_unit[first:end]]
                rows *= v.sparse_count[first:end, None]
                rare = np.add.reduceat(rows, starts, axis=0).astype(np.float64)
                sum_sq += np.einsum("cr,cr->r", rare, rare)
            expected = n * n - sum_sq
            with np.errstate(divide="ignore", invalid="ignore"):
                alpha = 1.0 - (n - 1.0) * observed / expected
            alphas[begin : begin + size, index] = np.where(expected > 0, alpha, np.nan)
    return alphas
