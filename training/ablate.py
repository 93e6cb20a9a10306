"""`fgsgl-train ablate`: the paper's ablation rows (Tables II-III) and our loss variants, over
seeds, with intervals.

One run folder per variant x seed (`OUT/<variant>/seed-<s>`), each an ordinary `train` run, so
a finished one is skipped when the grid is started again, an interrupted one resumes from its
last checkpoint, and `--shard i/n` lets n machines share a grid (same OUT on a shared disk, or
copy the run folders together and `--report-only`). The report compares test top-1:

- per variant, the mean over seeds with a 95 % Student-t interval (mean ± t_{0.975,n-1}·s/√n);
- per variant, the seed-paired difference to the full model (same seed: same initial weights
  of the shared parts and the same clip order), with its t-interval: pairing removes the
  seed-to-seed spread, which on small data is larger than the differences between variants.

Written to OUT: ablation.json (every figure), ablation.md (the table) and ablation.png.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fgtext.errors import FgTextError
from training.run import CHECKPOINTS, METRICS_FILE

# name → (train flags, what it is). The paper's rows first, then our variants of L_fg.
VARIANTS: dict[str, tuple[tuple[str, ...], str]] = {
    "full": ((), "FG-SGL: L_cls + CP-A + FG-SA with ML-CO, L_fg as Eq. 1"),
    "no-fg-sa": (("--no-fg-sa",), "without FG-SA (no L_fg)"),
    "no-cp-a": (("--no-cp-a",), "without CP-A (no L_cp)"),
    "no-mlco": (("--no-mlco",), "without ML-CO (all terms from epoch 0)"),
    "class-level": (("--fg-text", "class-level"), "class-level text T_c in place of FG-Text"),
    "fg-symmetric": (("--fg-loss", "symmetric"), "L_fg symmetric (video↔text)"),
    "fg-multi-positive": (
        ("--fg-loss", "multi-positive"),
        "L_fg symmetric, same FG-Text = positives",
    ),
}
REFERENCE = "full"
REPORT_FILES = ("ablation.json", "ablation.md", "ablation.png")


@dataclass(frozen=True)
class AblationRun:
    variant: str
    seed: int
    folder: Path

    @property
    def finished(self) -> bool:
        return _test_top1(self.folder) is not None

    @property
    def state(self) -> str:
        """What the grid does with it: skip (finished), resume or start."""
        if self.finished:
            return "skip (finished)"
        return "resume" if self.resumable else "start"

    @property
    def resumable(self) -> bool:
        checkpoints = self.folder / CHECKPOINTS
        return checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*"))


def parse_seeds(text: str) -> list[int]:
    """ "0,1,2,3,4" or "0-4" (or both, "0-2,7") → sorted distinct seeds."""
    seeds: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise FgTextError(
                f"--seeds {text!r}: {part!r} is not a seed or a range like 0-4"
            ) from None
        if first < 0 or last < first:
            raise FgTextError(f"--seeds {text!r}: {part!r} is not a range of seeds >= 0")
        seeds.update(range(first, last + 1))
    if not seeds:
        raise FgTextError(f"--seeds {text!r}: no seeds given (e.g. 0,1,2,3,4)")
    return sorted(seeds)


def parse_variants(text: str | None) -> list[str]:
    if not text:
        return list(VARIANTS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise FgTextError(
            f"--variants: unknown variant {unknown[0] if unknown else text!r}; "
            f"expected some of {', '.join(VARIANTS)}"
        )
    return list(dict.fromkeys(names))


def parse_shard(text: str | None) -> tuple[int, int]:
    """ "i/n" (1 <= i <= n) → (i, n); None → the whole grid (1, 1)."""
    if not text:
        return 1, 1
    index, _, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise FgTextError(f"--shard {text!r}: expected i/n, e.g. 1/3") from None
    if not 1 <= i <= n:
        raise FgTextError(f"--shard {text!r}: expected 1 <= i <= n, e.g. 1/3")
    return i, n


def plan(out: Path, variants: Sequence[str], seeds: Sequence[int]) -> list[AblationRun]:
    """The grid, seed by seed (so an unfinished grid has whole seeds to pair)."""
    return [
        AblationRun(variant, seed, out / variant / f"seed-{seed}")
        for seed in seeds
        for variant in variants
    ]


def shard_of(runs: list[AblationRun], shard: tuple[int, int]) -> list[AblationRun]:
    index, count = shard
    return runs[index - 1 :: count]


def train_argv(
    run: AblationRun, dataset: Path, model: Path, train_args: Sequence[str], resume: bool
) -> list[str]:
    flags = VARIANTS[run.variant][0]
    argv = ["train", str(dataset), "--model", str(model), "--out", str(run.folder)]
    argv += [*train_args, *flags, "--seed", str(run.seed)]
    return [*argv, "--resume", "latest"] if resume else argv


def run_grid(
    runs: list[AblationRun],
    *,
    dataset: Path,
    model: Path,
    train_args: Sequence[str],
    train: Callable[[list[str]], int],
    on_progress: Callable[[AblationRun, str, dict[str, Any] | None], None],
) -> None:
    """Start each unfinished run through `train` (an argv → exit status function); stop at
    the first failure, with its run named."""
    for run in runs:
        if run.finished:
            on_progress(run, "skipped: finished", _metrics(run.folder))
            continue
        resume = run.resumable
        if run.folder.exists() and not resume:  # started, but not a single epoch saved
            shutil.rmtree(run.folder)
        started = time.perf_counter()
        code = train(train_argv(run, dataset, model, train_args, resume))
        if code != 0 or not run.finished:
            raise FgTextError(
                f"the {run.variant} run with seed {run.seed} failed (exit {code}); its folder: "
                f"{run.folder}. Fix the cause and start ablate again: finished runs are kept"
            )
        verb = "resumed" if resume else "trained"
        on_progress(run, f"{verb} in {time.perf_counter() - started:.0f} s", _metrics(run.folder))


# -- the report ----------------------------------------------------------------------------------


def t_interval(values: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """Mean, sample standard deviation and the Student-t interval of the mean."""
    from scipy import stats

    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "ci95": None}
    mean = math.fsum(values) / n
    if n == 1:
        return {"n": 1, "mean": mean, "sd": None, "ci95": None}
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci95": [mean - half, mean + half]}


def collect(runs: list[AblationRun]) -> dict[str, Any]:
    """Every finished run's test top-1, summarised per variant and paired against `full`."""
    variants = list(dict.fromkeys(r.variant for r in runs))
    scores: dict[str, dict[int, float]] = {v: {} for v in variants}
    folders: dict[str, dict[int, str]] = {v: {} for v in variants}
    for run in runs:
        top1 = _test_top1(run.folder)
        if top1 is not None:
            scores[run.variant][run.seed] = top1
            folders[run.variant][run.seed] = str(run.folder)
    report: dict[str, Any] = {"metric": "test top-1", "reference": REFERENCE, "variants": {}}
    for variant in variants:
        by_seed = scores[variant]
        entry = {
            "flags": list(VARIANTS[variant][0]),
            "description": VARIANTS[variant][1],
            "test_top1": {str(s): v for s, v in sorted(by_seed.items())},
            "runs": {str(s): f for s, f in sorted(folders[variant].items())},
            **t_interval([by_seed[s] for s in sorted(by_seed)]),
        }
        if variant != REFERENCE and REFERENCE in scores:
            paired = sorted(set(by_seed) & set(scores[REFERENCE]))
            entry["difference_to_full"] = {
                "seeds": paired,
                **t_interval([by_seed[s] - scores[REFERENCE][s] for s in paired]),
            }
        report["variants"][variant] = entry
    all_seeds = sorted({r.seed for r in runs})
    report["seeds"] = all_seeds
    report["runs_finished"] = sum(len(s) for s in scores.values())
    report["runs_planned"] = len(runs)
    return report


