"""The synthetic dataset: clip plans per class and split, rendering (in worker processes when
there are many), simulated annotators, the `fgtext-dataset/2` folder."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from fgtext.compose import compose_fg_text
from fgtext.dataset import DatasetWriter, open_dataset
from fgtext.errors import FgTextError
from fgtext.schema import (
    BUILTIN_CLASS_LISTS,
    DIMENSIONS,
    ClassDef,
    Schema,
    default_schema,
    load_schema,
)
from fgtext.synth.annotators import annotate_clip
from fgtext.synth.config import DEFAULT_CLASS_LIST, SynthConfig, resolve_classes
from fgtext.synth.render import _clip_frames, write_mp4
from fgtext.vocabulary import ClipStatus

GENERATOR = "fgtext.synth"
_PARALLEL_FROM = 24  # clips; fewer are rendered in this process (a pool costs ~0.1-0.5 s)


# -- the dataset ------------------------------------------------------------------------------


def _split_counts(n: int, fractions: Sequence[float]) -> list[int]:
    """n items over the fractions by largest remainder (ties: the earlier split)."""
    raw = [n * f for f in fractions]
    counts = [math.floor(r + 1e-9) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


@dataclass
class _ClipPlan:
    clip_id: str
    label: int
    index: int
    split: str
    attributes: dict[str, str] = field(default_factory=dict)


def _plan(config: SynthConfig, classes: Sequence[ClassDef], schema: Schema) -> list[_ClipPlan]:
    names = ("train", "validation", "test")
    plans = []
    for c in classes:
        rng = _rng(config.seed, 1, c.id)
        n = config.clips_per_class
        splits = [
            s for s, k in zip(names, _split_counts(n, config.split), strict=True) for _ in range(k)
        ]
        splits = [splits[i] for i in rng.permutation(n)]
        # every tuple of the class about equally often, in a shuffled order
        tuples = [c.attributes[i % len(c.attributes)] for i in range(n)]
        tuples = [tuples[i] for i in rng.permutation(n)]
        for k in range(n):
            plans.append(
                _ClipPlan(
                    clip_id=f"synth-{c.id:02d}-{k:03d}",
                    label=c.id,
                    index=k,
                    split=splits[k],
                    attributes=schema.check_attributes(tuples[k]),
                )
            )
    return plans


def _make_clip(
    plan: _ClipPlan, config: SynthConfig, schema: Schema, videos: Path
) -> dict[str, Any]:
    """Render and encode one clip; its row for clips.jsonl."""
    frames = _clip_frames(
        plan.attributes,
        width=config.width,
        height=config.height,
        fps=config.fps,
        seconds=config.seconds,
        noise=config.noise,
        rng=_rng(config.seed, 2, plan.label, plan.index),
    )
    write_mp4(frames, videos / f"{plan.clip_id}.mp4", config.fps)
    annotations = annotate_clip(
        plan.attributes, schema, config.accuracies, _rng(config.seed, 3, plan.label, plan.index)
    )
    return {
        "clip_id": plan.clip_id,
        "video": f"videos/{plan.clip_id}.mp4",
        "label": plan.label,
        "split": plan.split,
        "attributes": plan.attributes,
        "text": compose_fg_text(plan.attributes, schema),
        "status": ClipStatus.GOLD,
        "annotations": annotations,
    }


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _pool(workers: int | None, total: int) -> ProcessPoolExecutor | None:
    """Worker processes for `total` clips (None: serial). Rendering is pure-Python-heavy, so
    threads would serialise on the GIL; processes scale with the cores."""
    if workers is None:
        workers = min(_cpus(), 8) if total >= _PARALLEL_FROM else 1
    workers = min(workers, total)
    if workers <= 1:
        return None
    # fork is fast and safe on Linux while this process runs a single thread; else spawn.
    single = threading.active_count() == 1
    method = "fork" if sys.platform.startswith("linux") and single else "spawn"
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))


def synthesize(
    out: str | Path,
    config: SynthConfig = SynthConfig(),
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> Path:
    """Write a synthetic `fgtext-dataset/2` at `out` and return its path.

    Videos go to `out/videos/<clip_id>.mp4`; each clip is status "gold" with its ground-truth
    attributes and T_fg, plus `config.annotators` simulated annotations; dataset.json's source is
    {"generator": "fgtext.synth", "config": asdict(config)}. `progress(done, total)` is called
    (from this thread) before the first clip and after each one. `workers` processes render and
    encode clips side by side (None: one per core, up to 8, from 24 clips on; 1: in this
    process); the clips do not depend on it (the same frames go to the encoder). Where other threads run, the workers are
    spawned, and a script calling this needs Python's `if __name__ == "__main__":` guard. The
    dataset appears at `out` only when complete."""
    if not isinstance(config, SynthConfig):
        raise FgTextError("synthesize: config must be a SynthConfig")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise FgTextError(f"synthesize: workers must be a whole number >= 1 (got {workers!r})")
    schema = load_schema(config.schema) if config.schema else default_schema()
    classes = resolve_classes(config, schema)
    plans = _plan(config, classes, schema)
    if isinstance(config.classes, int):
        list_name = f"{DEFAULT_CLASS_LIST}{config.classes}"
    elif config.classes.lower() in BUILTIN_CLASS_LISTS:
        list_name = config.classes.lower()
    else:
        list_name = Path(config.classes).stem
    name = config.name or f"synth-{list_name}"
    source = {"generator": GENERATOR, "config": json.loads(json.dumps(asdict(config)))}
    total = len(plans)
    with DatasetWriter(
        out, name=name, schema=schema, classes=classes, source=source, overwrite=overwrite
    ) as writer:
        videos = writer.staging_dir / "videos"
        videos.mkdir()
        if progress:
            progress(0, total)
        job = partial(_make_clip, config=config, schema=schema, videos=videos)
        pool = _pool(workers, total)
        try:
            rows = pool.map(job, plans, chunksize=2) if pool else map(job, plans)
            for done, row in enumerate(rows, 1):  # in plan order, whoever finishes first
                writer.add(row)
                if progress:
                    progress(done, total)
        finally:
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
    return Path(out)


def simulated_labels(dataset_path: str | Path) -> list[dict[str, Any]]:
    """Long rows {clip_id, annotator, label, <4 dimensions>} from a dataset's annotations."""
    ds = open_dataset(dataset_path)
    rows = []
    for clip in ds.clips():
        for a in clip.annotations:
            rows.append(
                {
                    "clip_id": clip.clip_id,
                    "annotator": a.annotator,
                    "label": clip.label,
                    **{d: a.attributes[d] for d in DIMENSIONS},
                }
            )
    return rows
