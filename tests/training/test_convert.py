"""fgsgl-train convert-internvl: OpenGVLab's remote-code InternVL2.5 format → native transformers.

The source checkpoint is written here the way OpenGVLab's `InternVLChatModel` stores one (an
InternViT vision tower with fused qkv, an InternLM2 LLM with grouped `wqkv`, the `mlp1`
projector, a SentencePiece tokenizer), with random values. The converted model is checked
against the remote code's semantics, computed here from the source tensors: InternViT's qkv rows
are (q | k | v); InternLM2's wqkv rows are, per key/value head, its query heads then its key then
its value, so query head h must meet key/value head h // groups in the native model.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from fgtext.errors import FgTextError
from training.backbones import VisionBackbone, load_internvl
from training.cli import main
from training.convert import convert_internvl

VISION = {"hidden": 32, "layers": 2, "heads": 4, "intermediate": 64, "patch": 8, "image": 32}
LLM = {"hidden": 32, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate": 48}
USER_DEFINED = ["<|im_end|>", "<|im_start|>"]  # pieces of InternLM2's SentencePiece model itself
ADDED = ["<img>", "</img>", "<IMG_CONTEXT>"]  # added after its vocabulary, as in InternVL2.5
SENTENCES = [
    "The right hand rubs the eyes with an upward movement.",
    "Both hands fold the arms across the chest in a static movement.",
    "The left hand scratches the neck with a back-and-forth movement.",
]


def _sentencepiece_model() -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES * 20),
        model_writer=model,
        vocab_size=400,
        model_type="bpe",
        user_defined_symbols=USER_DEFINED,
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    return model.getvalue()


def write_remote_checkpoint(folder: Path, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random InternVLChatModel checkpoint in OpenGVLab's layout (two shards and an index)."""
    import sentencepiece as spm

    folder.mkdir(parents=True)
    spm_model = _sentencepiece_model()
    (folder / "tokenizer.model").write_bytes(spm_model)
    processor = spm.SentencePieceProcessor(model_proto=spm_model)
    pieces = processor.get_piece_size()
    special = {processor.piece_to_id(t): t for t in ["<unk>", "<s>", "</s>", *USER_DEFINED]}
    special |= {pieces + i: token for i, token in enumerate(ADDED)}
    vocab = pieces + len(ADDED)
    tokenizer_config = {
        "added_tokens_decoder": {
            str(i): {"content": t, "special": True, "normalized": False, "lstrip": False,
                     "rstrip": False, "single_word": False}
            for i, t in special.items()
        },
        "additional_special_tokens": [*USER_DEFINED, *ADDED],
        "auto_map": {"AutoTokenizer": ["tokenization_internlm2.InternLM2Tokenizer", None]},
        "tokenizer_class": "InternLM2Tokenizer",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "pad_token": "</s>",
        "unk_token": "<unk>",
        "add_bos_token": True,
        "add_eos_token": False,
    }  # fmt: skip
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))

    v, d = VISION, LLM
    config = {
        "architectures": ["InternVLChatModel"],
        "auto_map": {"AutoModel": "modeling_internvl_chat.InternVLChatModel"},
        "model_type": "internvl_chat",
        "downsample_ratio": 0.5,
        "force_image_size": v["image"],
        "ps_version": "v2",
        "select_layer": -1,
        "template": "internvl2_5",
        "torch_dtype": "bfloat16",
        "vision_config": {
            "architectures": ["InternVisionModel"],
            "model_type": "intern_vit_6b",
            "hidden_size": v["hidden"],
            "num_hidden_layers": v["layers"],
            "num_attention_heads": v["heads"],
            "intermediate_size": v["intermediate"],
            "patch_size": v["patch"],
            "image_size": v["image"],
            "qkv_bias": True,
            "qk_normalization": False,
            "norm_type": "layer_norm",
            "layer_norm_eps": 1e-6,
            "hidden_act": "gelu",
            "drop_path_rate": 0.0,
            "use_flash_attn": True,
        },
        "llm_config": {
            "architectures": ["InternLM2ForCausalLM"],
            "model_type": "internlm2",
            "vocab_size": vocab,
            "hidden_size": d["hidden"],
            "intermediate_size": d["intermediate"],
            "num_hidden_layers": d["layers"],
            "num_attention_heads": d["heads"],
            "num_key_value_heads": d["kv_heads"],
            "max_position_embeddings": 512,
            "rope_theta": 1_000_000,
            "rope_scaling": {"type": "dynamic", "factor": 2.0},
            "rms_norm_eps": 1e-5,
            "hidden_act": "silu",
            "bias": False,
            "attn_implementation": "flash_attention_2",
            "bos_token_id": 1,
            "eos_token_id": 2,
            "pad_token_id": 2,
        },
    }
    (folder / "config.json").write_text(json.dumps(config))

    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).to(torch.bfloat16)

    c, head_dim = v["hidden"], d["hidden"] // d["heads"]
    patches = (v["image"] // v["patch"]) ** 2
    vision = {
        "vision_model.embeddings.class_embedding": rand(1, 1, c),
        "vision_model.embeddings.patch_embedding.weight": rand(c, 3, v["patch"], v["patch"]),
        "vision_model.embeddings.patch_embedding.bias": rand(c),
        "vision_model.embeddings.position_embedding": rand(1, patches + 1, c),
    }
    for i in range(v["layers"]):
        p = f"vision_model.encoder.layers.{i}."
        vision |= {
            p + "attn.qkv.weight": rand(3 * c, c),
            p + "attn.qkv.bias": rand(3 * c),
            p + "attn.proj.weight": rand(c, c),
            p + "attn.proj.bias": rand(c),
            p + "mlp.fc1.weight": rand(v["intermediate"], c),
            p + "mlp.fc1.bias": rand(v["intermediate"]),
            p + "mlp.fc2.weight": rand(c, v["intermediate"]),
            p + "mlp.fc2.bias": rand(c),
            p + "norm1.weight": rand(c),
            p + "norm1.bias": rand(c),
            p + "norm2.weight": rand(c),
            p + "norm2.bias": rand(c),
            p + "ls1": rand(c),
            p + "ls2": rand(c),
        }
    vision |= {
        "mlp1.0.weight": rand(4 * c),
        "mlp1.0.bias": rand(4 * c),
        "mlp1.1.weight": rand(d["hidden"], 4 * c),
        "mlp1.1.bias": rand(d["hidden"]),
        "mlp1.3.weight": rand(d["hidden"], d["hidden"]),
        "mlp1.3.bias": rand(d["hidden"]),
    }
    language = {"language_model.model.tok_embeddings.weight": rand(vocab, d["hidden"])}
    for i in range(d["layers"]):
        p = f"language_model.model.layers.{i}."
        language |= {
            p + "attention.wqkv.weight": rand(
                (d["heads"] + 2 * d["kv_heads"]) * head_dim, d["hidden"]
            ),
            p + "attention.wo.weight": rand(d["hidden"], d["heads"] * head_dim),
            p + "attention.rotary_emb.inv_freq": rand(head_dim // 2),
            p + "feed_forward.w1.weight": rand(d["intermediate"], d["hidden"]),
            p + "feed_forward.w3.weight": rand(d["intermediate"], d["hidden"]),
            p + "feed_forward.w2.weight": rand(d["hidden"], d["intermediate"]),
            p + "attention_norm.weight": rand(d["hidden"]),
            p + "ffn_norm.weight": rand(d["hidden"]),
        }
    language |= {
        "language_model.model.norm.weight": rand(d["hidden"]),
        "language_model.output.weight": rand(vocab, d["hidden"]),
    }
    shards = {
        "model-00001-of-00002.safetensors": vision,
        "model-00002-of-00002.safetensors": language,
    }
    weight_map = {}
    for name, tensors in shards.items():
        save_file(tensors, folder / name, metadata={"format": "pt"})
        weight_map |= dict.fromkeys(tensors, name)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return vision | language


def run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture(scope="module")
def remote(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    folder = tmp_path_factory.mktemp("remote") / "InternVL2_5-tiny"
    return folder, write_remote_checkpoint(folder)


@pytest.fixture(scope="module")
def converted(remote, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("native") / "InternVL2_5-tiny-native"
    report = convert_internvl(remote[0], out)
    assert report.out == out and report.dtype == "bfloat16" and report.shards == 2
    return out


def test_converted_checkpoint_loads_with_every_weight(converted):
    from transformers import InternVLForConditionalGeneration

    model, info = InternVLForConditionalGeneration.from_pretrained(
        converted, output_loading_info=True, local_files_only=True
    )
    assert not info["missing_keys"]
    assert not info["unexpected_keys"] and not info["mismatched_keys"]
    assert model.dtype == torch.bfloat16
    assert model.config.text_config.model_type == "llama"
    assert model.config.image_seq_length == (VISION["image"] // VISION["patch"] // 2) ** 2


def test_vision_tower_follows_internvit(remote, converted):
    _, source = remote
    model = load_internvl(converted, dtype=torch.float32)
    tower = model.model.vision_tower
    c = VISION["hidden"]
    assert torch.equal(
        tower.embeddings.cls_token, source["vision_model.embeddings.class_embedding"].float()
    )
    layer = tower.encoder.layer[1]
    qkv_w = source["vision_model.encoder.layers.1.attn.qkv.weight"].float()
    qkv_b = source["vision_model.encoder.layers.1.attn.qkv.bias"].float()
    x = torch.randn(5, c)
    reference = torch.nn.functional.linear(x, qkv_w, qkv_b).reshape(5, 3, c)  # InternViT: (q|k|v)
    for index, projection in enumerate(
        [layer.attention.q_proj, layer.attention.k_proj, layer.attention.v_proj]
    ):
        torch.testing.assert_close(projection(x), reference[:, index])
    assert torch.equal(layer.lambda_2, source["vision_model.encoder.layers.1.ls2"].float())
    assert torch.equal(
        layer.layernorm_before.weight, source["vision_model.encoder.layers.1.norm1.weight"].float()
    )

    # the projector is mlp1 = LayerNorm, Linear, GELU, Linear
    mlp1 = torch.nn.Sequential(
        torch.nn.LayerNorm(4 * c), torch.nn.Linear(4 * c, LLM["hidden"]), torch.nn.GELU(),
        torch.nn.Linear(LLM["hidden"], LLM["hidden"]),
    )  # fmt: skip
    mlp1.load_state_dict(
        {k.removeprefix("mlp1."): t.float() for k, t in source.items() if k.startswith("mlp1.")}
    )
    features = torch.randn(3, 4 * c)
    torch.testing.assert_close(model.model.multi_modal_projector(features), mlp1(features))

    backbone = VisionBackbone(model)
    f_mid, f_high = backbone(torch.rand(2, 3, VISION["image"], VISION["image"]))
    assert f_mid.shape == (2, c) and f_high.shape == (2, LLM["hidden"])
    assert torch.isfinite(f_high).all()


def test_internlm2_grouped_wqkv_meets_the_right_heads(remote, converted):
    _, source = remote
    model = load_internvl(converted, dtype=torch.float32)
    attention = model.model.language_model.layers[1].self_attn
    heads, kv_heads, hidden = LLM["heads"], LLM["kv_heads"], LLM["hidden"]
    head_dim, groups = hidden // heads, heads // kv_heads
    wqkv = source["language_model.model.layers.1.attention.wqkv.weight"].float()
    x = torch.randn(7, hidden)
    # InternLM2Attention.forward: "b q (h gs d) -> b q h gs d", queries the first `groups`,
    # key at -2, value at -1; query head h*groups+g belongs to key/value head h
    qkv = (x @ wqkv.T).reshape(7, kv_heads, groups + 2, head_dim)
    queries = attention.q_proj(x).reshape(7, heads, head_dim)
    keys = attention.k_proj(x).reshape(7, kv_heads, head_dim)
    values = attention.v_proj(x).reshape(7, kv_heads, head_dim)
    for head in range(heads):
        torch.testing.assert_close(queries[:, head], qkv[:, head // groups, head % groups])
    torch.testing.assert_close(keys, qkv[:, :, -2])
    torch.testing.assert_close(values, qkv[:, :, -1])
    layer = model.model.language_model.layers[1]
    assert torch.equal(
        layer.mlp.down_proj.weight,
        source["language_model.model.layers.1.feed_forward.w2.weight"].float(),
    )
    assert torch.equal(
        layer.input_layernorm.weight,
        source["language_model.model.layers.1.attention_norm.weight"].float(),
    )
    assert torch.equal(model.lm_head.weight, source["language_model.output.weight"].float())


def test_tokenizer_keeps_internlm2_ids(remote, converted):
    import re

    import sentencepiece as spm
    from transformers import AutoTokenizer

    folder, _ = remote
    pieces = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    special = {t: pieces.piece_to_id(t) for t in USER_DEFINED}
    special |= {t: pieces.get_piece_size() + i for i, t in enumerate(ADDED)}

    def internlm2_tokenizer(text: str) -> list[int]:
        """InternLM2Tokenizer (a slow transformers tokenizer): <s>, then the text split at the
        special tokens, each stretch between them encoded by SentencePiece."""
        ids = [1]
        for part in re.split("(" + "|".join(map(re.escape, special)) + ")", text):
            ids += [special[part]] if part in special else pieces.encode(part) if part else []
        return ids

    tokenizer = AutoTokenizer.from_pretrained(converted, local_files_only=True)
    texts = [*SENTENCES, "Scratches the chin ☃ with ünïcode", " a leading space", "two  spaces "]
    texts += ["x <|im_end|>y", "<|im_start|>user\nThe hand<IMG_CONTEXT><IMG_CONTEXT></img>"]
    for text in texts:
        assert tokenizer(text)["input_ids"] == internlm2_tokenizer(text), text
    assert (
        tokenizer.decode(tokenizer(SENTENCES[0])["input_ids"], skip_special_tokens=True)
        == SENTENCES[0]
    )
    config = json.loads((converted / "config.json").read_text())
    assert config["image_token_id"] == special["<IMG_CONTEXT>"]
    assert tokenizer.context_image_token == "<IMG_CONTEXT>"


def test_cli_converts_and_casts(remote, tmp_path, capsys):
    code, output = run(
        ["convert-internvl", str(remote[0]), str(tmp_path / "fp32"), "--dtype", "float32"], capsys
    )
    assert code == 0, output
    assert "float32, 2 shards" in output and str(tmp_path / "fp32") in output
    model = load_internvl(tmp_path / "fp32")
    assert model.dtype == torch.float32


def test_refusals_leave_nothing_behind(remote, tmp_path, capsys):
    folder, _ = remote

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    code, output = run(["convert-internvl", str(folder), str(taken)], capsys)
    assert code == 1 and "not empty" in output
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]

    # a config that disagrees with the weights: stops at the first tensor, writes nothing
    broken = tmp_path / "broken"
    broken.mkdir()
    for file in folder.iterdir():
        (broken / file.name).symlink_to(file)
    config = json.loads((folder / "config.json").read_text())
    config["vision_config"]["intermediate_size"] = 96
    (broken / "config.json").unlink()
    (broken / "config.json").write_text(json.dumps(config))
    code, output = run(["convert-internvl", str(broken), str(tmp_path / "out")], capsys)
    assert code == 1
    assert "layers.0.mlp.fc1." in output and "has shape (64" in output
    assert "the config expects (96" in output
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()

    # a missing shard
    (broken / "model-00002-of-00002.safetensors").unlink()
    code, output = run(["convert-internvl", str(broken), str(tmp_path / "out")], capsys)
    assert code == 1 and "model-00002-of-00002.safetensors" in output

    # a Qwen2-based InternVL2.5 (1B, 4B, 38B, 78B) is named, not half-converted
    config["llm_config"]["architectures"] = ["Qwen2ForCausalLM"]
    (broken / "config.json").write_text(json.dumps(config))
    code, output = run(["convert-internvl", str(broken), str(tmp_path / "out")], capsys)
    assert code == 1 and "Qwen2ForCausalLM" in output


def test_a_native_checkpoint_is_not_converted_again(tiny_internvl, tmp_path):
    with pytest.raises(FgTextError, match="already in transformers' native InternVL format"):
        convert_internvl(tiny_internvl, tmp_path / "again")


def test_converted_language_model_embeds_text(converted):
    from training.text_cache import embed_texts

    texts = [SENTENCES[0], "The hand.", SENTENCES[1]]  # unequal lengths: padding in a batch
    batched = embed_texts(converted, texts, pooling="last", batch_size=3)
    alone = torch.cat([embed_texts(converted, [text], pooling="last") for text in texts])
    assert batched.shape == (3, LLM["hidden"]) and torch.isfinite(batched).all()
    torch.testing.assert_close(batched, alone, atol=1e-4, rtol=1e-4)


def test_loading_a_remote_code_checkpoint_points_to_the_converter(remote):
    with pytest.raises(FgTextError, match="fgsgl-train convert-internvl"):
        load_internvl(remote[0])
