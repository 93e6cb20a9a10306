"""InternVL backbones through transformers' native classes: loading, feature extraction, tiny models.

`load_internvl(path)` loads an `InternVLForConditionalGeneration` checkpoint from a local folder
(nothing is downloaded). `VisionBackbone(model)` keeps only the vision tower and the projector,
so the language model can be dropped before training, and gives per-frame features:

- f_mid: the hidden states after a middle vision layer (default: the middle one), mean-pooled
  over the patch tokens; width = vision hidden size.
- f_high: the last layer through InternVL's own path (drop the CLS token, pixel shuffle,
  projector), mean-pooled over tokens; width = LLM hidden size.

`make_tiny_internvl(out)` writes a small random checkpoint (config, weights and a real tokenizer)
that loads exactly like a real one; `internvl_config(preset)` gives the configs of the tiny model
and of InternVL2.5-8B (for benchmarks with random weights at the real size).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn
from transformers import (
    InternVLConfig,
    InternVLForConditionalGeneration,
    InternVLVisionConfig,
    LlamaConfig,
    PreTrainedTokenizerFast,
)
from transformers.models.internvl.modeling_internvl import InternVLModel
from transformers.utils import logging as transformers_logging

from fgtext.errors import FgTextError

__all__ = [
    "INTERNVL_PRESETS",
    "LORA_TARGET_REGEX",
    "VisionBackbone",
    "internvl_config",
    "load_internvl",
    "make_tiny_internvl",
    "read_internvl_config",
]

# LoRA goes into the vision tower's attention (q/k/v and the output projection) and MLP linear
# layers only. Anchored on `vision_tower.encoder.layer.N.`, so it matches inside the full model
# (`model.vision_tower...`) and inside a VisionBackbone (`vision_tower...`), never the language
# model, whose modules are named `language_model.layers.N.self_attn.q_proj` etc.
LORA_TARGET_REGEX = (
    r"(?:.*\.)?vision_tower\.encoder\.layer\.\d+\."
    r"(?:attention\.(?:q_proj|k_proj|v_proj|projection_layer)|mlp\.(?:fc1|fc2))"
)

INTERNVL_PRESETS = ("tiny", "internvl2.5-8b")

# Words the tiny tokenizer learns its merges from: enough for the FG-Text sentences to tokenize
# into sensible sub-words; anything else still tokenizes (byte-level BPE has no unknown token).
_TINY_TOKENIZER_CORPUS = (
    "The right hand left hand both hands fingers arms shoulders head neck legs feet lips "
    "rubs touches scratches holds folds crosses pulls shakes raises moves plays adjusts "
    "the eyes forehead suprasternal notch collar hair face jaw ears nose chin hips knees "
    "with an upward downward inward outward back-and-forth circular static movement. "
    "A micro-gesture of a person who is seated, touching or scratching some part of the body."
)
_TINY_SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<pad>", "<IMG_CONTEXT>")


def internvl_config(preset: str, **overrides: int) -> InternVLConfig:
    """The InternVL config of a preset: "tiny" (CPU tests and demos; `overrides` are
    make_tiny_internvl's size arguments) or "internvl2.5-8b" (InternViT-300M-448px + InternLM2.5-7B
    as a llama-architecture LLM, the paper's backbone)."""
    if preset == "tiny":
        return _tiny_config(**overrides)
    if preset == "internvl2.5-8b":
        if overrides:
            raise FgTextError(f"the preset internvl2.5-8b takes no size overrides, got {overrides}")
        vision = InternVLVisionConfig(
            hidden_size=1024,
            num_hidden_layers=24,
            num_attention_heads=16,
            intermediate_size=4096,
            patch_size=14,
            image_size=448,
            norm_type="layer_norm",
            use_qk_norm=False,
            layer_scale_init_value=0.1,
            attention_bias=True,  # InternViT-300M's qkv_bias
        )
        text = LlamaConfig(
            vocab_size=92553,
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            max_position_embeddings=32768,
            rope_theta=1_000_000.0,
            rms_norm_eps=1e-5,
            tie_word_embeddings=False,
        )
        return InternVLConfig(
            vision_config=vision.to_dict(),
            text_config=text.to_dict(),
            image_token_id=92546,
            image_seq_length=256,
            downsample_ratio=0.5,
            tie_word_embeddings=False,
        )
    raise FgTextError(
        f"unknown InternVL preset {preset!r}; expected one of {', '.join(INTERNVL_PRESETS)}"
    )


def _tiny_config(
    *,
    image_size: int = 64,
    patch_size: int = 8,
    vision_layers: int = 4,
    vision_hidden: int = 64,
    text_layers: int = 2,
    text_hidden: int = 64,
    vocab_size: int = 512,
) -> InternVLConfig:
    patches = image_size // patch_size
    # the pixel shuffle halves the patch grid, so it has to be an even number of patches a side
    if image_size % patch_size or patches % 2:
        raise FgTextError(
            f"image size {image_size} must be an even multiple of the patch size {patch_size} "
            f"(e.g. {patch_size * 8})"
        )
    if vision_hidden % 4 or text_hidden % 4:
        raise FgTextError(
            f"hidden sizes must be multiples of 4 (4 attention heads), got vision {vision_hidden} "
            f"and text {text_hidden}"
        )
    vision = InternVLVisionConfig(
        hidden_size=vision_hidden,
        num_hidden_layers=vision_layers,
        num_attention_heads=4,
        intermediate_size=vision_hidden * 4,
        patch_size=patch_size,
        image_size=image_size,
    )
    text = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=text_hidden,
        intermediate_size=text_hidden * 4,
        num_hidden_layers=text_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        pad_token_id=_TINY_SPECIAL_TOKENS.index("<pad>"),
        bos_token_id=_TINY_SPECIAL_TOKENS.index("<s>"),
        eos_token_id=_TINY_SPECIAL_TOKENS.index("</s>"),
    )
    return InternVLConfig(
        vision_config=vision.to_dict(),
        text_config=text.to_dict(),
        image_token_id=_TINY_SPECIAL_TOKENS.index("<IMG_CONTEXT>"),
        image_seq_length=(image_size // patch_size // 2) ** 2,
        downsample_ratio=0.5,
        tie_word_embeddings=False,
    )


def _tiny_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """A real byte-level BPE tokenizer trained on FG-Text words (deterministic, offline)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(_TINY_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([_TINY_TOKENIZER_CORPUS], trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        extra_special_tokens={"context_image_token": "<IMG_CONTEXT>"},
    )


def make_tiny_internvl(
    out_dir: str | Path,
    *,
    image_size: int = 64,
    vision_layers: int = 4,
    vision_hidden: int = 64,
    text_layers: int = 2,
    text_hidden: int = 64,
    seed: int = 0,
) -> Path:
    """Write a tiny random InternVL checkpoint (config, safetensors weights, tokenizer) to
    `out_dir` with `save_pretrained`; `load_internvl(out_dir)` loads it like a real one."""
    config = _tiny_config(
        image_size=image_size,
        vision_layers=vision_layers,
        vision_hidden=vision_hidden,
        text_layers=text_layers,
        text_hidden=text_hidden,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = InternVLForConditionalGeneration(config)
        # the default init zeroes the position embeddings and CLS token; random values make
        # features depend on every part of the tower, which the tests rely on
        with torch.no_grad():
            embeddings = model.model.vision_tower.embeddings
            embeddings.cls_token.normal_(std=0.02)
            if embeddings.position_embeddings is not None:
                embeddings.position_embeddings.normal_(std=0.02)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    _tiny_tokenizer(config.text_config.vocab_size).save_pretrained(out)
    return out


def read_internvl_config(folder: Path) -> InternVLConfig:
    """The config of a transformers-native InternVL checkpoint folder, or one clear error."""
    if not (folder / "config.json").is_file():
        raise FgTextError(
            f"{folder} is not a model folder: expected a config.json of a transformers "
            "InternVL checkpoint (from fgsgl-train convert-internvl or fgsgl-train make-tiny)"
        )
    config = InternVLConfig.from_pretrained(folder, local_files_only=True)
    if config.model_type != "internvl":
        raise FgTextError(
            f"{folder} holds a {config.model_type!r} model; expected a transformers-native "
            "InternVL checkpoint (model_type internvl); convert OpenGVLab's remote-code "
            "InternVLChatModel checkpoints with fgsgl-train convert-internvl"
        )
    return config


def load_internvl(
    path: str | Path, *, dtype: torch.dtype | None = None, vision_only: bool = False
) -> InternVLForConditionalGeneration:
    """An InternVL checkpoint in transformers' native format from a local folder.

    `vision_only`: build the language model with no decoder layers, so their weights (~7B
    parameters for InternVL2.5-8B) are never loaded; the vision tower and projector (all a
    VisionBackbone needs) load exactly as in the full model."""
    folder = Path(path)
    config = read_internvl_config(folder)
    if not vision_only:
        return InternVLForConditionalGeneration.from_pretrained(
            folder, dtype=dtype, local_files_only=True
        )
    config.text_config.num_hidden_layers = 0
    # the skipped decoder layers are reported as unexpected weights: meant, so not shown
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        return InternVLForConditionalGeneration.from_pretrained(
            folder, config=config, dtype=dtype, local_files_only=True
        )
    finally:
        transformers_logging.set_verbosity(verbosity)


class VisionBackbone(nn.Module):
    """The vision tower and projector of an InternVL model: pixels → per-frame (f_mid, f_high).

    Holds references to the model's own modules (no copy), so LoRA applied to the model and
    weights loaded into it are seen here; the language model is not referenced.
    """

    def __init__(self, model: InternVLForConditionalGeneration, mid_layer: int | None = None):
        super().__init__()
        internvl = model.model
        config = model.config
        self.vision_tower = internvl.vision_tower
        self.multi_modal_projector = internvl.multi_modal_projector
        self.downsample_ratio = float(config.downsample_ratio)
        # the projector reads the last layer (InternVL's vision_feature_layer -1, CLS dropped)
        if config.vision_feature_layer != -1:
            raise FgTextError(
                f"vision_feature_layer {config.vision_feature_layer} is not supported; "
                "expected -1 (the last vision layer feeds the projector)"
            )
        self.drop_cls = config.vision_feature_select_strategy == "default"
        layers = config.vision_config.num_hidden_layers
        self.mid_layer = layers // 2 if mid_layer is None else int(mid_layer)
        # hidden_states[0] is the embedding output, hidden_states[k] the output of layer k
        if not 1 <= self.mid_layer <= layers:
            raise FgTextError(
                f"mid layer {self.mid_layer} is out of range; expected 1..{layers} "
                f"(the vision tower has {layers} layers)"
            )
        self.vision_hidden_size = int(config.vision_config.hidden_size)
        self.llm_hidden_size = int(config.text_config.hidden_size)
        self.image_size = int(config.vision_config.image_size[0])
        self.num_vision_layers = int(layers)

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """pixel_values float [N, 3, H, W] (normalised) → f_mid [N, Dv], f_high [N, D_llm]."""
        dtype = self.multi_modal_projector.linear_1.weight.dtype
        outputs = self.vision_tower(
            pixel_values=pixel_values.to(dtype),
            output_hidden_states=[self.mid_layer],  # capture only this layer (saves memory)
            return_dict=True,
        )
        mid = outputs.hidden_states[self.mid_layer]
        last = outputs.last_hidden_state
        if self.drop_cls:
            mid, last = mid[:, 1:], last[:, 1:]
        f_mid = mid.mean(dim=1)
        f_high = self._project(last).mean(dim=1)
        return f_mid, f_high

    def _project(self, tokens: torch.Tensor) -> torch.Tensor:
        """InternVL's image-feature path after the tower: pixel shuffle, then the projector."""
        batch, count, width = tokens.shape
        side = int(count**0.5)
        grid = tokens.reshape(batch, side, side, width)
        # InternVLModel.pixel_shuffle is a pure function of its arguments: reuse the model's code
        shuffled = InternVLModel.pixel_shuffle(self, grid, scale_factor=self.downsample_ratio)
        return self.multi_modal_projector(shuffled.reshape(batch, -1, shuffled.shape[-1]))


def lora_target_modules(model: nn.Module) -> list[str]:
    """The names of the modules in `model` that LORA_TARGET_REGEX selects (for logs and tests)."""
    pattern = re.compile(LORA_TARGET_REGEX)
    return [name for name, _ in model.named_modules() if pattern.fullmatch(name)]
