"""Agreement at scale: fgtext.agreement against the reference libraries called directly.

Synthetic labels (default 100k clips x 5 annotators x the 4 dimensions of the default schema):
each clip is one of the SMG classes' typical attribute combinations; annotators mostly give it,
sometimes a neighbouring value of the vocabulary, rarely any value; ~3% of (clip, annotator)
labels are absent and ~2% of values missing. Timings are medians of --repeats runs.

    .venv/bin/python bench/agreement.py [--clips 100000 --annotators 5 --repeats 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # runs from a checkout without installing the package

import krippendorff  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sklearn.metrics import cohen_kappa_score  # noqa: E402
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa  # noqa: E402

from fgtext.agreement import LabelTable, agreement_report, load_labels  # noqa: E402
from fgtext.schema import DIMENSIONS, default_schema, load_class_list  # noqa: E402


def synthesize(n_clips: int, n_annotators: int, seed: int = 0):
    """A LabelTable and, per dimension, the annotators x clips code matrix (NaN = missing)."""
    rng = np.random.default_rng(seed)
    schema = default_schema()
    vocab = {d: np.array(schema.values(d), dtype=object) for d in DIMENSIONS}
    index = {d: {v: i for i, v in enumerate(vocab[d])} for d in DIMENSIONS}
    classes = load_class_list("smg", schema)
    prototypes = [
        (k, [index[d][combo[d]] for d in DIMENSIONS])
        for k, cls in enumerate(classes)
        for combo in cls.attributes
    ]
    proto_class = np.array([k for k, _ in prototypes])
    proto_codes = np.array([codes for _, codes in prototypes])
    clip_proto = rng.integers(0, len(prototypes), n_clips)
    truth = proto_codes[clip_proto]
    # annotator skill and dimension difficulty: direction is the hardest to agree on
    skill = rng.uniform(-0.04, 0.04, n_annotators)
    difficulty = {"initiator": 0.93, "receiver": 0.9, "direction": 0.82, "motion_type": 0.88}
    clip = np.repeat(np.arange(n_clips), n_annotators)
    annotator = np.tile(np.arange(n_annotators), n_clips)
    present = rng.random(len(clip)) >= 0.03
    clip, annotator = clip[present], annotator[present]
    values, matrices = {}, {}
    for k, d in enumerate(DIMENSIONS):
        size = len(vocab[d])
        true = truth[clip, k]
        near = (true + rng.choice([-2, -1, 1, 2], len(clip))) % size
        anything = rng.integers(0, size, len(clip))
        correct = rng.random(len(clip)) < difficulty[d] + skill[annotator]
        code = np.where(correct, true, np.where(rng.random(len(clip)) < 0.8, near, anything))
        missing = rng.random(len(clip)) < 0.02
        values[d] = np.where(missing, None, vocab[d][code])
        matrix = np.full((n_annotators, n_clips), np.nan)
        matrix[annotator[~missing], clip[~missing]] = code[~missing]
        matrices[d] = matrix
    names = np.array([f"clip{i:06d}" for i in range(n_clips)], dtype=object)
    annotators = np.array([f"ann{i:02d}" for i in range(n_annotators)], dtype=object)
    class_names = np.array([c.name for c in classes], dtype=object)
    table = LabelTable(
        clip_ids=names[clip],
        annotators=annotators[annotator],
        values=values,
        classes=class_names[proto_class[clip_proto[clip]]],
    )
    return table, matrices


def fresh(table: LabelTable) -> LabelTable:
    """The same labels in new arrays, so no cached encoding is reused."""
    return LabelTable(
        clip_ids=table.clip_ids.copy(),
        annotators=table.annotators.copy(),
        values={d: v.copy() for d, v in table.values.items()},
        classes=None if table.classes is None else table.classes.copy(),
    )


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def reference_alpha(matrices):
    return {
        d: krippendorff.alpha(reliability_data=m, level_of_measurement="nominal")
        for d, m in matrices.items()
    }


def reference_fleiss(matrices):
    out = {}
    for d, m in matrices.items():
        rated = ~np.isnan(m)
        counts = rated.sum(axis=0)
        sizes = np.bincount(counts[counts >= 2])
        modal = int(np.flatnonzero(sizes == sizes.max()).max())
        subjects = m[:, counts == modal].T
        subjects = subjects[~np.isnan(subjects)].reshape(-1, modal).astype(int)
        table, _ = aggregate_raters(subjects)
        out[d] = fleiss_kappa(table)
    return out


def reference_cohen(matrices):
    out = {}
    for d, m in matrices.items():
        for i, j in itertools.combinations(range(m.shape[0]), 2):
            both = ~np.isnan(m[i]) & ~np.isnan(m[j])
            out[d, i, j] = cohen_kappa_score(m[i, both], m[j, both])
    return out


def value_counts(m: np.ndarray) -> np.ndarray:
    codes = np.unique(m[~np.isnan(m)]).astype(int)
    return np.stack([(m == c).sum(axis=0) for c in codes], axis=1)


def reference_bootstrap_seconds(matrices, n_resamples: int, seed: int = 0) -> float:
    """Seconds per resample (all dimensions) of krippendorff.alpha called in a loop, on the
    package's fast input (value_counts, built once) of the clips with >= 2 annotations."""
    rng = np.random.default_rng(seed)
    prepared = []
    for m in matrices.values():
        counts = value_counts(m)
        prepared.append(counts[counts.sum(axis=1) >= 2])
    start = time.perf_counter()
    for _ in range(n_resamples):
        for counts in prepared:
            drawn = counts[rng.integers(0, len(counts), len(counts))]
            krippendorff.alpha(value_counts=drawn, level_of_measurement="nominal")
    return (time.perf_counter() - start) / n_resamples


