"""The run configuration: the paper's global batch whatever the world size, one place for each
default (the CLI's come from the dataclasses)."""

from __future__ import annotations

import inspect

import pytest

from fgtext.errors import FgTextError
from training.config import (
    PRESETS,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
    resolve_batch,
)


@pytest.mark.parametrize("preset", ["smg", "imigue"])
@pytest.mark.parametrize(("world", "accumulation"), [(1, 8), (2, 4), (4, 2)])
def test_a_preset_keeps_the_papers_global_batch_of_64(preset, world, accumulation):
    config = TrainConfig(optim=OptimConfig(preset=preset)).resolved(world_size=world)
    optim = config.to_json()["optim"]  # what config.json records
    assert optim["batch_size"] == 8 and optim["grad_accum"] == accumulation
    assert optim["global_batch"] == 64 == 8 * accumulation * world
    assert optim["world_size"] == world
    assert optim["lr"] == {"smg": 4e-5, "imigue": 1e-4}[preset] == PRESETS[preset].lr


def test_other_batches_are_an_explicit_choice():
    # an explicit accumulation: the global batch follows (and is recorded)
    assert resolve_batch(OptimConfig(batch_size=8, grad_accum=4), 1) == (4, 32)
    assert resolve_batch(OptimConfig(batch_size=4, grad_accum=2), 4) == (2, 32)
    # an explicit global batch: the accumulation follows
    assert resolve_batch(OptimConfig(batch_size=4, global_batch=128), 2) == (16, 128)
    assert resolve_batch(OptimConfig(batch_size=4, global_batch=8, grad_accum=1), 2) == (1, 8)


@pytest.mark.parametrize(
    ("optim", "world", "message"),
    [
        (OptimConfig(), 3, "global batch 64 is not a multiple of 8 clips x 3 process(es) = 24"),
        (OptimConfig(batch_size=6), 1, "global batch 64 is not a multiple of 6 clips"),
        (OptimConfig(global_batch=10, grad_accum=2), 1, "--global-batch 10 disagrees"),
        (OptimConfig(grad_accum=0), 1, "--grad-accum must be at least 1"),
        (OptimConfig(batch_size=0), 1, "--batch-size must be at least 1"),
        (OptimConfig(global_batch=-8), 1, "global batch -8 is not a multiple"),
    ],
)
def test_batch_arithmetic_that_does_not_work_out_is_one_clear_error(optim, world, message):
    with pytest.raises(FgTextError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        resolve_batch(optim, world)


def test_config_json_round_trips_and_reads_older_runs():
    config = TrainConfig(
        out="runs/x", checkpoint="m", data=DataConfig(dataset="d", val_split="none")
    ).resolved(world_size=2)
    assert TrainConfig.from_json(config.to_json()) == config
    older = config.to_json()
    for key in ("global_batch", "world_size", "full_determinism"):  # before these existed
        del older["optim"][key]
    assert TrainConfig.from_json(older).optim.grad_accum == 4


def test_every_train_option_default_is_the_config_default():
    """`fgsgl-train train`'s defaults are read from the dataclasses, so they cannot drift."""
    from training.cli_train import train_command

    defaults = {
        name: p.default
        for name, p in inspect.signature(train_command).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    data, model, loss, optim = DataConfig(), ModelConfig(), LossConfig(), OptimConfig()
    expected = {
        "frames": data.num_frames, "image_size": data.image_size, "workers": data.workers,
        "train_split": data.train_split, "val_split": data.val_split,
        "test_split": data.test_split, "text_cache": data.text_cache,
        "lora_rank": model.lora_rank, "mid_layer": model.mid_layer, "fg_loss": model.fg_loss,
        "activation_checkpointing": model.activation_checkpointing,
        "lambda_fg": loss.lambda_fg, "lambda_cp": loss.lambda_cp,
        "stage1_epochs": loss.stage1_epochs, "fg_text": loss.fg_text,
        "no_fg_sa": not loss.fg_sa, "no_cp_a": not loss.cp_a, "no_mlco": not loss.mlco,
        **{name: getattr(optim, name) for name in (
            "preset", "lr", "epochs", "batch_size", "global_batch", "grad_accum",
            "eval_batch_size", "weight_decay", "warmup_ratio", "max_grad_norm", "bf16", "seed",
            "full_determinism", "logging_steps", "deepspeed", "stop_after_epochs",
        )},
    }  # fmt: skip
    assert {k: defaults[k] for k in expected} == expected
    assert str(defaults["out"]) == TrainConfig().out
    assert model.fg_loss == "paper"  # the paper's Eq. 1 unless asked otherwise
