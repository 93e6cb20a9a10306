"""`fgsgl-train` model commands: train, evaluate, predict, bench.

`COMMANDS` lists them for the `fgsgl-train` Typer app (training.cli). Heavy imports happen
inside the commands. Under the `deepspeed` launcher, pass `--no_local_rank` to it: the ranks come
from the environment (LOCAL_RANK, RANK, WORLD_SIZE), which the Trainer reads.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from fgtext.console import err_console, fmt, out_console, progress_bar
from fgtext.errors import FgTextError
from training.config import DataConfig, LossConfig, ModelConfig, OptimConfig, TrainConfig

# Each default comes from the config dataclasses (training.config): one place.
_D, _M, _L, _O = DataConfig, ModelConfig, LossConfig, OptimConfig
_FIELDS = {f.name for cls in (_D, _M, _L, _O) for f in dataclasses.fields(cls)}


def _config(cls, options: dict, **spelled_out):
    """`cls` from the options named as its fields, and the ones given here."""
    names = {f.name for f in dataclasses.fields(cls)}
    named = {k: v for k, v in options.items() if k in names and k not in spelled_out}
    return cls(**named, **spelled_out)


def train_command(
    dataset: Annotated[Path, typer.Argument(help="An FG-Text dataset folder.")],
    model: Annotated[
        Path, typer.Option("--model", "-m", help="InternVL checkpoint folder (native format).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The run folder.")] = Path(
        TrainConfig.out
    ),
    text_cache: Annotated[
        Path | None,
        typer.Option(help="Text cache (default: the one embed-text wrote into DATASET)."),
    ] = _D.text_cache,
    preset: Annotated[
        str, typer.Option(help="smg (lr 4e-5) or imigue (lr 1e-4); both a global batch of 64.")
    ] = _O.preset,
    lr: Annotated[
        float | None, typer.Option(help="Learning rate (default: the preset's).")
    ] = _O.lr,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = _O.epochs,
    batch_size: Annotated[int, typer.Option(help="Clips per device and step.")] = _O.batch_size,
    global_batch: Annotated[
        int | None,
        typer.Option(
            help="Clips per optimiser step over all processes (default: the preset's 64)."
        ),
    ] = _O.global_batch,
    grad_accum: Annotated[
        int | None,
        typer.Option(help="Gradient accumulation steps (default: from the global batch)."),
    ] = _O.grad_accum,
    eval_batch_size: Annotated[
        int | None, typer.Option(help="Default: --batch-size.")
    ] = _O.eval_batch_size,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = _O.weight_decay,
    warmup_ratio: Annotated[
        float, typer.Option(help="Linear warm-up share of the steps.")
    ] = _O.warmup_ratio,
    max_grad_norm: Annotated[float, typer.Option(help="Gradient clipping.")] = _O.max_grad_norm,
    bf16: Annotated[
        bool | None, typer.Option("--bf16/--no-bf16", help="Default: where the GPU supports it.")
    ] = _O.bf16,
    seed: Annotated[
        int, typer.Option(help="Seed of everything random: weights, sampling, frames.")
    ] = _O.seed,
    full_determinism: Annotated[
        bool, typer.Option(help="Deterministic GPU kernels (slower; see README).")
    ] = _O.full_determinism,
    frames: Annotated[int, typer.Option(help="Frames sampled per clip.")] = _D.num_frames,
    image_size: Annotated[
        int | None, typer.Option(help="Default: the backbone's.")
    ] = _D.image_size,
    workers: Annotated[int, typer.Option(help="DataLoader worker processes.")] = _D.workers,
    train_split: Annotated[str, typer.Option(help="Split to train on.")] = _D.train_split,
    val_split: Annotated[
        str | None,
        typer.Option(
            help="Split that chooses the checkpoint (default: validation where the dataset has "
            "it); none: no validation, the last epoch is kept."
        ),
    ] = _D.val_split,
    test_split: Annotated[str, typer.Option(help="Split reported at the end.")] = _D.test_split,
    lambda_fg: Annotated[float, typer.Option(help="Weight of L_fg.")] = _L.lambda_fg,
    lambda_cp: Annotated[float, typer.Option(help="Weight of L_cp.")] = _L.lambda_cp,
    stage1_epochs: Annotated[
        int, typer.Option(help="ML-CO stage 1 (L_cls + L_cp) epochs; then L_fg joins.")
    ] = _L.stage1_epochs,
    no_fg_sa: Annotated[bool, typer.Option("--no-fg-sa", help="Ablation: no L_fg.")] = False,
    no_cp_a: Annotated[bool, typer.Option("--no-cp-a", help="Ablation: no L_cp.")] = False,
    no_mlco: Annotated[
        bool, typer.Option("--no-mlco", help="Ablation: all terms from epoch 0.")
    ] = False,
    fg_text: Annotated[
        str, typer.Option(help="fg-text, or class-level: L_fg against the class's T_c.")
    ] = _L.fg_text,
    fg_loss: Annotated[
        str,
        typer.Option(
            help="paper (Eq. 1: video to text, one positive), symmetric, or multi-positive "
            "(symmetric; clips with the same FG-Text are positives)."
        ),
    ] = _M.fg_loss,
    lora_rank: Annotated[int, typer.Option(help="LoRA rank on the vision tower.")] = _M.lora_rank,
    mid_layer: Annotated[
        int | None, typer.Option(help="Vision layer of f_mid (default: the middle one).")
    ] = _M.mid_layer,
    activation_checkpointing: Annotated[
        bool, typer.Option(help="Recompute the vision layers in backward (less GPU memory).")
    ] = _M.activation_checkpointing,
    deepspeed: Annotated[
        str | None, typer.Option(help="DeepSpeed config: a JSON file or zero2 (shipped).")
    ] = _O.deepspeed,
    resume: Annotated[
        str | None, typer.Option(help="Resume: 'latest' or a checkpoint folder.")
    ] = None,
    logging_steps: Annotated[
        int, typer.Option(help="Log every N optimiser steps.")
    ] = _O.logging_steps,
    stop_after_epochs: Annotated[
        int | None,
        typer.Option(help="Stop after N epochs (schedule unchanged); continue with --resume."),
    ] = _O.stop_after_epochs,
) -> None:
    """Train FG-SGL on a dataset; everything lands in --out (config, logs, weights, metrics)."""
    from training.run import train

    # the options are named as the config fields they set (bar the few spelled out here)
    options = {k: v for k, v in locals().items() if k in _FIELDS}
    config = TrainConfig(
        out=str(out),
        checkpoint=str(model),
        data=_config(DataConfig, options, dataset=str(dataset), num_frames=frames,
                     text_cache=str(text_cache) if text_cache else None),
        model=_config(ModelConfig, options),
        loss=_config(LossConfig, options, fg_sa=not no_fg_sa, cp_a=not no_cp_a, mlco=not no_mlco),
        optim=_config(OptimConfig, options),
    )  # fmt: skip
    metrics = train(config, resume=resume)
    if int(os.environ.get("RANK", "0")) != 0:  # one report per run, not per process
        return
    if "stopped_at_epoch" in metrics:
        out_console.print(
            f"stopped after epoch {metrics['stopped_at_epoch']:g} (step {metrics['global_step']});"
            f" continue with --resume latest. Run folder: {escape(str(out))}",
            highlight=False,
        )
        return
    _print_split_table(
        f"{out}", {s: metrics[s] for s in ("validation", "test") if metrics[s] is not None}
    )
    chosen = (
        f"best checkpoint: {escape(str(metrics['best_checkpoint']))}"
        if metrics["best_checkpoint"]
        else "no validation split: the last epoch's weights"
    )
    out_console.print(
        f"{chosen}; weights, metrics and plots in {escape(str(out))}", highlight=False
    )


def _print_split_table(title: str, reports: dict) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("split", "clips", "top-1", "top-5"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for split, report in reports.items():
        table.add_row(split, str(report["clips"]), fmt(report["top1"]), fmt(report["top5"]))
    out_console.print(table)


def evaluate_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (train --out).")],
    dataset: Annotated[Path, typer.Argument(help="An FG-Text dataset with the run's classes.")],
    split: Annotated[str, typer.Option(help="Split to evaluate.")] = "test",
    batch_size: Annotated[int, typer.Option(help="Clips per batch.")] = 8,
    workers: Annotated[int, typer.Option(help="DataLoader worker processes.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Top-1/top-5 and per-class accuracy of a trained run on a split (+ confusion matrix)."""
    from training.inference import evaluate_run

    metrics = evaluate_run(run_dir, dataset, split=split, batch_size=batch_size, workers=workers)
    if as_json:
        print(json.dumps(metrics, indent=2))
        return
    _print_split_table(f"{run_dir} on {dataset}", {split: metrics[split]})
    table = Table(title="per-class accuracy", title_justify="left")
    table.add_column("class")
    table.add_column("accuracy", justify="right")
    for name, accuracy in metrics[split]["per_class_accuracy"].items():
        table.add_row(escape(name), fmt(accuracy))
    out_console.print(table)


