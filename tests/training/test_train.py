"""`fgsgl-train train/evaluate/predict` end to end on the tiny InternVL and synthetic clips.

One base run (3 epochs, ML-CO stage 2 from epoch 1) is shared by the tests that read its
outputs; the ablations, resume and DeepSpeed tests make their own runs. The synthetic dataset has
18 training clips, so a batch of 6 gives 3 optimiser steps per epoch.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from training.cli import main

STEPS_PER_EPOCH = 3
# A global batch of 6 (accumulation 1); evaluation in batches of 4, so the 6 validation and 6
# test clips end in a partial batch that must still be scored.
FAST = [
    "--frames", "4", "--workers", "0", "--batch-size", "6", "--global-batch", "6",
    "--eval-batch-size", "4", "--lr", "5e-3", "--logging-steps", "1", "--seed", "0",
]  # fmt: skip


def run_cli(argv: list) -> tuple[int, str, str]:
    """Run fgsgl-train in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in argv])
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def train_args(dataset, model, out, *extra) -> list:
    return ["train", dataset, "--model", model, "--out", out, *FAST, *extra]


def training_logs(run: Path) -> list[dict]:
    lines = (run / "log.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if "loss" in e and "eval_loss" not in e]


def terms_by_epoch(run: Path) -> dict[int, set[str]]:
    """Which loss terms were logged in each (1-based) epoch."""
    seen: dict[int, set[str]] = {}
    for entry in training_logs(run):
        epoch = math.ceil(entry["epoch"] - 1e-6)
        seen.setdefault(epoch, set()).update(
            k.removeprefix("loss_") for k in entry if k.startswith("loss_")
        )
    return seen


@pytest.fixture(scope="module")
def base_run(synth_dataset, tiny_internvl, text_cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "base"
    code, _, err = run_cli(
        train_args(synth_dataset, tiny_internvl, out, "--epochs", 3, "--stage1-epochs", 1)
    )
    assert code == 0, err
    return out


def test_a_run_folder_holds_config_metrics_weights_and_plots(base_run, synth_dataset):
    config = json.loads((base_run / "config.json").read_text())
    assert config["optim"]["lr"] == 5e-3 and config["optim"]["preset"] == "smg"
    assert config["optim"]["weight_decay"] == 0.05 and config["optim"]["warmup_ratio"] == 0.03
    assert config["loss"] == {
        "lambda_fg": 1.0, "lambda_cp": 1.0, "stage1_epochs": 1, "fg_sa": True, "cp_a": True,
        "mlco": True, "fg_text": "fg-text",
    }  # fmt: skip
    assert config["data"]["dataset"] == str(Path(synth_dataset).resolve())
    assert (config["optim"]["global_batch"], config["optim"]["grad_accum"]) == (6, 1)
    assert config["optim"]["world_size"] == 1 and config["model"]["fg_loss"] == "paper"
    metrics = json.loads((base_run / "metrics.json").read_text())
    assert metrics["model_selection"] == "best validation top-1 (split 'validation')"
    assert metrics["global_step"] == 3 * STEPS_PER_EPOCH
    classes = [c["name"] for c in json.loads((base_run / "classes.json").read_text())]
    for split in ("validation", "test"):
        report = metrics[split]
        assert report["clips"] == 6
        assert 0 <= report["top1"] <= report["top5"] <= 1
        assert list(report["per_class_accuracy"]) == classes
        assert np.array(report["confusion_matrix"]).sum() == 6
    assert metrics["skipped_clips"]["training_batches"] == 0
    assert set(metrics["final_loss_terms"]) == {"loss", "loss_cls", "loss_cp", "loss_fg"}
    # the weights are LoRA + projector + heads, not the frozen tower
    weights = load_file(base_run / "weights.safetensors")
    assert any(".lora_A." in k for k in weights)
    assert not any(".base_layer." in k or "embeddings" in k for k in weights)
    for png in ("confusion_matrix.png", "learning_curves.png"):
        assert (base_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stage_two_starts_at_the_configured_epoch_and_every_term_is_finite(base_run):
    logs = training_logs(base_run)
    assert len(logs) == 3 * STEPS_PER_EPOCH
    assert terms_by_epoch(base_run) == {
        1: {"cls", "cp"},
        2: {"cls", "cp", "fg"},
        3: {"cls", "cp", "fg"},
    }
    assert [e["stage"] for e in logs] == [1] * 3 + [2] * 6
    for entry in logs:
        for key, value in entry.items():
            if key.startswith("loss"):
                assert math.isfinite(value), (key, entry)
        parts = entry["loss_cls"] + entry["loss_cp"] + entry.get("loss_fg", 0.0)
        assert entry["loss"] == pytest.approx(parts, rel=1e-3)
    assert "ML-CO stage 2 from epoch 1" in (base_run / "train.log").read_text()


def test_loss_falls(base_run):
    logs = training_logs(base_run)
    first, last = logs[:STEPS_PER_EPOCH], logs[-STEPS_PER_EPOCH:]
    # the terms of stage 1 (L_fg joins later, so the total is not comparable)
    start = np.mean([e["loss_cls"] + e["loss_cp"] for e in first])
    end = np.mean([e["loss_cls"] + e["loss_cp"] for e in last])
    assert end < start


def test_the_best_checkpoint_reloads_with_identical_predictions(base_run, synth_dataset):
    from training.inference import load_run
    from training.model import load_trainable_state

    metrics = json.loads((base_run / "metrics.json").read_text())
    best = Path(metrics["best_checkpoint"])
    assert best.parent == base_run / "checkpoints"
    # the run's weights are the best checkpoint's
    final, checkpoint = (
        load_file(base_run / "weights.safetensors"),
        load_file(best / "model.safetensors"),
    )
    assert set(final) == set(checkpoint)
    for key in final:
        torch.testing.assert_close(final[key], checkpoint[key], rtol=0, atol=0)
    # evaluate reloads them and predicts exactly what the run reported
    code, out, err = run_cli(
        ["evaluate", base_run, synth_dataset, "--split", "validation", "--json"]
    )
    assert code == 0, err
    evaluated = json.loads(out)["validation"]
    assert evaluated["confusion_matrix"] == metrics["validation"]["confusion_matrix"]
    assert evaluated["top1"] == metrics["validation"]["top1"]
    assert metrics["best_validation_top1"] == metrics["validation"]["top1"]
    # and a model loaded from the checkpoint folder gives the same logits as load_run's
    loaded = load_run(base_run, device=torch.device("cpu"))
    frames = torch.randint(0, 256, (2, 4, 3, 64, 64), dtype=torch.uint8)
    other = load_run(base_run, device=torch.device("cpu")).model
    load_trainable_state(other, checkpoint, str(best))
    with torch.no_grad():
        torch.testing.assert_close(
            loaded.model(frames)["logits"], other.eval()(frames)["logits"], rtol=0, atol=0
        )


def test_evaluate_writes_the_split_report(base_run, synth_dataset):
    code, out, err = run_cli(["evaluate", base_run, synth_dataset, "--split", "test"])
    assert code == 0, err
    assert "top-1" in out and "per-class accuracy" in out
    folder = base_run / f"eval-{Path(synth_dataset).resolve().name}-test"
    metrics = json.loads((folder / "metrics.json").read_text())
    run_metrics = json.loads((base_run / "metrics.json").read_text())
    assert metrics["test"]["confusion_matrix"] == run_metrics["test"]["confusion_matrix"]
    assert (folder / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_gives_top_k_classes_and_nearest_fg_texts(base_run, synth_dataset):
    from fgtext.dataset import open_dataset

    dataset = open_dataset(synth_dataset)
    clip = next(dataset.clips("test"))
    code, out, err = run_cli(
        ["predict", base_run, dataset.video_path(clip), "--top-k", "3", "--json"]
    )
    assert code == 0, err
    [result] = json.loads(out)
    probabilities = [c["probability"] for c in result["classes"]]
    assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 1e-6
    names = {c.name for c in dataset.classes}
    assert {c["name"] for c in result["classes"]} <= names
    fg_texts = {c.text for c in dataset.clips()}
    similarities = [t["similarity"] for t in result["fg_texts"]]
    assert len(similarities) == 3 and similarities == sorted(similarities, reverse=True)
    assert all(t["text"] in fg_texts for t in result["fg_texts"])
    # the same ranking as the model's logits on that clip
    from training.data import VideoClipDataset
    from training.inference import load_run

    loaded = load_run(base_run, device=torch.device("cpu"))
    items = VideoClipDataset(synth_dataset, "test", num_frames=4, image_size=64, train=False)
    frames = items[items.clip_ids.index(clip.clip_id)]["frames"]
    with torch.no_grad():
        logits = loaded.model(frames[None])["logits"][0]
    assert result["classes"][0]["id"] == int(logits.argmax())


def test_resume_after_an_interruption_finishes_the_same_schedule(
    base_run, synth_dataset, tiny_internvl, tmp_path
):
    out = tmp_path / "resumed"
    args = train_args(synth_dataset, tiny_internvl, out, "--epochs", 3, "--stage1-epochs", 1)
    code, stdout, err = run_cli([*args, "--stop-after-epochs", 1])
    assert code == 0, err
    assert "stopped after epoch 1" in stdout
    assert not (out / "metrics.json").exists()
    assert (out / "checkpoints" / f"checkpoint-{STEPS_PER_EPOCH}").is_dir()

    code, _, err = run_cli([*args, "--resume", "latest"])
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    base = json.loads((base_run / "metrics.json").read_text())
    assert metrics["global_step"] == base["global_step"] == 3 * STEPS_PER_EPOCH
    # the resumed run continued in stage 2 and logged epochs 2-3 only once
    assert terms_by_epoch(out) == terms_by_epoch(base_run)
    assert len(training_logs(out)) == 3 * STEPS_PER_EPOCH


@pytest.mark.parametrize(
    ("switches", "expected"),
    [
        ([], {1: {"cls", "cp"}, 2: {"cls", "cp", "fg"}}),
        (["--no-mlco"], {1: {"cls", "cp", "fg"}, 2: {"cls", "cp", "fg"}}),
        (["--no-fg-sa"], {1: {"cls", "cp"}, 2: {"cls", "cp"}}),
        (["--no-cp-a"], {1: {"cls"}, 2: {"cls", "fg"}}),
        (["--fg-text", "class-level"], {1: {"cls", "cp"}, 2: {"cls", "cp", "fg"}}),
    ],
    ids=["full", "no-mlco", "no-fg-sa", "no-cp-a", "class-level"],
)
def test_each_ablation_switch_changes_exactly_its_loss_terms(
    switches, expected, synth_dataset, tiny_internvl, text_cache, tmp_path
):
    out = tmp_path / "run"
    code, _, err = run_cli(
        train_args(
            synth_dataset, tiny_internvl, out, "--epochs", 2, "--stage1-epochs", 1, *switches
        )
    )
    assert code == 0, err
    assert terms_by_epoch(out) == expected
    config = json.loads((out / "config.json").read_text())["loss"]
    assert config["fg_text"] == ("class-level" if "class-level" in switches else "fg-text")
    assert config["mlco"] == ("--no-mlco" not in switches)


def test_class_level_text_feeds_each_clip_its_class_embedding(synth_dataset, text_cache):
    from training.data import VideoClipDataset
    from training.text_cache import TextCache
    from training.trainer import ClipBatchCollator

    cache = TextCache.load(text_cache)
    for source, texts_of in [
        ("class", lambda ds, labels: [ds.class_texts[i] for i in labels]),
        ("fg", lambda ds, labels: ds.texts[:6]),
    ]:
        ds = VideoClipDataset(
            synth_dataset, "train", num_frames=2, image_size=64, train=False, text_source=source
        )
        batch = ClipBatchCollator(cache)([ds[i] for i in range(6)])
        expected = cache.lookup(texts_of(ds, batch["labels"].tolist()))
        torch.testing.assert_close(batch["text_embeddings"], expected, rtol=0, atol=0)
        assert set(batch) == {"slots", "frames", "labels", "text_embeddings", "skipped"}
        assert next(iter(batch)) == "slots" and batch["slots"].shape == (6,)  # the batch size


# -- user mistakes: one line, exit 1 --------------------------------------------------------------


def _assert_one_line_error(result, *fragments):
    code, _, err = result
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_text_cache(copy_dataset, tiny_internvl, tmp_path):
    dataset = copy_dataset()
    result = run_cli(train_args(dataset, tiny_internvl, tmp_path / "run"))
    _assert_one_line_error(result, "has no text cache", "embed-text")
    missing = tmp_path / "nope.safetensors"
    result = run_cli(train_args(dataset, tiny_internvl, tmp_path / "run", "--text-cache", missing))
    _assert_one_line_error(result, f"text cache {missing} does not exist")


def test_dataset_with_unlabelled_clips(copy_dataset, tiny_internvl, text_cache, tmp_path):
    dataset = copy_dataset()
    lines = (dataset / "clips.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    row.update(status="unlabelled", attributes=None, text=None, annotations=[])
    (dataset / "clips.jsonl").write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    result = run_cli(
        train_args(dataset, tiny_internvl, tmp_path / "run", "--text-cache", text_cache)
    )
    _assert_one_line_error(result, "unlabelled", row["clip_id"])


def test_unknown_preset_and_fg_text(synth_dataset, tiny_internvl, text_cache, tmp_path):
    result = run_cli([*train_args(synth_dataset, tiny_internvl, tmp_path / "r"), "--preset", "ntu"])
    _assert_one_line_error(result, "unknown preset 'ntu'", "smg, imigue")
    result = run_cli(
        [*train_args(synth_dataset, tiny_internvl, tmp_path / "r"), "--fg-text", "words"]
    )
    _assert_one_line_error(result, "unknown --fg-text 'words'")
    result = run_cli(
        [*train_args(synth_dataset, tiny_internvl, tmp_path / "r"), "--deepspeed", "zero9"]
    )
    _assert_one_line_error(result, "DeepSpeed config 'zero9'", "zero2")


def test_wrong_checkpoint_paths(synth_dataset, text_cache, tmp_path, base_run):
    result = run_cli(train_args(synth_dataset, tmp_path / "no-model", tmp_path / "r"))
    _assert_one_line_error(result, "is not a model folder")
    result = run_cli([*train_args(synth_dataset, tmp_path, tmp_path / "r2"), "--resume", "latest"])
    _assert_one_line_error(result, "--resume latest", "holds no checkpoint")
    result = run_cli([*train_args(synth_dataset, tmp_path, tmp_path / "r3"), "--resume", tmp_path])
    _assert_one_line_error(result, "not a checkpoint folder")
    _assert_one_line_error(
        run_cli(["evaluate", tmp_path, synth_dataset]), "is not a training run folder"
    )
    _assert_one_line_error(
        run_cli(["predict", base_run, tmp_path / "missing.mp4"]), "cannot predict", "does not exist"
    )


# -- the paper's protocol: every clip scored, seeds, no validation split -------------------------


def test_every_validation_and_test_clip_is_scored_and_evaluate_reproduces_the_run(
    base_run, synth_dataset
):
    from fgtext.dataset import open_dataset

    sizes = open_dataset(synth_dataset).info.splits
    metrics = json.loads((base_run / "metrics.json").read_text())
    for split in ("validation", "test"):  # 6 clips each, evaluated 4 + 2
        assert metrics[split]["clips"] == sizes[split] == 6
    code, out, err = run_cli(["evaluate", base_run, synth_dataset, "--split", "test", "--json"])
    assert code == 0, err
    evaluated = json.loads(out)["test"]
    for key in ("clips", "top1", "top5", "per_class_accuracy", "confusion_matrix"):
        assert evaluated[key] == metrics["test"][key], key


def _weights_and_metrics(run: Path) -> tuple[dict, dict]:
    metrics = json.loads((run / "metrics.json").read_text())
    keep = ("validation", "test", "train_loss", "final_loss_terms", "global_step")
    return load_file(run / "weights.safetensors"), {k: metrics[k] for k in keep}


def test_the_same_seed_gives_identical_runs_and_another_seed_does_not(
    synth_dataset, tiny_internvl, text_cache, tmp_path
):
    """Two fresh processes (torch seeds each process randomly) with one seed, and a run with
    another seed."""
    short = ["--epochs", 2, "--stage1-epochs", 1]
    for name in ("a", "b"):
        argv = train_args(synth_dataset, tiny_internvl, tmp_path / name, *short)
        fresh = _subprocess(["-m", "training.cli", *argv])
        assert fresh.returncode == 0, fresh.stderr[-3000:]
    other = train_args(synth_dataset, tiny_internvl, tmp_path / "c", *short, "--seed", 1)
    code, _, err = run_cli(other)
    assert code == 0, err

    weights_a, metrics_a = _weights_and_metrics(tmp_path / "a")
    weights_b, metrics_b = _weights_and_metrics(tmp_path / "b")
    weights_c, _ = _weights_and_metrics(tmp_path / "c")
    assert metrics_a == metrics_b
    assert set(weights_a) == set(weights_b) == set(weights_c)
    for key in weights_a:
        torch.testing.assert_close(weights_a[key], weights_b[key], rtol=0, atol=0)
    differ = [k for k in weights_a if not torch.equal(weights_a[k], weights_c[k])]
    assert any("lora_A" in k for k in differ) and any("classifier" in k for k in differ)


def _without_validation(dataset: Path) -> None:
    """The dataset's validation clips move to train, as in iMiGUE's protocol."""
    rows = [json.loads(line) for line in (dataset / "clips.jsonl").read_text().splitlines()]
    for row in rows:
        if row["split"] == "validation":
            row["split"] = "train"
    (dataset / "clips.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    info = json.loads((dataset / "dataset.json").read_text())
    info["splits"] = {"train": 24, "test": 6}
    (dataset / "dataset.json").write_text(json.dumps(info))


def test_training_without_a_validation_split_keeps_the_last_epoch(
    copy_dataset, synth_dataset, tiny_internvl, text_cache, tmp_path
):
    dataset = copy_dataset()
    _without_validation(dataset)
    short = ["--epochs", 2, "--stage1-epochs", 1, "--text-cache", text_cache]
    code, stdout, err = run_cli(train_args(dataset, tiny_internvl, tmp_path / "imigue", *short))
    assert code == 0, err
    assert "no validation split: the last epoch's weights" in stdout
    metrics = json.loads((tmp_path / "imigue" / "metrics.json").read_text())
    assert metrics["model_selection"] == "last epoch (no validation split)"
    assert metrics["validation"] is None and metrics["best_checkpoint"] is None
    assert metrics["test"]["clips"] == 6
    assert metrics["global_step"] == 2 * 4  # 24 training clips, 6 a step
    # the weights are the last checkpoint's
    last = tmp_path / "imigue" / "checkpoints" / "checkpoint-8" / "model.safetensors"
    final, saved = load_file(tmp_path / "imigue" / "weights.safetensors"), load_file(last)
    for key in final:
        torch.testing.assert_close(final[key], saved[key], rtol=0, atol=0)
    # --val-split none on a dataset that has one does the same
    code, _, err = run_cli(
        train_args(synth_dataset, tiny_internvl, tmp_path / "none", *short, "--val-split", "none")
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "none" / "metrics.json").read_text())
    assert metrics["model_selection"] == "last epoch (no validation split)"
    # a named split that does not exist is still an error
    result = run_cli(
        train_args(dataset, tiny_internvl, tmp_path / "x", *short, "--val-split", "validation")
    )
    _assert_one_line_error(result, "the split 'validation' has no clips")


def test_two_nodes_that_do_not_share_out_are_refused(
    synth_dataset, tiny_internvl, text_cache, tmp_path
):
    """Two processes started as two nodes would be (RANK 0 and 1, each LOCAL_RANK 0), each with
    its own local folder: both stop with one sentence before writing anything."""
    port = str(_free_port())
    procs = []
    for rank in (0, 1):
        env = {
            **os.environ, "RANK": str(rank), "LOCAL_RANK": "0", "WORLD_SIZE": "2",
            "LOCAL_WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
            "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
        }  # fmt: skip
        out = tmp_path / f"node{rank}" / "run"
        argv = [
            "-m",
            "training.cli",
            *train_args(synth_dataset, tiny_internvl, out, "--batch-size", 3),
        ]
        procs.append(
            subprocess.Popen(
                [sys.executable, *map(str, argv)],
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 1, err[-3000:]
        last = err.strip().splitlines()[-1]
        assert last.startswith("error: --out ") and "rank 1 on" in last, err[-3000:]
        assert "filesystem that every node mounts" in last
    assert not (tmp_path / "node0" / "run" / "config.json").exists()
    assert not (tmp_path / "node1" / "run" / "config.json").exists()


# -- DeepSpeed ZeRO-2: one process, and two under torchrun (gloo) --------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _subprocess(argv: list) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return subprocess.run(
        [sys.executable, *map(str, argv)], env=env, capture_output=True, text=True, timeout=400
    )


def _torchrun_two(args: list) -> subprocess.CompletedProcess:
    """`fgsgl-train ARGS` as two processes under torchrun (gloo on CPU)."""
    return _subprocess(
        ["-m", "torch.distributed.run", "--nproc_per_node", 2, "--master_port", _free_port(),
         "-m", "training.cli", *args]
    )  # fmt: skip


@pytest.mark.slow
def test_deepspeed_zero2_single_process_with_resume(
    synth_dataset, tiny_internvl, text_cache, tmp_path
):
    out = tmp_path / "ds1"
    args = train_args(
        synth_dataset, tiny_internvl, out, "--epochs", 2, "--stage1-epochs", 1,
        "--deepspeed", "zero2",
    )  # fmt: skip
    first = _subprocess(["-m", "training.cli", *args, "--stop-after-epochs", 1])
    assert first.returncode == 0, first.stderr[-3000:]
    checkpoint = out / "checkpoints" / f"checkpoint-{STEPS_PER_EPOCH}"
    assert any(p.name.startswith("global_step") for p in checkpoint.iterdir())  # DeepSpeed's
    second = _subprocess(["-m", "training.cli", *args, "--resume", "latest"])
    assert second.returncode == 0, second.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == 2 * STEPS_PER_EPOCH
    assert len(training_logs(out)) == 2 * STEPS_PER_EPOCH
    assert terms_by_epoch(out) == {1: {"cls", "cp"}, 2: {"cls", "cp", "fg"}}
    code, stdout, err = run_cli(["evaluate", out, synth_dataset, "--split", "validation", "--json"])
    assert code == 0, err
    assert (
        json.loads(stdout)["validation"]["confusion_matrix"]
        == metrics["validation"]["confusion_matrix"]
    )


@pytest.mark.slow
def test_deepspeed_zero2_two_processes_under_torchrun(
    synth_dataset, tiny_internvl, text_cache, tmp_path
):
    out = tmp_path / "ds2"
    args = train_args(
        synth_dataset, tiny_internvl, out, "--epochs", 2, "--stage1-epochs", 1,
        "--deepspeed", "zero2", "--batch-size", 3,
    )  # fmt: skip
    result = _torchrun_two(args)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    optim = json.loads((out / "config.json").read_text())["optim"]
    # --global-batch 6 over 2 processes of 3 clips: accumulation 1, derived from the world size
    assert (optim["world_size"], optim["grad_accum"], optim["global_batch"]) == (2, 1, 6)
    assert metrics["validation"]["clips"] == metrics["test"]["clips"] == 6
    # 18 clips over 2 ranks x 3 clips: each rank reads its own half, 3 steps an epoch
    assert metrics["global_step"] == 2 * STEPS_PER_EPOCH
    assert len(training_logs(out)) == 2 * STEPS_PER_EPOCH  # logged once, by rank 0
    assert terms_by_epoch(out) == {1: {"cls", "cp"}, 2: {"cls", "cp", "fg"}}
    assert result.stdout.count("best checkpoint:") == 1


@pytest.mark.slow
def test_two_processes_without_deepspeed_train_as_one_and_score_every_clip(
    synth_dataset, tiny_internvl, text_cache, tmp_path
):
    """torchrun on CPU (gloo DDP): the model is wrapped in DDP and evaluation gathers every
    rank's clips (6 validation and 6 test clips over 2 ranks in batches of 4: one rank's last
    batch is padded, and the padding is dropped again)."""
    out = tmp_path / "ddp2"
    args = train_args(
        synth_dataset, tiny_internvl, out, "--epochs", 2, "--stage1-epochs", 1,
        "--batch-size", 3,
    )  # fmt: skip
    result = _torchrun_two(args)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == 2 * STEPS_PER_EPOCH
    assert metrics["validation"]["clips"] == metrics["test"]["clips"] == 6
    code, stdout, err = run_cli(["evaluate", out, synth_dataset, "--split", "test", "--json"])
    assert code == 0, err
    evaluated = json.loads(stdout)["test"]
    assert evaluated["confusion_matrix"] == metrics["test"]["confusion_matrix"]


@pytest.mark.slow
def test_a_rank_whose_evaluation_batch_failed_to_decode_neither_hangs_nor_crashes(
    copy_dataset, tiny_internvl, text_cache, tmp_path
):
    """Evaluation in batches of 1 over 2 ranks, and one validation clip that does not decode:
    a rank's batch is empty while the other's is not. Every rank still returns one row per
    clip, so the gathers match; the broken clip is counted, not scored."""
    from fgtext.dataset import open_dataset

    dataset = copy_dataset()
    broken = next(open_dataset(dataset).clips("validation"))
    (dataset / broken.video).write_bytes(b"not a video")
    out = tmp_path / "broken"
    args = train_args(
        dataset, tiny_internvl, out, "--epochs", 1, "--stage1-epochs", 1, "--batch-size", 3,
        "--eval-batch-size", 1, "--text-cache", text_cache,
    )  # fmt: skip
    result = _torchrun_two(args)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["validation"]["clips"] == 5 and metrics["test"]["clips"] == 6
    assert np.array(metrics["validation"]["confusion_matrix"]).sum() == 5
    assert broken.clip_id in metrics["skipped_clips"]["reasons"]
