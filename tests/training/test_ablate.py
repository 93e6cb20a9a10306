"""`fgsgl-train ablate`: a 2-variant x 2-seed grid end to end on the tiny model, stopped and
resumed; its intervals against hand computations."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fgtext.errors import FgTextError
from tests.training.test_train import FAST, run_cli
from training import ablate

TRAIN = [a for i, a in enumerate(FAST) if "--seed" not in FAST[max(i - 1, 0) : i + 1]]
# Student-t quantiles t_{0.975, df}, from tables: df 1 and 2
T_975 = {1: 12.706204736174707, 2: 4.302652729911275}


def test_t_interval_equals_a_hand_computation():
    stats = ablate.t_interval([0.5, 0.6, 0.7])
    # mean 0.6, s = sqrt((0.01 + 0 + 0.01) / 2) = 0.1, half-width t * s / sqrt(3)
    half = T_975[2] * 0.1 / math.sqrt(3)
    assert stats["n"] == 3 and stats["mean"] == pytest.approx(0.6)
    assert stats["sd"] == pytest.approx(0.1)
    assert stats["ci95"] == pytest.approx([0.6 - half, 0.6 + half])
    assert half == pytest.approx(0.248414, abs=1e-6)
    assert ablate.t_interval([0.4])["ci95"] is None
    assert ablate.t_interval([])["mean"] is None


def test_grid_seeds_variants_and_shards():
    assert ablate.parse_seeds("0-2,7") == [0, 1, 2, 7]
    assert ablate.parse_variants("no-cp-a, full") == ["no-cp-a", "full"]
    grid = ablate.plan(Path("o"), ["full", "no-fg-sa"], [0, 1, 2])
    assert [(r.variant, r.seed) for r in grid][:3] == [("full", 0), ("no-fg-sa", 0), ("full", 1)]
    shards = [ablate.shard_of(grid, (i, 2)) for i in (1, 2)]
    assert sorted(r.folder for s in shards for r in s) == sorted(r.folder for r in grid)
    assert not set(shards[0]) & set(shards[1])
    assert grid[3].folder == Path("o/no-fg-sa/seed-1")
    for bad, call in [
        ("seeds", lambda: ablate.parse_seeds("a")),
        ("seeds", lambda: ablate.parse_seeds("3-1")),
        ("unknown variant 'nope'", lambda: ablate.parse_variants("full,nope")),
        ("shard", lambda: ablate.parse_shard("3/2")),
        ("shard", lambda: ablate.parse_shard("x")),
    ]:
        with pytest.raises(FgTextError, match=bad):
            call()


def _ablate_argv(dataset, model, out, *extra) -> list[str]:
    return [
        "ablate", str(dataset), "--model", str(model), "--out", str(out), "--seeds", "0,1",
        "--variants", "full,no-fg-sa", *extra,
        "--", *TRAIN, "--epochs", "2", "--stage1-epochs", "1",
    ]  # fmt: skip


@pytest.mark.slow
def test_ablate_runs_a_grid_resumes_after_a_stop_and_reports_intervals(
    synth_dataset, tiny_internvl, text_cache, tmp_path
):
    out = tmp_path / "grid"
    code, stdout, err = run_cli(_ablate_argv(synth_dataset, tiny_internvl, out, "--dry-run"))
    assert code == 0, err
    lines = stdout.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("start: fgsgl-train train ") for line in lines)
    assert "--no-fg-sa --seed 1" in lines[3] and "--epochs 2" in lines[3]
    assert not out.exists()  # a dry run starts nothing

    # start the grid in another process and stop it once its first run has finished
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "training.cli", *_ablate_argv(synth_dataset, tiny_internvl, out)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    first = out / "full" / "seed-0" / "metrics.json"
    deadline = time.monotonic() + 300
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert first.exists()
    first_written = first.stat().st_mtime_ns
    assert not (out / "ablation.json").exists()

    code, stdout, err = run_cli(_ablate_argv(synth_dataset, tiny_internvl, out, "--dry-run"))
    assert code == 0, err
    assert stdout.splitlines()[0].startswith("skip (finished): ")

    code, stdout, err = run_cli(_ablate_argv(synth_dataset, tiny_internvl, out))
    assert code == 0, err
    assert "full seed 0: skipped: finished" in err
    assert first.stat().st_mtime_ns == first_written  # the finished run was not trained again

    report = json.loads((out / "ablation.json").read_text())
    assert report["runs_finished"] == report["runs_planned"] == 4
    top1 = {
        (v, s): json.loads((out / v / f"seed-{s}" / "metrics.json").read_text())["test"]["top1"]
        for v in ("full", "no-fg-sa")
        for s in (0, 1)
    }
    for variant in ("full", "no-fg-sa"):
        values = [top1[variant, 0], top1[variant, 1]]
        mean = (values[0] + values[1]) / 2
        sd = abs(values[0] - values[1]) / math.sqrt(2)  # n = 2: s = |a - b| / sqrt(2)
        half = T_975[1] * sd / math.sqrt(2)
        entry = report["variants"][variant]
        assert entry["n"] == 2 and entry["mean"] == pytest.approx(mean)
        assert entry["ci95"] == pytest.approx([mean - half, mean + half])
    diffs = [top1["no-fg-sa", s] - top1["full", s] for s in (0, 1)]
    paired = report["variants"]["no-fg-sa"]["difference_to_full"]
    half = T_975[1] * (abs(diffs[0] - diffs[1]) / math.sqrt(2)) / math.sqrt(2)
    assert paired["seeds"] == [0, 1] and paired["mean"] == pytest.approx(sum(diffs) / 2)
    assert paired["ci95"] == pytest.approx([sum(diffs) / 2 - half, sum(diffs) / 2 + half])
    # every run is a real train run with its variant's switches
    config = json.loads((out / "no-fg-sa" / "seed-1" / "config.json").read_text())
    assert config["loss"]["fg_sa"] is False and config["optim"]["seed"] == 1
    table = (out / "ablation.md").read_text()
    assert "| full |" in table and "| no-fg-sa |" in table and "fgsgl-train ablate" in table
    assert (out / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the same grid again trains nothing; --report-only rewrites the report
    code, _, err = run_cli(_ablate_argv(synth_dataset, tiny_internvl, out, "--report-only"))
    assert code == 0, err
    assert first.stat().st_mtime_ns == first_written


def test_ablate_refuses_options_it_sets_itself(synth_dataset, tiny_internvl, tmp_path):
    code, _, err = run_cli(
        ["ablate", synth_dataset, "--model", tiny_internvl, "--out", tmp_path, "--", "--seed", "3"]
    )
    assert code == 1 and "ablate sets --seed of each run itself" in err
    code, _, err = run_cli(
        ["ablate", synth_dataset, "--model", tiny_internvl, "--seeds", "x", "--dry-run"]
    )
    assert code == 1 and "--seeds 'x'" in err


def test_ablate_on_a_folder_that_is_no_dataset_is_one_error(tiny_internvl, tmp_path):
    code, _, err = run_cli(["ablate", tmp_path, "--model", tiny_internvl, "--out", tmp_path / "o"])
    assert code == 1 and "not an FG-Text dataset" in err and not (tmp_path / "o").exists()


def test_ablate_under_a_launcher_is_refused(synth_dataset, tiny_internvl, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, _, err = run_cli(["ablate", synth_dataset, "--model", tiny_internvl, "--dry-run"])
    assert code == 1 and "one process each" in err and "--shard" in err
