"""`fgtext demo` / `make demo`: the fgtext pipeline end to end on synthetic data.

synthesise clips with gold attributes and simulated annotators -> agreement report ->
FG-Text dataset of consensus labels, compared with the gold labels.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from rich.console import Console

from fgtext.agreement import agreement_report, load_labels
from fgtext.console import progress_bar as default_progress_bar
from fgtext.dataset import open_dataset
from fgtext.merge import merge_labels, write_labels_csv
from fgtext.reports import print_agreement
from fgtext.synth import SynthConfig, simulated_labels, synthesize
from fgtext.vocabulary import DEFAULT_CONSENSUS_RULE

ProgressBar = Callable[[str], AbstractContextManager[Callable[[int, int], None]]]


def run_demo(
    out: str | Path,
    *,
    classes: int = 6,
    clips_per_class: int = 10,
    console: Console | None = None,
    progress_bar: ProgressBar | None = None,
) -> dict[str, float]:
    console = console or Console()
    progress_bar = progress_bar or default_progress_bar
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = SynthConfig(
        classes=classes, clips_per_class=clips_per_class, annotators=3, annotator_error=0.1, seed=0
    )

    console.rule("1. Synthesise clips and simulated annotators")
    with progress_bar("Rendering clips") as progress:
        gold_root = synthesize(out / "synthetic", config, overwrite=True, progress=progress)
    labels = write_labels_csv(simulated_labels(gold_root), out / "labels.csv")
    console.print(
        f"{len(open_dataset(gold_root))} clips with gold attributes in {gold_root}; "
        f"{config.annotators} simulated annotators' labels in {labels}"
    )

    console.rule("2. Cross-annotator agreement")
    report = agreement_report(load_labels(labels)).to_dict()
    (out / "agreement.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_agreement(report, console)

    console.rule("3. Export the FG-Text dataset (majority consensus)")
    result = merge_labels(
        gold_root, labels, out / "dataset", rule=DEFAULT_CONSENSUS_RULE, overwrite=True
    )
    gold = {c.clip_id: c.attributes for c in open_dataset(gold_root).clips()}
    final = list(open_dataset(out / "dataset").clips())
    correct = sum(c.attributes == gold[c.clip_id] for c in final)
    console.print(
        f"{result.written} clips final ({result.consensus} by consensus); {result.unresolved} "
        f"would go to a reviewer. Consensus labels equal the gold labels on {correct}/{len(final)} clips."
    )
    example = final[0]
    console.print(
        f'Example: {example.clip_id} ({example.video.rsplit("/", 1)[-1]}): "{example.text}"'
    )

    console.rule("Results")
    console.print(f"  dataset      {out / 'dataset'}   (fgtext stats {out / 'dataset'})")
    console.print(f"  agreement    {out / 'agreement.json'}")
    console.print(f"  labels       {labels}")
    console.print(f"  clips        {gold_root / 'videos'}")
    return {"clips": result.written, "consensus_accuracy": correct / max(1, len(final))}
