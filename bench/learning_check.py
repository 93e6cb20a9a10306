"""Does FG-SGL training learn? A CPU check on synthetic clips with the tiny random InternVL.

Synthesises 6 micro-gesture classes x 20 clips (12 train, 4 validation, 4 test each), writes a
tiny random InternVL checkpoint, caches the texts with its language model, trains 15 epochs with
ML-CO (stage 2 from epoch 5) through `fgsgl-train train`, and prints validation/test top-1
against chance (1/6). Takes a few minutes on two cores.

    python bench/learning_check.py [--out DIR] [--epochs 15] [--lr 1e-3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temp dir)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="fgsgl-learning-"))

    from fgtext.synth import SynthConfig, synthesize
    from training.backbones import make_tiny_internvl
    from training.cli import run as fgsgl_train
    from training.text_cache import build_text_cache

    started = time.perf_counter()
    config = SynthConfig(
        classes=6, clips_per_class=20, width=64, height=48, fps=10, seconds=2.0,
        annotators=0, seed=args.seed,
    )  # fmt: skip
    dataset = synthesize(work / "dataset", config, workers=1)
    model = make_tiny_internvl(work / "tiny-internvl", image_size=64, seed=args.seed)
    build_text_cache(dataset, model, pooling="mean")
    run = work / "run"
    argv = [
        "train", str(dataset), "--model", str(model), "--out", str(run),
        "--epochs", str(args.epochs), "--stage1-epochs", "5", "--lr", str(args.lr),
        "--batch-size", "8", "--grad-accum", "1", "--frames", "4", "--workers", "0",
        "--logging-steps", "9", "--seed", str(args.seed),
    ]  # fmt: skip
    if code := fgsgl_train(argv):
        sys.exit(code)
    metrics = json.loads((run / "metrics.json").read_text())
    summary = {
        "chance": 1 / 6,
        "best_validation_top1": metrics["best_validation_top1"],
        "test_top1": metrics["test"]["top1"],
        "test_top5": metrics["test"]["top5"],
        "epochs": args.epochs,
        "lr": args.lr,
        "seconds": round(time.perf_counter() - started, 1),
        "run": str(run),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
