"""training.backbones: the tiny InternVL factory, loading, f_mid/f_high, presets, LoRA targets."""

from __future__ import annotations

import re

import pytest
import torch

from fgtext.errors import FgTextError
from training.backbones import (
    LORA_TARGET_REGEX,
    VisionBackbone,
    internvl_config,
    load_internvl,
    lora_target_modules,
    make_tiny_internvl,
)


@pytest.fixture(scope="module")
def tiny_model(tiny_internvl):
    return load_internvl(tiny_internvl).eval()


@pytest.fixture(scope="module")
def pixels():
    return torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def test_features_match_the_models_own_paths(tiny_model, pixels):
    backbone = VisionBackbone(tiny_model).eval()
    assert (backbone.mid_layer, backbone.image_size) == (2, 64)
    assert (backbone.vision_hidden_size, backbone.llm_hidden_size) == (64, 64)
    with torch.no_grad():
        f_mid, f_high = backbone(pixels)
        # independently: every hidden state of the tower, and InternVL's image-feature path
        tower = tiny_model.model.vision_tower(pixel_values=pixels, output_hidden_states=True)
        image_features = tiny_model.get_image_features(pixel_values=pixels).pooler_output
    assert len(tower.hidden_states) == 5  # the embeddings + 4 layers
    expected_mid = tower.hidden_states[2][:, 1:].mean(dim=1)  # patch tokens, CLS dropped
    assert f_mid.shape == (3, 64) and f_high.shape == (3, 64)
    torch.testing.assert_close(f_mid, expected_mid)
    assert image_features.shape == (3, 16, 64)  # 8x8 patches, pixel-shuffled to 4x4
    torch.testing.assert_close(f_high, image_features.mean(dim=1))
    # the frames differ, so must their features (guards against a constant output)
    assert not torch.allclose(f_mid[0], f_mid[1])


def test_mid_layer_is_configurable_and_checked(tiny_model, pixels):
    backbone = VisionBackbone(tiny_model, mid_layer=3).eval()
    with torch.no_grad():
        f_mid, _ = backbone(pixels)
        tower = tiny_model.model.vision_tower(pixel_values=pixels, output_hidden_states=True)
    torch.testing.assert_close(f_mid, tower.hidden_states[3][:, 1:].mean(dim=1))
    with pytest.raises(FgTextError, match=r"mid layer 5 is out of range; expected 1\.\.4"):
        VisionBackbone(tiny_model, mid_layer=5)


def test_backbone_holds_no_language_model(tiny_model):
    backbone = VisionBackbone(tiny_model)
    names = {name for name, _ in backbone.named_parameters()}
    assert names and not any("language_model" in n or "lm_head" in n for n in names)
    vision_and_projector = sum(
        p.numel()
        for module in (tiny_model.model.vision_tower, tiny_model.model.multi_modal_projector)
        for p in module.parameters()
    )
    assert sum(p.numel() for p in backbone.parameters()) == vision_and_projector


def test_save_and_load_gives_identical_features(tiny_internvl, tmp_path, pixels):
    again = make_tiny_internvl(tmp_path / "again", image_size=64)  # same seed, same weights
    first = VisionBackbone(load_internvl(tiny_internvl)).eval()
    model = load_internvl(again)
    model.save_pretrained(tmp_path / "resaved")
    second = VisionBackbone(load_internvl(tmp_path / "resaved")).eval()
    with torch.no_grad():
        for a, b in zip(first(pixels), second(pixels), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_vision_only_loading_skips_the_language_layers(tiny_internvl, tiny_model, pixels, capfd):
    light = load_internvl(tiny_internvl, vision_only=True)
    assert len(light.model.language_model.layers) == 0
    assert "UNEXPECTED" not in capfd.readouterr().err  # the skipped layers are not reported
    full_size = sum(p.numel() for p in tiny_model.parameters())
    assert sum(p.numel() for p in light.parameters()) < full_size
    with torch.no_grad():
        for a, b in zip(
            VisionBackbone(light).eval()(pixels), VisionBackbone(tiny_model)(pixels), strict=True
        ):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_tiny_checkpoint_has_a_real_tokenizer(tiny_internvl):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_internvl, local_files_only=True)
    text = "The right hand rubs the eyes with a back-and-forth movement."
    ids = tokenizer(text).input_ids
    assert tokenizer.decode(ids) == text  # byte-level BPE round-trips
    assert len(ids) < len(text) / 2  # learned merges, not one token per character
    assert tokenizer.pad_token == "<pad>"


