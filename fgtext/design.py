"""Annotation studies by simulation: how many annotators per clip a target label accuracy needs.

Simulated annotators (`fgtext.synth.annotators`) label simulated clips whose true values are
drawn uniformly from the schema's values, dimension by dimension; every clip gets k distinct
annotators drawn at random from a pool of known accuracies. Final labels come from the majority
rule (`fgtext.consensus`) or from Dawid-Skene (`fgtext.agreement.dawid_skene`); adaptive k asks
one more annotator, round by round, while `needs_another_annotator` says so, re-fitting the model
after each round. A clip's 4-tuple is right when all four values equal the truth.

`fgtext design` runs `study` over k and recommends the smallest k whose accuracy reaches a
target (or whose intervals of Krippendorff's alpha are narrow enough: `alpha_width`); bench/annotation_quality.py compares majority, Dawid-Skene and adaptive k on the same
draws. Every figure is a mean over seeds with a Student-t 95 % interval (`fgtext.stats`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fgtext.agreement import LabelTable, agreement_report
from fgtext.agreement.dawid_skene import DEFAULT_SMOOTHING, dawid_skene
from fgtext.consensus import needs_another_annotator
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS, Schema
from fgtext.stats import mean_interval
from fgtext.synth.annotators import simulate_codes
from fgtext.vocabulary import DAWID_SKENE

# Per dimension, each pool annotator's accuracy (None: a spammer).
Pool = Mapping[str, Sequence[float | None]]


def uniform_pool(accuracies: Sequence[float | None]) -> dict[str, list[float | None]]:
    """The same accuracies on every dimension."""
    return {d: list(accuracies) for d in DIMENSIONS}


@dataclass(frozen=True)
class Draw:
    """One simulated study's raw material: truth, every pool annotator's labels, an order."""

    truth: dict[str, np.ndarray]  # (clips,) codes per dimension
    labels: dict[str, np.ndarray]  # (clips, pool) codes per dimension
    order: np.ndarray  # (clips, pool): the order in which annotators reach each clip
    n_values: dict[str, int]


def draw(n_clips: int, schema: Schema, pool: Pool, seed: int) -> Draw:
    rng = np.random.default_rng(seed)
    n_values = {d: len(schema.values(d)) for d in DIMENSIONS}
    truth = {d: rng.integers(n_values[d], size=n_clips) for d in DIMENSIONS}
    labels = {d: simulate_codes(truth[d], n_values[d], list(pool[d]), rng) for d in DIMENSIONS}
    size = len(pool[DIMENSIONS[0]])
    order = np.argsort(rng.random((n_clips, size)), axis=1)
    return Draw(truth, labels, order, n_values)


@dataclass(frozen=True)
class Outcome:
    """One rule on one draw."""

    judgments: float  # annotations per clip
    correct: float  # share of clips whose best-guess 4-tuple is the truth
    final: float  # share of clips final without review under the rule
    final_correct: float  # share of clips final without review and right


def _taken(d: Draw, k: np.ndarray) -> np.ndarray:
    """(clips, pool) mask: the first k[i] annotators of clip i's order."""
    rank = np.empty_like(d.order)
    rows = np.arange(len(d.order))[:, None]
    rank[rows, d.order] = np.arange(d.order.shape[1])
    return rank < k[:, None]


def majority(d: Draw, k: int) -> Outcome:
    """Fixed k, majority rule: final when every dimension has a strict majority; the best
    guess is the plurality (the earliest annotator's value on a tie)."""
    n = len(d.order)
    cols = d.order[:, :k]
    right = np.ones(n, bool)
    final = np.ones(n, bool)
    for dim in DIMENSIONS:
        votes = np.take_along_axis(d.labels[dim], cols, axis=1)  # (clips, k), in arrival order
        support = (votes[:, :, None] == votes[:, None, :]).sum(axis=2)
        best = votes[np.arange(n), support.argmax(axis=1)]
        right &= best == d.truth[dim]
        final &= support.max(axis=1) > k // 2
    return Outcome(float(k), right.mean(), final.mean(), (right & final).mean())