def write_files(table: LabelTable, folder: Path) -> tuple[Path, Path]:
    columns = {"clip_id": table.clip_ids, "annotator": table.annotators}
    columns |= {d: table.values[d] for d in DIMENSIONS} | {"class": table.classes}
    arrow = pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})
    csv_path, jsonl_path = folder / "labels.csv", folder / "labels.jsonl"
    pacsv.write_csv(arrow, csv_path)
    keys = list(columns)
    with jsonl_path.open("w", encoding="utf-8") as f:
        for row in zip(*columns.values(), strict=True):
            f.write(json.dumps(dict(zip(keys, row, strict=True))) + "\n")
    return csv_path, jsonl_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument(
        "--ref-resamples",
        type=int,
        default=5,
        help="resamples of the package-in-a-loop bootstrap that are timed, then extrapolated",
    )
    args = parser.parse_args()
    console = Console()
    started = time.perf_counter()

    table, matrices = synthesize(args.clips, args.annotators)
    n_rows = len(table)
    used = {d: len(np.unique(m[~np.isnan(m)])) for d, m in matrices.items()}
    console.print(
        f"{args.clips:,} clips x {args.annotators} annotators: {n_rows:,} labels; categories in "
        f"use: " + ", ".join(f"{d} {n}" for d, n in used.items())
    )

    with tempfile.TemporaryDirectory() as tmp:
        csv_path, jsonl_path = write_files(table, Path(tmp))
        t_csv, _ = median_time(lambda: load_labels(csv_path), args.repeats)
        t_jsonl, _ = median_time(lambda: load_labels(jsonl_path), args.repeats)

    copies = [fresh(table) for _ in range(args.repeats)]
    t_encode, _ = median_time(lambda: agreement_report(copies.pop(), n_bootstrap=0), args.repeats)
    t_point, _ = median_time(lambda: agreement_report(table, n_bootstrap=0), args.repeats)
    t_full, report = median_time(
        lambda: agreement_report(table, n_bootstrap=args.bootstrap), args.repeats
    )

    t_alpha, ref_alpha = median_time(lambda: reference_alpha(matrices), args.repeats)
    t_fleiss, ref_fleiss = median_time(lambda: reference_fleiss(matrices), args.repeats)
    t_cohen, ref_cohen = median_time(lambda: reference_cohen(matrices), args.repeats)
    per_resample = reference_bootstrap_seconds(matrices, args.ref_resamples)
    t_ref_boot = per_resample * args.bootstrap
    t_ref_point = t_alpha + t_fleiss + t_cohen

    n_pairs = args.annotators * (args.annotators - 1) // 2
    k = f"{n_rows / 1000:,.0f}k"
    rows = [
        (f"load_labels, CSV of {k} rows", t_csv, None),
        (f"load_labels, JSONL of {k} rows", t_jsonl, None),
        ("report on a new in-memory table, no bootstrap (incl. string encoding)", t_encode, None),
        ("point figures, no bootstrap ¹", t_point, t_ref_point),
        ("  krippendorff.alpha x 4 dimensions (reliability_data)", None, t_alpha),
        ("  statsmodels aggregate_raters + fleiss_kappa x 4", None, t_fleiss),
        (f"  sklearn cohen_kappa_score x {n_pairs * len(DIMENSIONS)} pairs", None, t_cohen),
        (f"alpha bootstrap, {args.bootstrap} resamples ²", t_full - t_point, t_ref_boot),
        ("full report (point figures + bootstrap)", t_full, t_ref_point + t_ref_boot),
    ]
    out = Table(title=f"Agreement at scale: seconds, median of {args.repeats}")
    out.add_column("what")
    out.add_column("ours", justify="right")
    out.add_column("reference", justify="right")
    out.add_column("ref / ours", justify="right")
    for what, ours, reference in rows:
        out.add_row(
            what,
            "" if ours is None else f"{ours:,.3f}",
            "" if reference is None else f"{reference:,.3f}",
            f"{reference / ours:,.1f}x" if ours and reference else "",
        )
    console.print(out)
    console.print(
        "¹ ours: alpha, Fleiss, pairwise Cohen, percent, per-class, confusion for the 4 "
        "dimensions and the tuple; the reference rows cover alpha, Fleiss and Cohen of the 4 "
        "dimensions only.\n"
        f"² reference EXTRAPOLATED: krippendorff.alpha (value_counts input, built once) in a loop, "
        f"{args.ref_resamples} resamples x 4 dimensions timed ({per_resample:.2f} s per "
        f"resample) and scaled to {args.bootstrap}; ours is the full report minus the point "
        "figures, 5 variables."
    )

    figures = report.dimensions
    d_alpha = max(abs(figures[d]["krippendorff_alpha"]["value"] - ref_alpha[d]) for d in DIMENSIONS)
    d_fleiss = max(abs(figures[d]["fleiss_kappa"]["value"] - ref_fleiss[d]) for d in DIMENSIONS)
    d_cohen = max(
        abs(figures[d]["cohen_kappa"]["matrix"][i][j] - value)
        for (d, i, j), value in ref_cohen.items()
    )
    console.print(
        f"max |ours - reference|: krippendorff_alpha {d_alpha:.2e}, fleiss_kappa {d_fleiss:.2e}, "
        f"cohen_kappa {d_cohen:.2e} ({len(ref_cohen)} pairs)"
    )
    for name, values in report.summary().items():
        low, high = values["ci95"]
        console.print(
            f"  {name:12s} alpha {values['krippendorff_alpha']:.4f} [{low:.4f}, {high:.4f}]  "
            f"fleiss {values['fleiss_kappa']:.4f}  percent {values['percent_agreement']:.4f}  "
            f"({figures[name]['krippendorff_alpha'].get('method', '').split(' (')[0]})"
        )
    console.print(
        "The tuple has no reference row: the package's dense units x categories^2 intermediate "
        f"for its {figures['tuple']['n_categories']:,} categories would not fit in memory."
    )
    console.print(f"bench wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
