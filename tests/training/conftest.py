"""Session-scoped fixtures shared by the training tests (data, backbones, text cache, trainer).

- `synth_dataset`: a tiny synthetic FG-Text dataset from `fgtext.synth`: the first 6 SMG
  classes x 5 clips (3 train, 1 validation, 1 test per class), 64x48 pixels, 20 frames at 10 fps.
  Read-only: a test that changes files copies it first (`copy_dataset`).
- `tiny_internvl`: a tiny random InternVL checkpoint folder (image 64, 4 vision layers, hidden
  64, 2 llama layers, a real BPE tokenizer), loaded with `training.backbones.load_internvl`.
- `text_cache`: the path of the text cache of `synth_dataset` made with the tiny InternVL's
  language model (mean pooling), at `default_cache_path(synth_dataset)`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TINY_IMAGE_SIZE = 64
NUM_CLASSES = 6
CLIPS_PER_CLASS = 5
CLIP_FRAMES = 20


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory) -> Path:
    from fgtext.synth import SynthConfig, synthesize

    config = SynthConfig(
        classes=NUM_CLASSES,
        clips_per_class=CLIPS_PER_CLASS,
        width=64,
        height=48,
        fps=10,
        seconds=CLIP_FRAMES / 10,
        annotators=0,
        seed=0,
    )
    return synthesize(tmp_path_factory.mktemp("training") / "synth", config, workers=1)


@pytest.fixture(scope="session")
def tiny_internvl(tmp_path_factory) -> Path:
    from training.backbones import make_tiny_internvl

    return make_tiny_internvl(
        tmp_path_factory.mktemp("models") / "tiny-internvl", image_size=TINY_IMAGE_SIZE
    )


@pytest.fixture(scope="session")
def text_cache(synth_dataset, tiny_internvl) -> Path:
    from training.text_cache import build_text_cache, default_cache_path

    build_text_cache(synth_dataset, tiny_internvl, pooling="mean")
    return default_cache_path(synth_dataset, tiny_internvl, pooling="mean")


@pytest.fixture
def copy_dataset(synth_dataset, tmp_path):
    """A function returning a private copy of the synthetic dataset (to damage or extend)."""

    def make_copy(name: str = "dataset") -> Path:
        target = tmp_path / name
        shutil.copytree(synth_dataset, target, ignore=shutil.ignore_patterns("text-cache"))
        return target

    return make_copy