def predict_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (train --out).")],
    videos: Annotated[
        list[Path] | None, typer.Argument(help="Video files, one clip each (or --dataset).")
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(help="Predict the clips of this FG-Text dataset; write --out (suggestions)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="With --dataset: the suggestions file to write."),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="With --dataset: this split only (default: every clip).")
    ] = None,
    top_k: Annotated[
        int | None,
        typer.Option(
            help="Classes and FG-Texts to show (default 5); with --dataset, suggestions per "
            "clip (default 3, at most 9)."
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="With --dataset: clips per batch (default 8).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="With --dataset: DataLoader worker processes (default 0).")
    ] = None,
    texts_from: Annotated[
        Path | None,
        typer.Option(
            help="With --dataset: a dataset whose labelled rows give the attributes of the run's "
            "FG-Texts (default: the run's training dataset; name a copy if it has moved)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (VIDEO files).")] = False,
) -> None:
    """Top-k classes of each video and the nearest FG-Text descriptions (predicted attributes);
    with --dataset, those attributes for every clip of a dataset as a suggestions file for its
    annotators (candidates: the run's training texts, never the dataset's own labels)."""
    # only the options given go on: each default lives with its function
    dataset_options = {"split": split, "top_k": top_k, "batch_size": batch_size,
                       "workers": workers, "texts_from": texts_from}  # fmt: skip
    given = {name: value for name, value in dataset_options.items() if value is not None}
    if dataset is None:
        only_dataset = [f"--{name.replace('_', '-')}" for name in given if name != "top_k"]
        only_dataset += ["--out"] if out is not None else []
        if only_dataset:
            raise FgTextError(
                f"{', '.join(only_dataset)}: only with --dataset DATASET, not with video files"
            )
        if not videos:
            raise FgTextError("give video files to predict, or --dataset DATASET --out FILE")
        _predict_videos(run_dir, videos, as_json=as_json, **given)
        return
    if videos:
        raise FgTextError("give video files or --dataset DATASET, not both")
    if out is None:
        raise FgTextError("--dataset needs --out FILE: the suggestions file to write")
    if as_json:
        raise FgTextError("--json prints the predictions of video files; --dataset writes --out")
    _predict_dataset(run_dir, dataset, out, **given)


def _predict_videos(run_dir: Path, videos: list[Path], *, as_json: bool, **options) -> None:
    from training.inference import predict_videos

    results = predict_videos(run_dir, [str(v) for v in videos], **options)
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for result in results:
        table = Table(title=escape(result["video"]), title_justify="left")
        table.add_column("class")
        table.add_column("p", justify="right")
        table.add_column("nearest FG-Text")
        table.add_column("cos", justify="right")
        rows = max(len(result["classes"]), len(result["fg_texts"]))
        for i in range(rows):
            cls = result["classes"][i] if i < len(result["classes"]) else None
            text = result["fg_texts"][i] if i < len(result["fg_texts"]) else None
            table.add_row(
                escape(cls["name"]) if cls else "",
                fmt(cls["probability"]) if cls else "",
                escape(text["text"]) if text else "",
                fmt(text["similarity"]) if text else "",
            )
        out_console.print(table)


def _predict_dataset(run_dir: Path, dataset: Path, out: Path, **options) -> None:
    from training.suggest import describe_undecodable, predict_dataset

    with progress_bar("predicting clips") as progress:
        result = predict_dataset(run_dir, dataset, out, progress=progress, **options)
    summary = [f"wrote the suggestions for {result.clips} clip(s) to {result.path}"]
    if result.undecodable:
        summary.append(
            f"left out {len(result.undecodable)} clip(s) that could not be decoded: "
            f"{describe_undecodable(result.undecodable)}"
        )
    if result.texts_without_attributes:
        summary.append(
            f"{result.texts_without_attributes} FG-Text(s) of the run's text cache match no "
            "labelled row of its training data and are never suggested"
        )
    for line in summary:  # on stderr, as progress: stdout stays empty
        err_console.print(line, highlight=False, markup=False, soft_wrap=True)


def bench_command(
    arch: Annotated[str, typer.Option(help="Architecture size: tiny or internvl2.5-8b.")] = "tiny",
    batch_size: Annotated[int, typer.Option(help="Clips per step.")] = 8,
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = 8,
    steps: Annotated[int, typer.Option(help="Timed steps.")] = 5,
    warmup: Annotated[int, typer.Option(help="Untimed steps first.")] = 2,
    baseline: Annotated[
        bool,
        typer.Option("--baseline/--no-baseline", help="Also time the LLM-as-text-encoder set-up."),
    ] = True,
    device: Annotated[str | None, typer.Option(help="cuda, cpu (default: cuda if any).")] = None,
    activation_checkpointing: Annotated[
        bool, typer.Option(help="Recompute the vision layers in backward (less GPU memory).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Training throughput, MFU and peak memory with random weights (no checkpoint needed)."""
    from training.bench import results_as_json, run_bench

    results = run_bench(
        arch, batch_size=batch_size, frames=frames, steps=steps, warmup=warmup,
        baseline=baseline, device=device, activation_checkpointing=activation_checkpointing,
    )  # fmt: skip
    if as_json:
        print(json.dumps(results_as_json(results), indent=2))
        return
    first = results[0]
    table = Table(
        title=f"fgsgl-train bench: {first.arch}, {first.device}, batch {first.batch_size} x "
        f"{first.frames} frames of {first.image_size}px",
        title_justify="left",
    )
    for column in ("set-up", "clips/s", "ms/step", "TFLOP/clip", "MFU", "peak memory"):
        table.add_column(column, justify="left" if column == "set-up" else "right")
    for r in results:
        table.add_row(
            r.setup,
            f"{r.clips_per_second:.2f}",
            f"{r.ms_per_step:.1f}",
            f"{r.tflops_per_clip:.3g}",
            "-" if r.mfu is None else f"{100 * r.mfu:.1f}%",
            f"{r.peak_memory_gib:.2f} GiB ({r.memory_kind})",
        )
    out_console.print(table)


def ablate_command(
    ctx: typer.Context,
    dataset: Annotated[Path, typer.Argument(help="An FG-Text dataset folder.")],
    model: Annotated[
        Path, typer.Option("--model", "-m", help="InternVL checkpoint folder (native format).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The grid's folder.")] = Path(
        "runs/ablation"
    ),
    seeds: Annotated[str, typer.Option(help="Seeds: 0,1,2,3,4 or 0-4.")] = "0-4",
    variants: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated (default: all): full, no-fg-sa, no-cp-a, no-mlco, "
            "class-level, fg-symmetric, fg-multi-positive."
        ),
    ] = None,
    shard: Annotated[
        str | None, typer.Option(help="i/n: run every n-th run of the grid from the i-th.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the runs it would start, start none.")
    ] = False,
    report_only: Annotated[
        bool, typer.Option("--report-only", help="Write the report from the finished runs.")
    ] = False,
) -> None:
    """The paper's ablation rows (Tables II-III) and our L_fg variants over seeds: one run per
    variant x seed (finished ones are skipped), then ablation.json/.md/.png with 95 % intervals.
    Options after `--` go to every `train` run, e.g. `-- --epochs 6 --lr 1e-3`."""
    import shlex

    from training import ablate

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise FgTextError(
            "ablate starts its runs itself, one process each: run it without torchrun or "
            "deepspeed, and spread the grid over GPUs or machines with --shard i/n (e.g. "
            "CUDA_VISIBLE_DEVICES=0 fgsgl-train ablate ... --shard 1/8)"
        )
    from fgtext.dataset import open_dataset

    open_dataset(dataset)  # a wrong folder is one error now, not a failed first run
    train_args = list(ctx.args)
    for flag in ("--out", "-o", "--seed", "--model", "-m", "--resume"):
        if flag in train_args:
            raise FgTextError(f"ablate sets {flag} of each run itself; leave it out after --")
    grid = ablate.plan(out, ablate.parse_variants(variants), ablate.parse_seeds(seeds))
    mine = ablate.shard_of(grid, ablate.parse_shard(shard))
    command = shlex.join(
        ["fgsgl-train", "ablate", str(dataset), "--model", str(model), "--out", str(out),
         "--seeds", seeds, *(["--variants", variants] if variants else []), "--", *train_args]
    )  # fmt: skip
    if dry_run:
        for run in mine:
            argv = ablate.train_argv(run, dataset, model, train_args, run.resumable)
            out_console.print(
                f"{run.state}: {shlex.join(['fgsgl-train', *argv])}", highlight=False, markup=False
            )
        return
    if not report_only:
        _run_ablation(ablate, mine, dataset, model, train_args)
    report = ablate.collect(grid)
    ablate.write_report(out, report, command)
    out_console.print(ablate.markdown_table({**report, "command": command}), markup=False)
    out_console.print(f"report: {escape(str(out / 'ablation.md'))} (and .json, .png)")


ablate_command.context_settings = {"allow_extra_args": True, "ignore_unknown_options": True}


def _run_ablation(ablate, runs, dataset: Path, model: Path, train_args: list[str]) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from training.cli import run

    progress = Progress(
        "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console,
    )  # fmt: skip
    with progress:
        task = progress.add_task("ablation runs", total=len(runs))

        def on_progress(run, what: str, metrics) -> None:
            top1 = (metrics or {}).get("test", {}).get("top1")
            shown = "-" if top1 is None else f"{100 * top1:.1f}"
            progress.console.print(
                f"{run.variant} seed {run.seed}: {what}; test top-1 {shown}", highlight=False
            )
            progress.advance(task)

        ablate.run_grid(
            runs, dataset=dataset, model=model, train_args=train_args, train=run,
            on_progress=on_progress,
        )  # fmt: skip


COMMANDS = {  # registered on the fgsgl-train app by training.cli
    "train": train_command,
    "ablate": ablate_command,
    "evaluate": evaluate_command,
    "predict": predict_command,
    "bench": bench_command,
}
