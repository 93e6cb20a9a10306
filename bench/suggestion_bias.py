"""Suggestion bias by simulation: accepted suggestions raise alpha without raising accuracy.

Simulated clips of the SMG classes: a clip's class is uniform, its true 4-tuple one of the
class's typical combinations (uniform), or with probability --atypical a non-typical tuple that
differs from one of them in one or two dimensions. Each clip gets --k annotators drawn from a
pool of known accuracies (`fgtext.synth.annotators`: a value is kept with the annotator's
accuracy, else a uniform other value). For each annotation a suggestion, the class's first
typical combination, is shown with probability --shown; when shown, the annotator accepts it
unchanged with probability p (condition "accepted"), else labels on their own ("edited");
without one they label on their own ("not_shown"). Per seed the clips, own labels and draws are
the same for every p: only the acceptances change. `fgtext.agreement.suggestion_bias` splits
the figures by condition; "all" pools every annotation.

Figures: mean over seeds [Student-t 95 % interval]; "-" where no seed has the figure (no
accepted annotation at p = 0). acc: share of 4-tuples equal to the truth; acc atypical: the same
on clips with a non-typical truth. The last table takes differences within each seed.

    .venv/bin/python bench/suggestion_bias.py [--clips 1000 --seeds 5 --accept 0,0.3,0.6,0.9]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # runs from a checkout without installing the package

import numpy as np  # noqa: E402
from bench_tables import show_table  # noqa: E402
from rich.console import Console  # noqa: E402

from fgtext.agreement import SuggestionRecord, suggestion_bias  # noqa: E402
from fgtext.schema import DIMENSIONS, ClassDef, Schema, default_schema, load_class_list  # noqa: E402
from fgtext.stats import mean_interval  # noqa: E402
from fgtext.synth.annotators import parse_accuracies, simulate_codes  # noqa: E402
from fgtext.vocabulary import SuggestionCondition  # noqa: E402

GROUPS = (*SuggestionCondition, "all")


def true_tuples(
    classes: list[ClassDef], schema: Schema, n_clips: int, atypical: float, rng: np.random.Generator
) -> tuple[list[dict[str, str]], np.ndarray, np.ndarray]:
    """(truth per clip, class per clip, whether the truth is atypical)."""
    label = rng.integers(len(classes), size=n_clips)
    is_atypical = rng.random(n_clips) < atypical
    truths = []
    for cls, odd in zip(label, is_atypical, strict=True):
        typical = classes[cls].attributes
        truth = dict(typical[rng.integers(len(typical))])
        while odd and truth in typical:  # change one or two dimensions to another value
            for d in rng.choice(DIMENSIONS, size=rng.integers(1, 3), replace=False):
                others = [v for v in schema.values(d) if v != truth[d]]
                truth[d] = others[rng.integers(len(others))]
        truths.append(truth)
    return truths, label, is_atypical


def simulate(args: argparse.Namespace, seed: int, classes: list[ClassDef], schema: Schema):
    """One seed's figures for every p: {p: (suggestion_bias result, same on atypical gold)}."""
    rng = np.random.default_rng(seed)
    pool = list(parse_accuracies(args.pool))
    truths, label, is_atypical = true_tuples(classes, schema, args.clips, args.atypical, rng)
    values = {d: schema.values(d) for d in DIMENSIONS}
    index = {d: {v: k for k, v in enumerate(values[d])} for d in DIMENSIONS}
    own = {  # (clips, pool) value codes: every pool annotator's own labels of every clip
        d: simulate_codes(np.array([index[d][t[d]] for t in truths]), len(values[d]), pool, rng)
        for d in DIMENSIONS
    }
    chosen = np.argsort(rng.random((args.clips, len(pool))), axis=1)[:, : args.k]
    shown = rng.random((args.clips, args.k)) < args.shown
    accept_draw = rng.random((args.clips, args.k))
    gold = dict(enumerate(truths))
    atypical_gold = {i: t for i, t in gold.items() if is_atypical[i]}
    out = {}
    for p in parse_accuracies(args.accept):
        records = []
        for i in range(args.clips):
            suggestion = classes[label[i]].attributes[0]
            for slot, annotator in enumerate(chosen[i]):
                if shown[i, slot] and accept_draw[i, slot] < p:
                    attributes, condition = suggestion, SuggestionCondition.ACCEPTED
                else:
                    attributes = {d: values[d][own[d][i, annotator]] for d in DIMENSIONS}
                    condition = (
                        SuggestionCondition.EDITED
                        if shown[i, slot]
                        else SuggestionCondition.NOT_SHOWN
                    )
                records.append(SuggestionRecord(i, int(annotator), attributes, condition))
        out[p] = (
            suggestion_bias(records, gold=gold, n_bootstrap=0),
            suggestion_bias(records, gold=atypical_gold, n_bootstrap=0),
        )
    return out


