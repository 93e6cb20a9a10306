"""The reliability model at scale: fgtext's Dawid-Skene against crowd-kit's on the same labels.

Simulated labels (default 100k clips x 5 annotators of accuracy 0.95, 0.9, 0.8, 0.7, 0.6, every
annotator on every clip) for the four dimensions of the default schema (19, 35, 13 and 26
values, true values uniform). Both fit the four dimensions with the same start, stopping rule and
no smoothing (crowd-kit has none); fgtext is also timed with its default smoothing. Timings are
medians of --repeats runs (crowd-kit: --crowdkit-repeats); "max |dp|" is the largest difference
between the two posteriors over all clips and values.

    .venv/bin/python bench/reliability.py [--clips 100000 --repeats 5 --crowdkit-repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # runs from a checkout without installing the package

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from crowdkit.aggregation import DawidSkene  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from fgtext.agreement.dawid_skene import DEFAULT_SMOOTHING, dawid_skene  # noqa: E402
from fgtext.schema import DIMENSIONS, default_schema  # noqa: E402
from fgtext.synth.annotators import parse_accuracies, simulate_codes  # noqa: E402


def timed(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--accuracies", default="0.95,0.9,0.8,0.7,0.6")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--crowdkit-repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    schema = default_schema()
    accuracies = list(parse_accuracies(args.accuracies))
    n, w = args.clips, len(accuracies)
    task, worker = np.repeat(np.arange(n), w), np.tile(np.arange(w), n)
    data = {}
    for d in DIMENSIONS:
        k = len(schema.values(d))
        truth = rng.integers(k, size=n)
        data[d] = (k, truth, simulate_codes(truth, k, accuracies, rng).ravel())

    def ours(smoothing: float):
        return {
            d: dawid_skene(
                task, worker, labels, n_tasks=n, n_workers=w, n_values=k, smoothing=smoothing
            )
            for d, (k, _, labels) in data.items()
        }

    frames = {d: pd.DataFrame({"task": task, "worker": worker, "label": labels})
              for d, (_, _, labels) in data.items()}  # fmt: skip

    def theirs():
        return {d: DawidSkene(n_iter=100, tol=1e-5).fit(f) for d, f in frames.items()}

    t_plain, fits = timed(lambda: ours(0.0), args.repeats)
    t_smooth, smoothed = timed(lambda: ours(DEFAULT_SMOOTHING), args.repeats)
    t_ck, models = timed(theirs, args.crowdkit_repeats)
    table = Table(title=f"Dawid-Skene, {n} clips x {w} annotators x 4 dimensions")
    for column in ("dimension", "values", "iterations (fgtext / crowd-kit)", "max |dp|",
                   "accuracy fgtext", "accuracy crowd-kit"):  # fmt: skip
        table.add_column(column, justify="right")
    for d, (k, truth, _) in data.items():
        p = models[d].probas_.reindex(index=np.arange(n), columns=np.arange(k), fill_value=0.0)
        diff = np.abs(fits[d].posteriors - p.values).max()
        acc_ck = (models[d].labels_.reindex(np.arange(n)).values == truth).mean()
        table.add_row(d, str(k), f"{fits[d].iterations} / {len(models[d].loss_history_)}",
                      f"{diff:.1e}", f"{(fits[d].labels == truth).mean():.4f}", f"{acc_ck:.4f}")  # fmt: skip
    console = Console()
    console.print(table)
    console.print(
        f"fgtext (no smoothing, as crowd-kit): {t_plain:.2f} s; fgtext (smoothing "
        f"{DEFAULT_SMOOTHING:g}): {t_smooth:.2f} s; crowd-kit: {t_ck:.2f} s "
        f"(x{t_ck / t_plain:.0f}); medians of {args.repeats} / {args.crowdkit_repeats} runs"
    )
    del smoothed


if __name__ == "__main__":
    main()
