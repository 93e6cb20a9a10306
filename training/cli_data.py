"""`fgsgl-train` data and model commands: check-data, prepare, embed-text, make-tiny,
convert-internvl.

`COMMANDS` lists them for the `fgsgl-train` Typer app (training.cli). Heavy imports (torch,
transformers, decord) happen inside the commands, so `fgsgl-train --help` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from fgtext.console import out_console, progress_bar
from fgtext.errors import FgTextError

DatasetArg = Annotated[
    Path, typer.Argument(help="An FG-Text dataset folder (fgtext-dataset/1 or /2).")
]


def _default_workers() -> int:
    try:
        return min(8, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return min(8, os.cpu_count() or 1)


def check_data_command(
    dataset: DatasetArg,
    frames: Annotated[int, typer.Option(help="Frames sampled per clip (as in training).")] = 8,
    workers: Annotated[
        int, typer.Option(help="Processes decoding side by side (default: cores, up to 8).")
    ] = 0,
) -> None:
    """Check that every clip is labelled and its video decodes; list each bad clip and why."""
    from training.data import check_data

    with progress_bar("checking clips") as progress:
        report = check_data(
            dataset, num_frames=frames, workers=workers or _default_workers(), progress=progress
        )
    if not report.ok:
        for problem in report.problems:
            out_console.print(
                f"{escape(problem.clip_id)} ({problem.split}): {escape(problem.reason)}",
                highlight=False,
            )
        raise FgTextError(
            f"{len(report.problems)} of {report.clips} clips in {dataset} cannot be used for "
            "training (listed above)"
        )
    table = Table(title=f"{dataset}: all {report.clips} clips decode", title_justify="left")
    table.add_column("split")
    table.add_column("clips", justify="right")
    for split, count in sorted(report.splits.items()):
        table.add_row(split, str(count))
    out_console.print(table)
    out_console.print(f"{len(report.classes)} classes with clips")


def prepare_command(
    dataset: DatasetArg,
    size: Annotated[
        int, typer.Option(help="Frame size of the copy (the model's image size).")
    ] = 448,
    workers: Annotated[
        int, typer.Option(help="Processes transcoding side by side (default: cores, up to 8).")
    ] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Folder of the copy (default DATASET/training-copy/SIZEpx)."
        ),
    ] = None,
) -> None:
    """Transcode every clip once to SIZExSIZE for training (resumable; originals untouched)."""
    from training.prepare import prepare_training_copy

    with progress_bar(f"transcoding to {size}x{size}") as progress:
        report = prepare_training_copy(
            dataset, size=size, workers=workers or _default_workers(), out=out, progress=progress
        )
    out_console.print(
        f"Training copy at [bold]{escape(str(report.folder))}[/]: {report.transcoded} clips "
        f"transcoded, {report.reused} already done, {len(report.failed)} failed",
        highlight=False,
    )
    if report.failed:
        for clip_id, reason in report.failed.items():
            out_console.print(f"{escape(clip_id)}: {escape(reason)}", highlight=False)
        raise FgTextError(
            f"{len(report.failed)} of {report.clips} clips could not be transcoded (listed above); "
            "training skips them (fgsgl-train check-data lists every problem)"
        )


def embed_text_command(
    dataset: DatasetArg,
    model: Annotated[
        Path,
        typer.Option(help="A local InternVL checkpoint or Hugging Face text-encoder folder."),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Cache file (default DATASET/text-cache/MODEL-POOLING.safetensors)."
        ),
    ] = None,
    pooling: Annotated[
        str, typer.Option(help="Pool the last hidden states: mean, last (token) or cls.")
    ] = "mean",
    batch_size: Annotated[int, typer.Option(help="Texts encoded at a time.")] = 64,
    device: Annotated[str, typer.Option(help="Torch device, e.g. cpu or cuda.")] = "cpu",
) -> None:
    """Encode every distinct FG-Text (T_fg) and class text (T_c) once with a frozen encoder."""
    from training.text_cache import POOLINGS, build_text_cache

    if pooling not in POOLINGS:
        raise FgTextError(f"--pooling must be one of {', '.join(POOLINGS)} (got {pooling!r})")
    with progress_bar("encoding texts") as progress:
        cache = build_text_cache(
            dataset,
            model,
            out,
            pooling=pooling,
            batch_size=batch_size,
            device=device,
            progress=progress,
        )
    out_console.print(
        f"Wrote {len(cache)} text embeddings (dim {cache.dim}, {pooling} pooling) to "
        f"[bold]{escape(str(cache.path))}[/]",
        highlight=False,
    )


def make_tiny_command(
    out: Annotated[Path, typer.Argument(help="Folder for the tiny checkpoint.")],
    image_size: Annotated[int, typer.Option(help="Image size (a multiple of 16).")] = 64,
    seed: Annotated[int, typer.Option(help="Random seed of the weights.")] = 0,
) -> None:
    """Write a tiny random InternVL checkpoint (for CPU demos and tests; it learns nothing real)."""
    from training.backbones import make_tiny_internvl

    if out.exists() and any(out.iterdir()):
        raise FgTextError(f"{out} exists and is not empty; choose a new folder for the checkpoint")
    path = make_tiny_internvl(out, image_size=image_size, seed=seed)
    out_console.print(
        f"Wrote a tiny InternVL checkpoint ({image_size}x{image_size} images) to "
        f"[bold]{escape(str(path))}[/]",
        highlight=False,
    )


def convert_internvl_command(
    source: Annotated[
        Path, typer.Argument(help="An OpenGVLab InternVLChatModel folder (e.g. InternVL2_5-8B).")
    ],
    out: Annotated[Path, typer.Argument(help="New folder for the native checkpoint.")],
    dtype: Annotated[
        str | None,
        typer.Option(help="Cast the weights: bfloat16, float16 or float32 (default: keep)."),
    ] = None,
) -> None:
    """Convert OpenGVLab's remote-code InternVL2.5 checkpoint to transformers' native format."""
    import torch

    from training.convert import convert_internvl

    casts = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
    if dtype is not None and dtype not in casts:
        raise FgTextError(f"unknown --dtype {dtype!r}; expected one of {', '.join(casts)}")
    with progress_bar("converting shards") as progress:
        report = convert_internvl(source, out, dtype=casts.get(dtype), progress=progress)
    out_console.print(
        f"Wrote {report.parameters / 1e9:.2f}B parameters ({report.tensors} tensors, "
        f"{report.dtype}, {report.shards} shards) and the tokenizer to "
        f"[bold]{escape(str(report.out))}[/]",
        highlight=False,
    )


COMMANDS = {  # registered on the fgsgl-train app by training.cli
    "check-data": check_data_command,
    "prepare": prepare_command,
    "embed-text": embed_text_command,
    "make-tiny": make_tiny_command,
    "convert-internvl": convert_internvl_command,
}