def test_dtype_is_honoured(tiny_internvl, pixels):
    backbone = VisionBackbone(load_internvl(tiny_internvl, dtype=torch.bfloat16)).eval()
    with torch.no_grad():
        f_mid, f_high = backbone(pixels)  # float32 pixels are cast to the model's dtype
    assert f_mid.dtype == f_high.dtype == torch.bfloat16


def test_lora_regex_selects_vision_attention_and_mlp_only(tiny_model):
    names = lora_target_modules(tiny_model)
    expected = [
        f"model.vision_tower.encoder.layer.{i}.{leaf}"
        for i in range(4)
        for leaf in (
            "attention.q_proj",
            "attention.k_proj",
            "attention.v_proj",
            "attention.projection_layer",
            "mlp.fc1",
            "mlp.fc2",
        )
    ]
    assert names == expected
    assert all(isinstance(tiny_model.get_submodule(n), torch.nn.Linear) for n in names)
    # the language model's attention and MLP have look-alike names: none may match
    pattern = re.compile(LORA_TARGET_REGEX)
    llm = [n for n, _ in tiny_model.named_modules() if "language_model" in n]
    assert any(n.endswith("self_attn.q_proj") for n in llm)
    assert not any(pattern.fullmatch(n) for n in llm)


def test_peft_lora_on_the_backbone_trains_only_vision_adapters(tiny_internvl, pixels):
    from peft import LoraConfig, get_peft_model

    backbone = VisionBackbone(load_internvl(tiny_internvl))
    peft_model = get_peft_model(backbone, LoraConfig(r=8, target_modules=LORA_TARGET_REGEX))
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert len(trainable) == 4 * 6 * 2  # 6 layers a block, lora_A and lora_B each
    assert all("vision_tower.encoder.layer" in n and "lora_" in n for n in trainable)
    f_mid, f_high = peft_model(pixels)
    (f_mid.sum() + f_high.sum()).backward()
    assert all(p.grad is not None for n, p in peft_model.named_parameters() if p.requires_grad)


def test_presets():
    big = internvl_config("internvl2.5-8b")
    vision, text = big.vision_config, big.text_config
    assert (vision.num_hidden_layers, vision.hidden_size, vision.num_attention_heads) == (
        24,
        1024,
        16,
    )
    assert (vision.intermediate_size, vision.patch_size, vision.image_size) == (
        4096,
        [14, 14],
        [448, 448],
    )
    assert big.downsample_ratio == 0.5
    assert text.model_type == "llama"
    assert (text.num_hidden_layers, text.hidden_size, text.intermediate_size) == (32, 4096, 14336)
    assert (text.num_attention_heads, text.num_key_value_heads, text.vocab_size) == (32, 8, 92553)
    tiny = internvl_config("tiny", image_size=32)
    assert tiny.vision_config.image_size == [32, 32] and tiny.image_seq_length == 4
    with pytest.raises(FgTextError, match="unknown InternVL preset 'internvl9'"):
        internvl_config("internvl9")
    with pytest.raises(FgTextError, match="image size 60 must be an even multiple"):
        internvl_config("tiny", image_size=60)


def test_load_refuses_a_folder_without_a_checkpoint(tmp_path):
    with pytest.raises(FgTextError, match=r"is not a model folder: expected a config\.json"):
        load_internvl(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(FgTextError, match="holds a 'bert' model; expected a transformers-native"):
        load_internvl(tmp_path)
