"""OpenGVLab's remote-code InternVL checkpoints → transformers' native InternVL format.

OpenGVLab publishes InternVL2.5 (e.g. `OpenGVLab/InternVL2_5-8B`) as `InternVLChatModel` with
its own modelling code (`trust_remote_code`); training loads only the native
`InternVLForConditionalGeneration`, so such a checkpoint is converted once, offline:

    fgsgl-train convert-internvl ~/models/InternVL2_5-8B ~/models/InternVL2_5-8B-native

The key mapping is the one of transformers' own conversion script: vision `layers` → `layer`,
`attn.qkv` split into q/k/v, InternLM2's grouped `wqkv` split into q/k/v (its rows are
`(kv_head, [query heads of the group…, key, value], head_dim)`), `mlp1` → the projector, the
InternLM2 LLM renamed to llama names. Tensors are converted one source shard at a time (memory
stays near one shard, ~5 GB, not the 16 GB model), shapes are checked against the native model's,
and the result is written to a temporary folder that is renamed into place only when complete.
The SentencePiece tokenizer becomes a fast llama tokenizer with the same ids.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import (
    InternVLConfig,
    InternVLForConditionalGeneration,
    InternVLVisionConfig,
    LlamaConfig,
)

from fgtext.errors import FgTextError

__all__ = ["ConversionReport", "convert_internvl"]

_INDEX = "model.safetensors.index.json"
_IMAGE_CONTEXT_TOKEN = "<IMG_CONTEXT>"
# the LLM families of InternVL2.5 that convert to a llama-architecture language model
_INTERNLM2 = "InternLM2ForCausalLM"

# Renames of the vision tower (after "vision_model.") and the projector, applied in order.
_VISION_RENAMES = (
    (r"^embeddings\.class_embedding$", "embeddings.cls_token"),
    (r"^embeddings\.position_embedding$", "embeddings.position_embeddings"),
    (r"^embeddings\.patch_embedding\.", "embeddings.patch_embeddings.projection."),
    (r"^encoder\.layers\.", "encoder.layer."),
    (r"\.attn\.proj\.", ".attention.projection_layer."),
    (r"\.attn\.", ".attention."),
    (r"\.ls(\d)$", r".lambda_\1"),
    (r"\.norm1\.", ".layernorm_before."),
    (r"\.norm2\.", ".layernorm_after."),
)
_PROJECTOR_LAYERS = {"0": "layer_norm", "1": "linear_1", "3": "linear_2"}
# InternLM2 → llama names (after "language_model.model.")
_INTERNLM2_RENAMES = (
    (r"^tok_embeddings\.", "embed_tokens."),
    (r"\.attention\.wo\.", ".self_attn.o_proj."),
    (r"\.feed_forward\.w1\.", ".mlp.gate_proj."),
    (r"\.feed_forward\.w3\.", ".mlp.up_proj."),
    (r"\.feed_forward\.w2\.", ".mlp.down_proj."),
    (r"\.attention_norm\.", ".input_layernorm."),
    (r"\.ffn_norm\.", ".post_attention_layernorm."),
)


@dataclass(frozen=True)
class ConversionReport:
    out: Path
    tensors: int
    parameters: int
    shards: int
    dtype: str


def _rename(name: str, renames: tuple[tuple[str, str], ...]) -> str:
    for pattern, replacement in renames:
        name = re.sub(pattern, replacement, name)
    return name


def _native_config(source: dict, image_token_id: int) -> InternVLConfig:
    """The native InternVLConfig of a remote-code `InternVLChatModel` config.json."""
    vision = source["vision_config"]
    llm = source["llm_config"]
    native_vision = InternVLVisionConfig(
        hidden_size=vision["hidden_size"],
        num_hidden_layers=vision["num_hidden_layers"],
        num_attention_heads=vision["num_attention_heads"],
        intermediate_size=vision["intermediate_size"],
        patch_size=vision["patch_size"],
        image_size=source.get("force_image_size") or vision["image_size"],
        num_channels=vision.get("num_channels", 3),
        attention_bias=vision.get("qkv_bias", True),
        use_qk_norm=vision.get("qk_normalization", False),
        norm_type=vision.get("norm_type", "layer_norm"),
        layer_norm_eps=vision.get("layer_norm_eps", 1e-6),
        hidden_act=vision.get("hidden_act", "gelu"),
        attention_dropout=vision.get("attention_dropout", 0.0),
        projection_dropout=vision.get("attention_dropout", 0.0),
        hidden_dropout_prob=vision.get("dropout", 0.0),
        use_absolute_position_embeddings=True,
        use_mean_pooling=True,  # InternViT has no final norm
    )
    text = LlamaConfig(
        vocab_size=llm["vocab_size"],
        hidden_size=llm["hidden_size"],
        intermediate_size=llm["intermediate_size"],
        num_hidden_layers=llm["num_hidden_layers"],
        num_attention_heads=llm["num_attention_heads"],
        num_key_value_heads=llm.get("num_key_value_heads", llm["num_attention_heads"]),
        max_position_embeddings=llm["max_position_embeddings"],
        rope_theta=float(llm.get("rope_theta", 10_000.0)),
        rope_scaling=llm.get("rope_scaling"),
        rms_norm_eps=llm.get("rms_norm_eps", 1e-6),
        hidden_act=llm.get("hidden_act", "silu"),
        attention_bias=llm.get("bias", False),
        bos_token_id=llm.get("bos_token_id", 1),
        eos_token_id=llm.get("eos_token_id", 2),
        pad_token_id=llm.get("pad_token_id", 2),
        tie_word_embeddings=False,
    )
    image_size = native_vision.image_size[0]
    patch_size = native_vision.patch_size[0]
    downsample_ratio = float(source.get("downsample_ratio", 0.5))
    config = InternVLConfig(
        vision_config=native_vision.to_dict(),
        text_config=text.to_dict(),
        image_token_id=image_token_id,
        image_seq_length=int((image_size // patch_size * downsample_ratio) ** 2),
        downsample_ratio=downsample_ratio,
        vision_feature_layer=source.get("select_layer", -1),
        tie_word_embeddings=False,
    )
    config.architectures = ["InternVLForConditionalGeneration"]
    return config


def _check_source(folder: Path) -> dict:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FgTextError(f"{folder} is not a model folder: it has no config.json")
    source = json.loads(config_file.read_text())
    if source.get("model_type") == "internvl":
        raise FgTextError(f"{folder} is already in transformers' native InternVL format")
    if "InternVLChatModel" not in (source.get("architectures") or []):
        raise FgTextError(
            f"{folder} holds {source.get('architectures') or source.get('model_type')!r}; "
            "expected an OpenGVLab InternVLChatModel checkpoint (e.g. OpenGVLab/InternVL2_5-8B)"
        )
    llm_architectures = source.get("llm_config", {}).get("architectures") or ["?"]
    if llm_architectures[0] != _INTERNLM2:
        raise FgTextError(
            f"{folder} has a {llm_architectures[0]} language model; this converter handles the "
            f"{_INTERNLM2} ones (InternVL2.5-2B, -8B, -26B)"
        )
    if source.get("ps_version", "v2") != "v2":
        raise FgTextError(
            f"{folder} uses pixel shuffle {source['ps_version']!r}; the native model implements v2"
        )
    return source


def _source_shards(folder: Path) -> list[Path]:
    index = folder / _INDEX
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        shards = [folder / name for name in dict.fromkeys(weight_map.values())]
    else:
        shards = [folder / "model.safetensors"]
    missing = [shard.name for shard in shards if not shard.is_file()]
    if missing:
        raise FgTextError(
            f"{folder} lacks the safetensors weights {', '.join(missing)} (only safetensors "
            "checkpoints are converted)"
        )
    return shards


def _load_tokenizer(folder: Path):
    """InternLM2's SentencePiece tokenizer as a fast tokenizer with identical ids.

    transformers reads the SentencePiece model into a llama tokenizer (vocabulary, byte
    fallback, added tokens at their ids); its pre-tokenizer is then replaced by the normalizer of
    InternLM's own fast converter, so that, like InternLM2Tokenizer, every stretch of text
    between special tokens gets SentencePiece's dummy "▁" prefix, leading spaces included. The
    result is saved as a plain TokenizersBackend, which keeps that pipeline as it is."""
    from sentencepiece import sentencepiece_model_pb2
    from tokenizers import normalizers
    from transformers import LlamaTokenizer, TokenizersBackend

    model_file = folder / "tokenizer.model"
    if not model_file.is_file():
        raise FgTextError(f"{folder} has no tokenizer.model (InternLM2's SentencePiece model)")
    settings_file = folder / "tokenizer_config.json"
    settings = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
    llama = LlamaTokenizer.from_pretrained(folder, legacy=False, local_files_only=True)
    proto = sentencepiece_model_pb2.ModelProto.FromString(model_file.read_bytes())
    backend = llama.backend_tokenizer
    replace_spaces = normalizers.Replace(" ", "\u2581")
    backend.normalizer = (
        normalizers.Sequence([normalizers.Prepend("\u2581"), replace_spaces])
        if proto.normalizer_spec.add_dummy_prefix
        else replace_spaces
    )
    backend.pre_tokenizer = None
    tokenizer = TokenizersBackend(
        tokenizer_object=backend,
        bos_token=settings.get("bos_token", "<s>"),
        eos_token=settings.get("eos_token", "</s>"),
        unk_token=settings.get("unk_token", "<unk>"),
        pad_token=settings.get("pad_token", "</s>"),
        # InternLM2Tokenizer prepends <s> and adds no </s>
        add_bos_token=settings.get("add_bos_token", True),
        add_eos_token=settings.get("add_eos_token", False),
        # what InternVLProcessor looks up (transformers' own conversion names the same three)
        extra_special_tokens={
            "start_image_token": "<img>",
            "end_image_token": "</img>",
            "context_image_token": _IMAGE_CONTEXT_TOKEN,
        },
        clean_up_tokenization_spaces=False,
    )
    wrong = {
        int(token_id): entry["content"]
        for token_id, entry in (settings.get("added_tokens_decoder") or {}).items()
        if tokenizer.convert_tokens_to_ids(entry["content"]) != int(token_id)
    }
    if wrong:
        raise FgTextError(
            f"the converted tokenizer gives other ids to {wrong} than {settings_file}; "
            "not converting rather than writing a tokenizer that disagrees with the weights"
        )
    return tokenizer


class _TensorConverter:
    """Maps one remote-code tensor to its native name(s) and value(s)."""

    def __init__(self, config: InternVLConfig) -> None:
        self.vision_hidden = config.vision_config.hidden_size
        text = config.text_config
        self.head_dim = text.hidden_size // text.num_attention_heads
        self.groups = text.num_attention_heads // text.num_key_value_heads

    def __call__(self, name: str, tensor: torch.Tensor) -> Iterator[tuple[str, torch.Tensor]]:
        if name.endswith("rotary_emb.inv_freq"):  # a buffer, recomputed by the model
            return
        if name.startswith("vision_model."):
            native = "model.vision_tower." + _rename(
                name.removeprefix("vision_model."), _VISION_RENAMES
            )
            if ".attention.qkv." in native:
                # InternViT: rows are (q | k | v), each hidden_size wide
                for part, rows in zip("qkv", tensor.split(self.vision_hidden), strict=True):
                    yield native.replace(".qkv.", f".{part}_proj."), rows
            else:
                yield native, tensor
        elif name.startswith("mlp1."):
            index, _, rest = name.removeprefix("mlp1.").partition(".")
            yield f"model.multi_modal_projector.{_PROJECTOR_LAYERS[index]}.{rest}", tensor
        elif name.startswith("language_model.output."):
            yield "lm_head." + name.removeprefix("language_model.output."), tensor
        elif name.startswith("language_model.model."):
            local = _rename(name.removeprefix("language_model.model."), _INTERNLM2_RENAMES)
            native = "model.language_model." + local
            if ".attention.wqkv." in native:
                yield from self._split_wqkv(native, tensor)
            else:
                yield native, tensor
        else:
            raise FgTextError(f"the checkpoint has a tensor {name!r} this converter does not know")

    def _split_wqkv(self, native: str, tensor: torch.Tensor) -> Iterator[tuple[str, torch.Tensor]]:
        # rows grouped per key/value head: its `groups` query heads, then its key, then its value
        grouped = tensor.reshape(-1, self.groups + 2, self.head_dim, *tensor.shape[1:])
        parts = {
            "q_proj": grouped[:, : self.groups],
            "k_proj": grouped[:, -2],
            "v_proj": grouped[:, -1],
        }
        for part, rows in parts.items():
            name = native.replace(".attention.wqkv.", f".self_attn.{part}.")
            yield name, rows.reshape(-1, *tensor.shape[1:]).contiguous()


def convert_internvl(
    source: str | Path,
    out: str | Path,
    *,
    dtype: torch.dtype | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ConversionReport:
    """Convert a remote-code InternVL2.5 checkpoint folder into a native one at `out`.

    `dtype` casts the weights (default: keep the checkpoint's, bf16 for OpenGVLab's). `progress`
    is called with (shards done, shards). Nothing is written at `out` unless the whole
    conversion succeeds."""
    src, out = Path(source), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FgTextError(f"{out} exists and is not empty; choose a new folder for the conversion")
    source_config = _check_source(src)
    shards = _source_shards(src)
    tokenizer = _load_tokenizer(src)
    image_token_id = tokenizer.convert_tokens_to_ids(_IMAGE_CONTEXT_TOKEN)
    if image_token_id is None or image_token_id == tokenizer.unk_token_id:
        raise FgTextError(f"the tokenizer of {src} has no {_IMAGE_CONTEXT_TOKEN} token")
    config = _native_config(source_config, image_token_id)
    with torch.device("meta"):
        expected = {
            name: tuple(value.shape)
            for name, value in InternVLForConditionalGeneration(config).state_dict().items()
        }
    convert = _TensorConverter(config)

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        weight_map: dict[str, str] = {}
        parameters = 0
        checkpoint_dtype = None
        for number, shard in enumerate(shards, start=1):
            converted: dict[str, torch.Tensor] = {}
            with safe_open(shard, framework="pt") as tensors:
                for name in tensors.keys():  # noqa: SIM118 (safe_open is not a dict)
                    for native, value in convert(name, tensors.get_tensor(name)):
                        if native not in expected:
                            raise FgTextError(
                                f"{shard.name}: {name} maps to {native}, which the native "
                                "InternVL model does not have"
                            )
                        if tuple(value.shape) != expected[native]:
                            raise FgTextError(
                                f"{shard.name}: {name} has shape {tuple(value.shape)} as {native}; "
                                f"the config expects {expected[native]}"
                            )
                        checkpoint_dtype = checkpoint_dtype or value.dtype
                        converted[native] = value.to(dtype) if dtype else value
            file = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
            save_file(converted, partial / file, metadata={"format": "pt"})
            weight_map.update(dict.fromkeys(converted, file))
            parameters += sum(value.numel() for value in converted.values())
            del converted
            if progress:
                progress(number, len(shards))
        missing = sorted(set(expected) - set(weight_map))
        if missing:
            raise FgTextError(
                f"{src} lacks {len(missing)} weights of the native model, e.g. {missing[:3]}"
            )
        saved_dtype = dtype or checkpoint_dtype or torch.float32
        config.dtype = saved_dtype
        config.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        index = {"metadata": {"total_parameters": parameters}, "weight_map": weight_map}
        (partial / _INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        out.rmdir()  # empty, checked above
    partial.rename(out)
    return ConversionReport(
        out=out,
        tensors=len(weight_map),
        parameters=parameters,
        shards=len(shards),
        dtype=str(saved_dtype).removeprefix("torch."),
    )
