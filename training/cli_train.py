"""`fgsgl-train` model commands: train, evaluate, predict, bench.

`COMMANDS` lists them for the `fgsgl-train` Typer app (training.cli). Heavy imports happen
inside the commands. Under the `deepspeed` launcher, pass `--no_local_rank` to it: the ranks come
from the environment (LOCAL_RANK, RANK, WORLD_SIZE), which the Trainer reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

out_console = Console(soft_wrap=True)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def train_command(
    dataset: Annotated[Path, typer.Argument(help="An FG-Text dataset folder.")],
    model: Annotated[
        Path, typer.Option("--model", "-m", help="InternVL checkpoint folder (native format).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The run folder.")] = Path("runs/fgsgl"),
    text_cache: Annotated[
        Path | None,
        typer.Option(help="Text cache (default: the one embed-text wrote into DATASET)."),
    ] = None,
    preset: Annotated[str, typer.Option(help="smg (lr 4e-5) or imigue (lr 1e-4).")] = "smg",
    lr: Annotated[float | None, typer.Option(help="Learning rate (default: the preset's).")] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 15,
    batch_size: Annotated[int, typer.Option(help="Clips per device and step.")] = 8,
    eval_batch_size: Annotated[int | None, typer.Option(help="Default: --batch-size.")] = None,
    grad_accum: Annotated[int, typer.Option(help="Gradient accumulation steps.")] = 4,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = 0.05,
    warmup_ratio: Annotated[float, typer.Option(help="Linear warm-up share of the steps.")] = 0.03,
    max_grad_norm: Annotated[float, typer.Option(help="Gradient clipping.")] = 1.0,
    bf16: Annotated[
        bool | None, typer.Option("--bf16/--no-bf16", help="Default: where the GPU supports it.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    frames: Annotated[int, typer.Option(help="Frames sampled per clip.")] = 8,
    image_size: Annotated[int | None, typer.Option(help="Default: the backbone's.")] = None,
    workers: Annotated[int, typer.Option(help="DataLoader worker processes.")] = 4,
    train_split: Annotated[str, typer.Option(help="Split to train on.")] = "train",
    val_split: Annotated[str, typer.Option(help="Split for model selection.")] = "validation",
    test_split: Annotated[str, typer.Option(help="Split reported at the end.")] = "test",
    lambda_fg: Annotated[float, typer.Option(help="Weight of L_fg.")] = 1.0,
    lambda_cp: Annotated[float, typer.Option(help="Weight of L_cp.")] = 1.0,
    stage1_epochs: Annotated[
        int, typer.Option(help="ML-CO stage 1 (L_cls + L_cp) epochs; then L_fg joins.")
    ] = 5,
    no_fg_sa: Annotated[bool, typer.Option("--no-fg-sa", help="Ablation: no L_fg.")] = False,
    no_cp_a: Annotated[bool, typer.Option("--no-cp-a", help="Ablation: no L_cp.")] = False,
    no_mlco: Annotated[
        bool, typer.Option("--no-mlco", help="Ablation: all terms from epoch 0.")
    ] = False,
    fg_text: Annotated[
        str, typer.Option(help="fg-text, or class-level: L_fg against the class's T_c.")
    ] = "fg-text",
    fg_loss: Annotated[
        str, typer.Option(help="multi-positive (same texts are positives) or paper.")
    ] = "multi-positive",
    lora_rank: Annotated[int, typer.Option(help="LoRA rank on the vision tower.")] = 8,
    mid_layer: Annotated[
        int | None, typer.Option(help="Vision layer of f_mid (default: the middle one).")
    ] = None,
    activation_checkpointing: Annotated[
        bool, typer.Option(help="Recompute the vision layers in backward (less GPU memory).")
    ] = False,
    deepspeed: Annotated[
        str | None, typer.Option(help="DeepSpeed config: a JSON file or zero2 (shipped).")
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="Resume: 'latest' or a checkpoint folder.")
    ] = None,
    logging_steps: Annotated[int, typer.Option(help="Log every N optimiser steps.")] = 10,
    stop_after_epochs: Annotated[
        int | None,
        typer.Option(help="Stop after N epochs (schedule unchanged); continue with --resume."),
    ] = None,
) -> None:
    """Train FG-SGL on a dataset; everything lands in --out (config, logs, weights, metrics)."""
    from training.model import ModelConfig
    from training.trainer import DataConfig, LossConfig, OptimConfig, TrainConfig, train

    config = TrainConfig(
        out=str(out),
        checkpoint=str(model),
        data=DataConfig(
            dataset=str(dataset),
            text_cache=str(text_cache) if text_cache else None,
            num_frames=frames,
            image_size=image_size,
            train_split=train_split,
            val_split=val_split,
            test_split=test_split,
            workers=workers,
        ),
        model=ModelConfig(
            lora_rank=lora_rank,
            mid_layer=mid_layer,
            fg_loss=fg_loss,
            activation_checkpointing=activation_checkpointing,
        ),
        loss=LossConfig(
            lambda_fg=lambda_fg,
            lambda_cp=lambda_cp,
            stage1_epochs=stage1_epochs,
            fg_sa=not no_fg_sa,
            cp_a=not no_cp_a,
            mlco=not no_mlco,
            fg_text=fg_text,
        ),
        optim=OptimConfig(
            preset=preset,
            lr=lr,
            epochs=epochs,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            grad_accum=grad_accum,
            weight_decay=weight_decay,
            warmup_ratio=warmup_ratio,
            max_grad_norm=max_grad_norm,
            bf16=bf16,
            seed=seed,
            logging_steps=logging_steps,
            deepspeed=deepspeed,
            stop_after_epochs=stop_after_epochs,
        ),
    )
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
    _print_split_table(f"{out}", {s: metrics[s] for s in ("validation", "test")})
    out_console.print(
        f"best checkpoint: {escape(str(metrics['best_checkpoint']))}; weights, metrics and plots "
        f"in {escape(str(out))}",
        highlight=False,
    )


def _print_split_table(title: str, reports: dict) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("split", "clips", "top-1", "top-5"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for split, report in reports.items():
        table.add_row(split, str(report["clips"]), _fmt(report["top1"]), _fmt(report["top5"]))
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
        table.add_row(escape(name), _fmt(accuracy))
    out_console.print(table)


def predict_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (train --out).")],
    videos: Annotated[list[Path], typer.Argument(help="Video files, one clip each.")],
    top_k: Annotated[int, typer.Option(help="Classes and FG-Texts to show.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Top-k classes of each video and the nearest FG-Text descriptions (predicted attributes)."""
    from training.inference import predict_videos

    results = predict_videos(run_dir, [str(v) for v in videos], top_k=top_k)
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
                _fmt(cls["probability"]) if cls else "",
                escape(text["text"]) if text else "",
                _fmt(text["similarity"]) if text else "",
            )
        out_console.print(table)


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


COMMANDS = {  # registered on the fgsgl-train app by training.cli
    "train": train_command,
    "evaluate": evaluate_command,
    "predict": predict_command,
    "bench": bench_command,
}
