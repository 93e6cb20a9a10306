"""A trained run's attribute suggestions for every clip of a dataset (`fgsgl-train predict RUN
--dataset DATASET --out FILE`), as an `fgtext-suggestions/1` file for the annotation page.

Each clip's suggestions are the attributes of the `top_k` FG-Texts nearest to its projected
f_mid, ranked as `predict` ranks them (cosine similarity = score). The candidates are the run's
own FG-Texts (the T_fg of its text cache); their attributes come from the rows of the run's
training dataset (config.json), whose final attributes compose to those texts under its schema.
Never from the labels of the dataset being predicted: that would hand a clip's annotators their
colleagues' labels of the same clip. The predicted dataset may be an unlabelled manifest.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fgtext.compose import compose_fg_text
from fgtext.dataset import Dataset, open_dataset
from fgtext.errors import FgTextError
from fgtext.schema import DIMENSIONS, Schema
from fgtext.suggestions import MAX_SUGGESTIONS_PER_CLIP, write_suggestions
from training.inference import (
    FgTextCandidates,
    LoadedRun,
    autocast,
    check_batching,
    check_same_classes,
    decoded_batches,
    evaluation_clips,
    load_run,
    read_run,
    run_fg_texts,
)
from training.run import METRICS_FILE

if TYPE_CHECKING:
    from training.data import VideoClipDataset


@dataclass(frozen=True)
class DatasetPrediction:
    """What `predict_dataset` did: the file, how many clips it holds, the clips left out
    because they could not be decoded (id -> why; None where a loader worker kept the reason),
    and how many of the run's FG-Texts could not be suggested."""

    path: Path
    clips: int
    undecodable: dict[str, str | None]
    texts_without_attributes: int