def _fit(d: Draw, taken: np.ndarray, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """Dawid-Skene on the taken labels: (clips,) right 4-tuple, (clips,) least posterior."""
    task, worker = np.nonzero(taken)
    n = len(taken)
    right = np.ones(n, bool)
    least = np.ones(n)
    for dim in DIMENSIONS:
        fit = dawid_skene(
            task, worker, d.labels[dim][task, worker], n_tasks=n, n_workers=taken.shape[1],
            n_values=d.n_values[dim], smoothing=smoothing,
        )  # fmt: skip
        right &= fit.labels == d.truth[dim]
        least = np.minimum(least, fit.confidence)
    return right, least


def dawid_skene_fixed(
    d: Draw, k: int, threshold: float, smoothing: float = DEFAULT_SMOOTHING
) -> Outcome:
    """Fixed k, Dawid-Skene: the best guess is the most probable value; final at threshold."""
    right, least = _fit(d, _taken(d, np.full(len(d.order), k)), smoothing)
    final = least >= threshold
    return Outcome(float(k), right.mean(), final.mean(), (right & final).mean())


def adaptive(
    d: Draw,
    k_min: int,
    k_max: int,
    threshold: float,
    smoothing: float = DEFAULT_SMOOTHING,
) -> Outcome:
    """Adaptive k: all clips start with k_min annotators; after each Dawid-Skene fit, every clip
    that `needs_another_annotator` gets one more, until none does (at most k_max each)."""
    k_max = min(k_max, d.order.shape[1])
    k = np.full(len(d.order), min(k_min, k_max))
    while True:
        right, least = _fit(d, _taken(d, k), smoothing)
        more = np.array(
            [
                needs_another_annotator(
                    int(ki), (c,), k_min=min(k_min, k_max), k_max=k_max, threshold=threshold
                )
                for ki, c in zip(k, least, strict=True)
            ]
        )
        if not more.any():
            break
        k = k + more
    final = least >= threshold
    return Outcome(float(k.mean()), right.mean(), final.mean(), (right & final).mean())


def alpha_width(d: Draw, k: int, n_bootstrap: int = 200) -> float:
    """The widest of the four dimensions' 95 % bootstrap intervals of alpha at fixed k (how
    precisely a study of this size measures agreement); inf where one is undefined."""
    task, worker = np.nonzero(_taken(d, np.full(len(d.order), k)))
    table = LabelTable(
        clip_ids=task.astype(str), annotators=worker.astype(str),
        values={dim: d.labels[dim][task, worker].astype(str) for dim in DIMENSIONS},
    )  # fmt: skip
    summary = agreement_report(table, n_bootstrap=n_bootstrap, include_tuple=False).summary()
    widths = [v["ci95"][1] - v["ci95"][0] if v.get("ci95") else np.inf for v in summary.values()]
    return float(max(widths))


@dataclass(frozen=True)
class Summary:
    """An outcome over seeds: (mean, low, high) of each figure."""

    judgments: tuple[float, float, float]
    correct: tuple[float, float, float]
    final: tuple[float, float, float]
    final_correct: tuple[float, float, float]

    @classmethod
    def of(cls, outcomes: Sequence[Outcome]) -> Summary:
        return cls(*(mean_interval([getattr(o, f) for o in outcomes]) for f in cls.__annotations__))


@dataclass(frozen=True)
class StudyRow:
    k: int
    majority: Summary
    dawid_skene: Summary
    alpha_width: tuple[float, float, float] | None = None  # (mean, low, high); None: not asked

    def summary(self, rule: str) -> Summary:
        return self.dawid_skene if rule == DAWID_SKENE else self.majority


def study(
    n_clips: int,
    schema: Schema,
    pool: Pool,
    *,
    k_values: Sequence[int],
    seeds: Sequence[int],
    threshold: float = 0.9,
    alpha: bool = False,
) -> list[StudyRow]:
    """Majority and Dawid-Skene at each fixed k, on the same draws (one per seed); with
    `alpha`, also the width of alpha's intervals (k >= 2: alpha needs two labels a clip)."""
    size = len(pool[DIMENSIONS[0]])
    if not k_values or min(k_values) < 1 or max(k_values) > size:
        raise FgTextError(
            f"k must be from 1 to the pool's {size} annotators (got {list(k_values)})"
        )
    draws = [draw(n_clips, schema, pool, seed) for seed in seeds]
    return [
        StudyRow(
            k,
            Summary.of([majority(d, k) for d in draws]),
            Summary.of([dawid_skene_fixed(d, k, threshold) for d in draws]),
            mean_interval([alpha_width(d, k) for d in draws]) if alpha and k >= 2 else None,
        )
        for k in k_values
    ]


def meets(row: StudyRow, target: float, rule: str, max_alpha_width: float | None) -> bool:
    """Whether k meets the target with its whole 95 % interval (so a new study of that size
    meets it too): the 4-tuple accuracy under `rule`, or the widest interval of alpha."""
    if max_alpha_width is not None:
        return row.alpha_width is not None and row.alpha_width[2] <= max_alpha_width
    return row.summary(rule).correct[1] >= target


def recommend(
    rows: Sequence[StudyRow],
    target: float,
    rule: str = DAWID_SKENE,
    max_alpha_width: float | None = None,
) -> int | None:
    """The smallest k that `meets` the target; None: no k does."""
    return next((r.k for r in rows if meets(r, target, rule, max_alpha_width)), None)


def pool_from_pilot(labels_path: str) -> dict[str, list[float | None]]:
    """Each pilot annotator's estimated accuracy per dimension (Dawid-Skene on the pilot)."""
    from fgtext.agreement import load_labels
    from fgtext.agreement.dawid_skene import fit_reliability

    accuracy = fit_reliability(load_labels(labels_path)).annotator_accuracy()
    return {d: [a[d] if a[d] is not None else 0.0 for a in accuracy.values()] for d in DIMENSIONS}


def accuracy_svg(rows: Sequence[StudyRow], target: float, title: str) -> str:
    """A small line chart (plain SVG: fgtext does not depend on matplotlib) of the 4-tuple
    accuracy against k, majority and Dawid-Skene with their intervals, and the target."""
    w, h, left, bottom, top, right = 520, 320, 56, 40, 30, 130
    ks = [r.k for r in rows]
    k0, k1 = min(ks), max(max(ks), min(ks) + 1)

    def x(k: float) -> float:
        return left + (k - k0) / (k1 - k0) * (w - left - right)

    def y(p: float) -> float:
        return top + (1 - p) * (h - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="13">{title}</text>',
        f'<line x1="{left}" y1="{y(0)}" x2="{x(k1)}" y2="{y(0)}" stroke="black"/>',
        f'<line x1="{left}" y1="{y(0)}" x2="{left}" y2="{y(1)}" stroke="black"/>',
    ]
    for p in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<text x="{left - 8}" y="{y(p) + 4}" text-anchor="end">{p:.2f}</text>')
    for k in ks:
        parts.append(f'<text x="{x(k)}" y="{y(0) + 16}" text-anchor="middle">{k}</text>')
    parts.append(
        f'<text x="{(left + x(k1)) / 2}" y="{h - 6}" text-anchor="middle">annotators per clip (k)</text>'
    )
    parts.append(
        f'<line x1="{left}" y1="{y(target)}" x2="{x(k1)}" y2="{y(target)}" stroke="grey" '
        f'stroke-dasharray="4 3"/><text x="{x(k1) + 6}" y="{y(target) + 4}">target {target:g}</text>'
    )
    for i, (name, colour) in enumerate((("majority", "#d62728"), ("dawid_skene", "#1f77b4"))):
        summaries = [getattr(r, name) for r in rows]
        points = " ".join(
            f"{x(r.k):.1f},{y(s.correct[0]):.1f}" for r, s in zip(rows, summaries, strict=True)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        for r, s in zip(rows, summaries, strict=True):
            parts.append(
                f'<line x1="{x(r.k):.1f}" y1="{y(s.correct[1]):.1f}" x2="{x(r.k):.1f}" '
                f'y2="{y(s.correct[2]):.1f}" stroke="{colour}"/>'
                f'<circle cx="{x(r.k):.1f}" cy="{y(s.correct[0]):.1f}" r="3" fill="{colour}"/>'
            )
        label = "majority" if name == "majority" else "Dawid-Skene"
        parts.append(
            f'<text x="{x(k1) + 6}" y="{y(0) - 26 + 16 * i}" fill="{colour}">{label}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