def figures(result: dict, group: str) -> dict:
    return result[group] if group == "all" else result["conditions"][group]


def cell(values: list[float | None], digits: int = 3) -> str:
    defined = [v for v in values if v is not None]
    if not defined:
        return "-"
    m, low, high = mean_interval(defined)
    gap = "" if len(defined) == len(values) else f" ({len(defined)} seeds)"
    return f"{m:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]{gap}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--k", type=int, default=3, help="annotators per clip")
    parser.add_argument("--pool", default="0.9,0.85,0.8,0.75,0.7", help="annotator accuracies")
    parser.add_argument("--shown", type=float, default=0.5, help="chance a suggestion is shown")
    parser.add_argument("--accept", default="0,0.3,0.6,0.9", help="chances p of accepting one")
    parser.add_argument("--atypical", type=float, default=0.3, help="share of atypical truths")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    args = parser.parse_args()

    schema = default_schema()
    classes = load_class_list("smg", schema)
    seeds = list(range(args.seeds))
    started = time.perf_counter()
    runs = [simulate(args, seed, classes, schema) for seed in seeds]
    elapsed = time.perf_counter() - started
    ps = list(runs[0])

    def over_seeds(p: float, pick) -> list[float | None]:
        return [pick(*run[p]) for run in runs]

    def alpha(group: str, variable: str = "tuple"):
        return lambda r, _: figures(r, group)["alpha"][variable]["value"]

    def accuracy(group: str, atypical: bool = False):
        return lambda r, a: figures(a if atypical else r, group)["accuracy"]["tuple"]["accuracy"]

    def count(group: str):
        return lambda r, _: figures(r, group)["n_annotations"]

    console = Console(stderr=True)
    title = (
        f"{args.clips} SMG clips x {args.k} annotators (pool {args.pool}), {args.atypical:g} "
        f"atypical truths, suggestion shown {args.shown:g}; seeds {', '.join(map(str, seeds))}; "
        f"{elapsed:.0f} s"
    )
    header = ["p", "condition", "annotations", "alpha tuple", "acc tuple", "acc tuple atypical"]
    rows = [
        [f"{p:g}", group, cell(over_seeds(p, count(group)), 0), cell(over_seeds(p, alpha(group))),
         cell(over_seeds(p, accuracy(group))), cell(over_seeds(p, accuracy(group, True)))]
        for p in ps
        for group in GROUPS
    ]  # fmt: skip
    show_table(title, header, rows, console=console, left=("p", "condition"))

    header = ["p", "condition", *(f"alpha {d}" for d in DIMENSIONS)]
    rows = [
        [f"{p:g}", group, *(cell(over_seeds(p, alpha(group, d)), 2) for d in DIMENSIONS)]
        for p in ps
        for group in GROUPS
    ]
    show_table("Alpha per dimension", header, rows, console=console, left=("p", "condition"))

    def difference(p: float, first, second, p_second: float | None = None) -> str:
        a = over_seeds(p, first)
        b = over_seeds(p if p_second is None else p_second, second)
        pairs = zip(a, b, strict=True)
        return cell([x - y if x is not None and y is not None else None for x, y in pairs])

    accepted, not_shown = SuggestionCondition.ACCEPTED, SuggestionCondition.NOT_SHOWN
    header = ["p", "alpha accepted - not shown", "acc accepted - not shown",
              "acc atypical accepted - not shown", "alpha all - alpha all at p = 0"]  # fmt: skip
    rows = [
        [f"{p:g}", difference(p, alpha(accepted), alpha(not_shown)),
         difference(p, accuracy(accepted), accuracy(not_shown)),
         difference(p, accuracy(accepted, True), accuracy(not_shown, True)),
         difference(p, alpha("all"), alpha("all"), ps[0])]
        for p in ps
    ]  # fmt: skip
    show_table(
        "Differences within each seed (4-tuple)",
        header,
        rows,
        console=console,
        left=("p", "condition"),
    )


if __name__ == "__main__":
    main()
