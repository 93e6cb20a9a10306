"""`fgsgl-train bench`: both set-ups timed at the tiny size on CPU, JSON and table output."""

from __future__ import annotations

import json

import pytest

from tests.training.test_train import run_cli
from training.backbones import internvl_config
from training.model import text_encoder_flops, training_flops_per_clip


def test_bench_json_reports_both_setups_at_the_tiny_size():
    code, out, err = run_cli(
        ["bench", "--arch", "tiny", "--batch-size", "4", "--frames", "2", "--steps", "2",
         "--warmup", "1", "--device", "cpu", "--json"]
    )  # fmt: skip
    assert code == 0, err
    results = json.loads(out)
    assert [r["setup"] for r in results] == ["cached text", "LLM text encoder"]
    for r in results:
        assert r["arch"] == "tiny" and r["device"] == "cpu"
        assert (r["batch_size"], r["frames"], r["image_size"], r["steps"]) == (4, 2, 64, 2)
        assert r["clips_per_second"] > 0
        assert r["ms_per_step"] == pytest.approx(1000 * r["batch_size"] / r["clips_per_second"])
    config = internvl_config("tiny")
    cached, llm = results
    assert cached["tflops_per_clip"] == pytest.approx(training_flops_per_clip(config, 2) / 1e12)
    # the baseline also runs its LLM over each clip's T_fg (24 tokens); the class texts once
    assert llm["tflops_per_clip"] == pytest.approx(
        (training_flops_per_clip(config, 2) + text_encoder_flops(config.text_config, 24)) / 1e12
    )
    for r in results:
        assert r["mfu"] is None  # no known peak on a CPU
        assert r["peak_memory_gib"] > 0 and r["memory_kind"] == "process peak RSS"


def test_bench_table_and_bad_arguments():
    code, out, err = run_cli(
        ["bench", "--batch-size", "2", "--frames", "1", "--steps", "1", "--warmup", "0",
         "--no-baseline", "--device", "cpu"]
    )  # fmt: skip
    assert code == 0, err
    assert "cached text" in out and "LLM text encoder" not in out and "clips/s" in out
    code, _, err = run_cli(["bench", "--arch", "internvl-9000", "--device", "cpu"])
    assert code == 1 and "unknown InternVL preset 'internvl-9000'" in err
    code, _, err = run_cli(["bench", "--batch-size", "1", "--device", "cpu"])
    assert code == 1 and "batch size >= 2" in err