def predict_dataset(
    run_dir: str | Path,
    dataset_dir: str | Path,
    out: str | Path,
    *,
    split: str | None = None,
    top_k: int = 3,
    batch_size: int = 8,
    workers: int = 0,
    texts_from: str | Path | None = None,
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetPrediction:
    """Write the suggestions file `out` for the clips of `split` (None: every clip) of a
    dataset with the run's classes. `texts_from`: a dataset whose rows give the attributes of
    the run's FG-Texts (default: the run's training dataset)."""
    check_top_k(top_k)
    check_batching(batch_size, workers)
    out = check_writable_file(Path(out))
    dataset = open_dataset(dataset_dir)
    config, classes = read_run(run_dir)
    check_same_classes(run_dir, [c["name"] for c in classes], dataset_dir, dataset)
    texts_dataset = training_texts_dataset(config.data.dataset, texts_from)
    attributes_of = fg_text_attributes(texts_dataset)
    loaded = load_run(run_dir, device=device)
    candidates, unsuggestable = suggestable_texts(loaded, attributes_of, texts_dataset.root)
    check_in_schema(candidates.texts, attributes_of, dataset.schema, dataset_dir)
    clips = evaluation_clips(loaded, dataset_dir, split, require_labels=False)
    # loader workers keep the reasons to themselves: then their warnings are the only record
    with quiet_skip_warnings() if workers == 0 else nullcontext():
        ranked = nearest_attributes(
            loaded, candidates, attributes_of, clips, top_k=top_k, batch_size=batch_size,
            workers=workers, progress=progress,
        )  # fmt: skip
    undecodable = {c: clips.skipped_clips.get(c) for c in clips.clip_ids if c not in ranked}
    if not ranked:
        raise_none_decoded(dataset_dir, undecodable)
    source = provenance(run_dir, dataset_dir, split, top_k, texts_dataset.root, loaded)
    write_suggestions(out, ranked.items(), source=source, schema=dataset.schema)
    return DatasetPrediction(out, len(ranked), undecodable, unsuggestable)


def suggestable_texts(
    loaded: LoadedRun, attributes_of: dict[str, dict[str, str]], texts_dataset: Path
) -> tuple[FgTextCandidates, int]:
    """The run's FG-Texts whose attributes are known, and how many others it has."""
    texts = run_fg_texts(loaded)
    known = [t for t in texts if t in attributes_of]
    if not known:
        raise FgTextError(
            f"no FG-Text of the run's text cache {loaded.text_cache.path} is composed by the "
            f"attributes of a row of {texts_dataset}: is it the dataset the run was trained on?"
        )
    return FgTextCandidates.of(loaded, known), len(texts) - len(known)


def raise_none_decoded(dataset_dir, undecodable: dict[str, str | None]) -> None:
    first, why = next(iter(undecodable.items()))
    example = f" (the first, {first}: {why})" if why else ""
    raise FgTextError(
        f"none of the {len(undecodable)} clips of {dataset_dir} could be decoded{example}; "
        f"fgsgl-train check-data {dataset_dir} lists each"
    )


@contextmanager
def quiet_skip_warnings() -> Iterator[None]:
    """No warning per undecodable clip: the summary names each clip left out, and why."""
    from training import data

    level = data.log.level
    data.log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        data.log.setLevel(level)


def describe_undecodable(undecodable: dict[str, str | None]) -> str:
    """'clip (why); clip (why)' — the reason where this process saw it."""
    return "; ".join(f"{c} ({why})" if why else c for c, why in undecodable.items())


def check_top_k(top_k: int) -> None:
    if not 1 <= top_k <= MAX_SUGGESTIONS_PER_CLIP:
        raise FgTextError(
            f"--top-k must be from 1 to {MAX_SUGGESTIONS_PER_CLIP} (the suggestions a clip can "
            f"have on the annotation page), got {top_k}"
        )


def check_writable_file(path: Path) -> Path:
    """`path`, if a file can be written there (its folder may not exist yet): checked before
    the model runs, not after."""
    if path.is_dir():
        raise FgTextError(f"--out {path} is a folder; name the suggestions file to write")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    cannot = f"cannot write the suggestions file {path}"
    if not folder.is_dir():
        raise FgTextError(f"{cannot}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FgTextError(f"{cannot}: {folder} is not writable")
    return path


def training_texts_dataset(training_dataset: str, texts_from: str | Path | None) -> Dataset:
    """The dataset whose rows give the attributes of the run's FG-Texts."""
    if texts_from is not None:
        return open_dataset(texts_from)
    if not (Path(training_dataset) / "dataset.json").is_file():
        raise FgTextError(
            f"the run's training dataset {training_dataset} is not there any more, and its rows "
            "give the attributes of the run's FG-Texts: pass --texts-from DATASET naming a copy "
            "of it (any dataset with the training labels)"
        )
    return open_dataset(training_dataset)


def fg_text_attributes(dataset: Dataset) -> dict[str, dict[str, str]]:
    """T_fg -> its four values, for every labelled row of a dataset: its final attributes
    composed under its schema. A text that two different sets compose to (a schema whose
    phrases collide) is left out: a suggestion must say which one it means."""
    found: dict[str, dict[str, str]] = {}
    ambiguous: set[str] = set()
    for clip in dataset.clips():
        if clip.attributes is None:  # unlabelled
            continue
        text = compose_fg_text(clip.attributes, dataset.schema)
        values = {d: clip.attributes[d] for d in DIMENSIONS}
        if found.setdefault(text, values) != values:
            ambiguous.add(text)
    return {text: values for text, values in found.items() if text not in ambiguous}


def check_in_schema(
    texts: list[str], attributes_of: dict[str, dict[str, str]], schema: Schema, dataset_dir
) -> None:
    """Every suggestion must be a label the predicted dataset's annotators can give."""
    for text in texts:
        schema.check_attributes(
            attributes_of[text],
            where=f"the run's FG-Text {text!r} cannot be suggested for {dataset_dir}: ",
        )


@torch.no_grad()
def nearest_attributes(
    loaded: LoadedRun,
    candidates: FgTextCandidates,
    attributes_of: dict[str, dict[str, str]],
    clips: VideoClipDataset,
    *,
    top_k: int,
    batch_size: int,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """clip id -> its suggestions (attributes, score, text), best first, for each decodable
    clip of a VideoClipDataset, in the dataset's order."""
    from training.data import collate_clips

    ranked: dict[str, list[dict[str, Any]]] = {}
    batches = decoded_batches(
        loaded, clips, batch_size=batch_size, workers=workers, collate_fn=collate_clips,
        progress=progress,
    )  # fmt: skip
    for batch, frames in batches:
        with autocast(loaded.device):
            _, mid = loaded.model.mid_in_text_space(frames)
        nearest, similarity = candidates.nearest(mid, top_k)
        for clip_id, rows, scores in zip(batch["clip_ids"], nearest, similarity, strict=True):
            texts = [candidates.texts[i] for i in rows]
            ranked[clip_id] = [
                {"attributes": attributes_of[t], "score": float(s), "text": t}
                for t, s in zip(texts, scores, strict=True)
            ]
    return ranked


def provenance(
    run_dir, dataset_dir, split: str | None, top_k: int, texts_dataset: Path, loaded: LoadedRun
) -> dict[str, Any]:
    """The file's `source`: which run (and which of its checkpoints) suggested what for which
    clips, and when."""
    metrics_path = Path(run_dir) / METRICS_FILE
    metrics = json.loads(metrics_path.read_text("utf-8")) if metrics_path.is_file() else {}
    best = metrics.get("best_checkpoint")
    return {
        "kind": "model",
        "run": str(Path(run_dir).resolve()),
        "dataset": str(Path(dataset_dir).resolve()),
        "split": split,
        "top_k": top_k,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        # the run's weights are its best checkpoint's (None: the last epoch's)
        "checkpoint": Path(best).name if best else None,
        "model": loaded.config.checkpoint,
        "texts_from": str(texts_dataset.resolve()),
        "text_cache": str(loaded.text_cache.path),
    }