def write_report(out: Path, report: dict[str, Any], command: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    report = {**report, "command": command}
    (out / "ablation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "ablation.md").write_text(markdown_table(report), encoding="utf-8")
    plot_report(report, out / "ablation.png")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _interval(stats: dict[str, Any], signed: bool = False) -> str:
    if stats.get("mean") is None:
        return "-"
    mean = f"{100 * stats['mean']:+.1f}" if signed else _pct(stats["mean"])
    if stats.get("ci95") is None:
        return f"{mean} (n = 1)"
    low, high = stats["ci95"]
    fmt = "{:+.1f}" if signed else "{:.1f}"
    return f"{mean} [{fmt.format(100 * low)}, {fmt.format(100 * high)}]"


def markdown_table(report: dict[str, Any]) -> str:
    lines = [
        f"Test top-1 (%) over seeds {', '.join(map(str, report['seeds']))}: mean with its 95 % "
        "t-interval, and the seed-paired difference to the full model "
        f"({report['runs_finished']} of {report['runs_planned']} runs finished).",
        "",
        "| variant | what | seeds | test top-1 [95 % CI] | Δ vs full [95 % CI] |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name, entry in report["variants"].items():
        diff = entry.get("difference_to_full")
        lines.append(
            f"| {name} | {entry['description']} | {entry['n']} | {_interval(entry)} | "
            f"{_interval(diff, signed=True) if diff else '-'} |"
        )
    lines += ["", f"Command: `{report['command']}`", ""]
    return "\n".join(lines)


def plot_report(report: dict[str, Any], path: Path) -> None:
    """Per variant: each seed's test top-1 (dots), the mean and its interval (bar)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["variants"])
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.2), dpi=120)
    for row, name in enumerate(names):
        entry = report["variants"][name]
        values = [100 * v for v in entry["test_top1"].values()]
        ax.scatter(values, [row] * len(values), s=14, color="0.6", zorder=2)
        if entry["mean"] is not None:
            mean = 100 * entry["mean"]
            if entry["ci95"]:
                low, high = (100 * v for v in entry["ci95"])
                ax.errorbar(mean, row, xerr=[[mean - low], [high - mean]], fmt="o",
                            color="C0" if name == REFERENCE else "C1", capsize=4, zorder=3)  # fmt: skip
            else:
                ax.scatter([mean], [row], color="C1", zorder=3)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("test top-1 (%): seeds (grey), mean and 95 % t-interval")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _metrics(folder: Path) -> dict[str, Any] | None:
    path = folder / METRICS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _test_top1(folder: Path) -> float | None:
    metrics = _metrics(folder)
    test = (metrics or {}).get("test") or {}
    value = test.get("top1")
    return float(value) if isinstance(value, int | float) else None
