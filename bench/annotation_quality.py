"""Annotation quality by simulation: majority vote vs Dawid-Skene, fixed k vs adaptive k.

A pool of simulated annotators of mixed skill (default accuracies 0.95, 0.9, 0.8, 0.7, 0.6 and
one spammer who answers at random) labels simulated clips of the default schema (true values
uniform per dimension); each clip's annotators are drawn at random from the pool. For every
seed, all methods see the same clips, labels and annotator order (`fgtext.design`). Adaptive k:
every clip starts with k_min annotators; after each Dawid-Skene fit, a clip whose least certain
dimension is below the threshold gets one more (`fgtext.consensus.needs_another_annotator`),
up to k_max. Figures: mean over seeds [Student-t 95 % interval].

  correct      the best-guess 4-tuple (plurality / most probable values) is the truth
  final        final without a reviewer (majority: a strict majority on every dimension;
               Dawid-Skene: every dimension's posterior >= the threshold)
  final+right  final without a reviewer and the truth: what a dataset gets for free

    .venv/bin/python bench/annotation_quality.py [--clips 5000 --seeds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # runs from a checkout without installing the package

from bench_tables import show_table  # noqa: E402
from rich.console import Console  # noqa: E402

from fgtext.design import Summary, adaptive, dawid_skene_fixed, draw, majority, uniform_pool  # noqa: E402
from fgtext.schema import default_schema  # noqa: E402
from fgtext.synth.annotators import parse_accuracies  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    parser.add_argument("--pool", default="0.95,0.9,0.8,0.7,0.6")
    parser.add_argument("--spammers", type=int, default=1)
    parser.add_argument("--k-min", type=int, default=2)
    parser.add_argument("--k-max", type=int, default=5)
    parser.add_argument("--thresholds", default="0.95,0.8,0.5,0.3")
    parser.add_argument("--fixed-threshold", type=float, default=0.95,
                        help="Dawid-Skene at fixed k: final at this posterior")  # fmt: skip
    args = parser.parse_args()

    pool = uniform_pool([*parse_accuracies(args.pool), *[None] * args.spammers])
    schema = default_schema()
    seeds = list(range(args.seeds))
    started = time.perf_counter()
    draws = [draw(args.clips, schema, pool, seed) for seed in seeds]
    methods = {
        "majority, k=3": lambda d: majority(d, 3),
        "majority, k=5": lambda d: majority(d, 5),
        f"dawid-skene, k=3 (final at {args.fixed_threshold:g})": lambda d: dawid_skene_fixed(
            d, 3, args.fixed_threshold
        ),
    }
    for t in parse_accuracies(args.thresholds):
        methods[f"dawid-skene, adaptive k={args.k_min}..{args.k_max}, threshold {t:g}"] = (
            lambda d, t=t: adaptive(d, args.k_min, args.k_max, t)
        )
    results = {name: Summary.of([run(d) for d in draws]) for name, run in methods.items()}
    elapsed = time.perf_counter() - started
    base = results["majority, k=3"]

    def cell(v: tuple[float, float, float], digits: int = 3) -> str:
        return f"{v[0]:.{digits}f} [{v[1]:.{digits}f}, {v[2]:.{digits}f}]"

    header = ["method", "judgments/clip", "vs k=3", "correct", "final", "final+right"]
    rows = []
    for name, s in results.items():
        change = s.judgments[0] / base.judgments[0] - 1
        rows.append([name, cell(s.judgments, 2), f"{change:+.0%}", cell(s.correct),
                     cell(s.final), cell(s.final_correct)])  # fmt: skip
    accuracies = ", ".join("spammer" if a is None else f"{a:g}" for a in pool["initiator"])
    title = (
        f"{args.clips} clips x {len(seeds)} seeds ({', '.join(map(str, seeds))}); pool: "
        f"{accuracies}; {elapsed:.0f} s"
    )
    show_table(title, header, rows, console=Console(stderr=True), left=("method",))


if __name__ == "__main__":
    main()
