"""The FG-SGL model: what it loads, what trains, what it computes, what a run saves, its FLOPs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode
from transformers import InternVLConfig

from fgtext.errors import FgTextError
from training.backbones import VisionBackbone, load_internvl
from training.losses import LossWeights, class_prototype_loss, fine_grained_loss
from training.model import (
    FgSglModel,
    ModelConfig,
    estimate_mfu,
    forward_flops_per_frame,
    load_trainable_state,
    load_vision_backbone,
    peak_flops,
    trainable_state_dict,
    training_flops_per_clip,
)

NUM_CLASSES, TEXT_DIM = 5, 64


def _model(checkpoint, *, weights=None, seed=0, config=None) -> FgSglModel:
    torch.manual_seed(seed)
    classes = torch.randn(NUM_CLASSES, TEXT_DIM)
    return FgSglModel(
        load_vision_backbone(checkpoint), class_text_embeddings=classes, weights=weights,
        config=config,
    )  # fmt: skip


def _frames(batch=3, steps=2, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, steps, 3, 64, 64), dtype=torch.uint8, generator=generator)


def test_vision_backbone_loads_like_the_full_model_without_the_language_model(tiny_internvl):
    reference = VisionBackbone(load_internvl(tiny_internvl))
    backbone = load_vision_backbone(tiny_internvl)
    pixels = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for ours, theirs in zip(backbone(pixels), reference(pixels), strict=True):
            torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    names = [name for name, _ in backbone.named_parameters()]
    assert not [n for n in names if "language_model" in n or "lm_head" in n]
    assert sum(p.numel() for p in backbone.parameters()) == sum(
        p.numel() for p in reference.parameters()
    )


def test_wrong_checkpoint_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FgTextError, match=r"not a model folder: expected a config\.json"):
        load_vision_backbone(tmp_path)


def test_only_lora_projector_heads_and_temperatures_train(tiny_internvl):
    model = _model(tiny_internvl)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    lora = {n for n in trainable if ".lora_" in n}
    # 4 layers x (q, k, v, output projection, fc1, fc2) x (A, B)
    assert len(lora) == 4 * 6 * 2
    assert all(n.startswith("backbone.vision_tower.encoder.layer.") for n in lora)
    assert {n for n in trainable if n.startswith("backbone.multi_modal_projector.")} == {
        f"backbone.multi_modal_projector.{p}"
        for p in ("layer_norm.weight", "layer_norm.bias", "linear_1.weight", "linear_1.bias",
                  "linear_2.weight", "linear_2.bias")
    }  # fmt: skip
    rest = trainable - lora - {n for n in trainable if "multi_modal_projector" in n}
    assert {n.split(".")[0] for n in rest} == {
        "classifier",
        "mid_to_text",
        "logit_scale_fg",
        "logit_scale_cp",
    }
    # the tower's own weights are frozen
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert "backbone.vision_tower.encoder.layer.0.attention.q_proj.base_layer.weight" in frozen
    assert "backbone.vision_tower.embeddings.patch_embeddings.projection.weight" in frozen
    assert model.config.lora_rank == 8
    lora_a = dict(model.named_parameters())[
        "backbone.vision_tower.encoder.layer.0.attention.q_proj.lora_A.default.weight"
    ]
    assert lora_a.shape[0] == 8


def test_frames_are_mean_pooled_over_time(tiny_internvl):
    model = _model(tiny_internvl).eval()
    frames = _frames(batch=1, steps=3)
    with torch.no_grad():
        f_mid, f_high = model.encode(frames)
        per_frame = [model.encode(frames[:, t : t + 1]) for t in range(3)]
    torch.testing.assert_close(f_mid, torch.stack([m for m, _ in per_frame]).mean(0))
    torch.testing.assert_close(f_high, torch.stack([h for _, h in per_frame]).mean(0))


def test_forward_terms_are_the_loss_functions_and_the_total_is_weighted(tiny_internvl):
    weights = LossWeights(fg=0.5, cp=0.25)
    model = _model(tiny_internvl, weights=weights).eval()
    frames, labels = _frames(), torch.tensor([0, 3, 3])
    texts = torch.randn(3, TEXT_DIM)
    texts[2] = texts[1]  # two clips with the same FG-Text
    with torch.no_grad():
        out = model(frames, labels=labels, text_embeddings=texts)
        f_mid, f_high = model.encode(frames)
        scale = math.exp(math.log(1 / 0.07))
        expected = {
            "cls": F.cross_entropy(model.classifier(f_high), labels),
            "cp": class_prototype_loss(f_high, model.class_texts, labels, torch.tensor(scale)),
            "fg": fine_grained_loss(model.mid_to_text(f_mid), texts, torch.tensor(scale)),
        }
    assert set(out["terms"]) == {"cls", "cp", "fg"}
    for name, value in expected.items():
        torch.testing.assert_close(out["terms"][name], value, rtol=1e-5, atol=1e-5)
    total = expected["cls"] + 0.5 * expected["fg"] + 0.25 * expected["cp"]
    torch.testing.assert_close(out["loss"], total, rtol=1e-5, atol=1e-5)


def test_switches_leave_terms_out_and_the_temperature_is_clamped(tiny_internvl):
    model = _model(tiny_internvl).eval()
    frames, labels = _frames(), torch.tensor([0, 1, 2])
    model.use_fg = False
    with torch.no_grad():
        model.logit_scale_cp.fill_(math.log(1000.0))  # beyond CLIP's clamp of 100
        out = model(frames, labels=labels)
        _, f_high = model.encode(frames)
        clamped = class_prototype_loss(f_high, model.class_texts, labels, torch.tensor(100.0))
    assert set(out["terms"]) == {"cls", "cp"}
    torch.testing.assert_close(out["terms"]["cp"], clamped, rtol=1e-5, atol=1e-5)
    no_cp = _model(tiny_internvl, weights=LossWeights(fg=0.0, cp=0.0)).eval()
    with torch.no_grad():
        assert set(no_cp(frames, labels=labels)["terms"]) == {"cls"}


def test_text_space_projection_appears_only_when_widths_differ(tiny_internvl):
    torch.manual_seed(0)
    narrow = FgSglModel(
        load_vision_backbone(tiny_internvl), class_text_embeddings=torch.randn(NUM_CLASSES, 32)
    )
    assert isinstance(narrow.high_to_text, torch.nn.Linear)
    assert narrow.high_to_text.out_features == 32
    assert isinstance(_model(tiny_internvl).high_to_text, torch.nn.Identity)


def test_trainable_state_round_trip_gives_identical_logits(tiny_internvl):
    trained = _model(tiny_internvl, seed=0)
    with torch.no_grad():  # move every trainable weight and the head's statistics
        for p in trained.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
        trained.classifier[0].running_mean.add_(0.5)
        trained.classifier[0].running_var.mul_(2.0)
    state = trainable_state_dict(trained)
    assert all(".base_layer." not in k and "embeddings" not in k for k in state)
    assert {"classifier.0.running_mean", "classifier.0.running_var"} <= set(state)
    fresh = _model(tiny_internvl, seed=0)
    load_trainable_state(fresh, state, "test weights")
    frames = _frames()
    with torch.no_grad():
        torch.testing.assert_close(
            fresh.eval()(frames)["logits"], trained.eval()(frames)["logits"], rtol=0, atol=0
        )
    with pytest.raises(FgTextError, match="does not fit this model: 1 weights missing"):
        load_trainable_state(fresh, {k: v for k, v in state.items() if k != "logit_scale_fg"}, "x")


def test_unknown_fg_loss_mode_is_a_clear_error():
    with pytest.raises(FgTextError, match="unknown L_fg mode 'supcon'"):
        ModelConfig(fg_loss="supcon")


def test_flop_estimate_matches_pytorchs_flop_counter(tiny_internvl):
    config = InternVLConfig.from_pretrained(tiny_internvl)
    model = _model(tiny_internvl)
    backbone = model.backbone
    # eager attention: the counter does not see CPU's fused SDPA kernel, it sees matmuls
    backbone.vision_tower.set_attn_implementation("eager")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        backbone(torch.randn(1, 3, 64, 64))
    lora = training_flops_per_clip(config, 1) - training_flops_per_clip(config, 1, lora_rank=0)
    assert forward_flops_per_frame(config) + lora / 3 == pytest.approx(
        counter.get_total_flops(), rel=0.005
    )
    frames, labels = _frames(batch=2, steps=4), torch.tensor([0, 1])
    texts = torch.randn(2, TEXT_DIM)
    with FlopCounterMode(display=False) as counter:
        model(frames, labels=labels, text_embeddings=texts)["loss"].backward()
    # attention's backward counts twice, LoRA's products three times (forward, both
    # gradients). The estimate is 2 % high here: layer 0's input needs no gradient (the
    # patch embedding is frozen), so PyTorch skips those of its q, k and v.
    assert training_flops_per_clip(config, 4) == pytest.approx(
        counter.get_total_flops() / 2, rel=0.03
    )


def test_text_encoder_flops_match_pytorchs_flop_counter():
    from transformers import AutoModel

    from training.backbones import internvl_config
    from training.model import text_encoder_flops

    text_config = internvl_config("tiny").text_config
    encoder = AutoModel.from_config(text_config, attn_implementation="eager").eval()
    tokens = torch.randint(0, text_config.vocab_size, (1, 24))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        encoder(input_ids=tokens)
    assert text_encoder_flops(text_config, 24) == pytest.approx(counter.get_total_flops(), rel=0.02)


def test_mfu_uses_the_devices_bf16_peak():
    assert peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_flops("NVIDIA H100 PCIe") == 756e12
    assert peak_flops("NVIDIA H200") == 989e12
    assert peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert peak_flops("cpu") is None
    from training.backbones import internvl_config

    config = internvl_config("internvl2.5-8b")
    per_clip = training_flops_per_clip(config, 8)
    # InternViT-300M at 448 px: ~0.3 G weights x 1025 tokens x 2 + attention ≈ 0.7 TFLOP/frame
    assert 0.6e12 < forward_flops_per_frame(config) < 0.85e12
    assert estimate_mfu(config, 8, 10.0, "NVIDIA H100 80GB HBM3") == pytest.approx(
        per_clip * 10 / 989e12
    )
    assert estimate_mfu(config, 8, 10.0, "cpu") is None


def test_no_weight_decay_on_biases_norms_and_temperatures(tiny_internvl, tmp_path):
    from transformers import TrainingArguments

    from training.trainer import FgSglTrainer

    model = _model(tiny_internvl)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    trainer = FgSglTrainer(model=model, args=args)
    decayed = set(trainer.get_decay_parameter_names(model))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {"logit_scale_fg", "logit_scale_cp"}.isdisjoint(decayed)
    assert not [n for n in trainable & decayed if n.endswith(".bias")]
    assert "backbone.multi_modal_projector.layer_norm.weight" not in decayed
    assert "mid_to_text.0.weight" not in decayed  # a LayerNorm
    assert {
        "classifier.1.weight",
        "mid_to_text.1.weight",
        "backbone.multi_modal_projector.linear_1.weight",
        "backbone.vision_tower.encoder.layer.0.attention.q_proj.lora_A.default.weight",
    } <= decayed


def test_activation_checkpointing_gives_the_same_gradients(tiny_internvl):
    frames, labels = _frames(batch=2), torch.tensor([0, 1])
    texts = torch.randn(2, TEXT_DIM)
    grads = []
    for checkpointing in (False, True):
        model = _model(tiny_internvl, config=ModelConfig(activation_checkpointing=checkpointing))
        model.train()
        assert model.backbone.vision_tower.is_activation_checkpointing == checkpointing
        with torch.no_grad():  # LoRA's B starts at zero: give the adapters an effect
            for name, p in model.named_parameters():
                if ".lora_B." in name:
                    p.normal_(std=0.1, generator=torch.Generator().manual_seed(len(name)))
        for module in model.modules():  # dropout off: the two passes must see the same network
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        model(frames, labels=labels, text_embeddings=texts)["loss"].backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    assert any(".lora_A." in n for n in grads[1])
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6)


def test_an_empty_batch_gives_a_zero_loss_that_reaches_every_trainable_weight(tiny_internvl):
    """Every clip of a batch failed to decode: the step still runs (and, under several ranks,
    the rank still joins L_fg's gathers: tests/training/test_losses.py)."""
    model = _model(tiny_internvl).train()
    empty = torch.empty(0, dtype=torch.uint8)
    out = model(empty, labels=torch.empty(0, dtype=torch.long))
    assert out["logits"] is None and out["terms"] == {} and out["loss"].item() == 0.0
    out["loss"].backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None and not p.grad.any() for p in trainable)
    assert model(empty)["logits"] is None
