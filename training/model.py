"""The FG-SGL model (paper Sec. III): InternVL's vision tower with LoRA, its projector, and heads.

Reading order: the config, the vision part of a checkpoint (loaded without the language model),
the model (frames → pooled f_mid / f_high → classifier, text-space projections, losses), its
trainable state (what a run saves), and `estimate_mfu`.

Per clip of T frames: every frame goes through the tower; f_mid and f_high are averaged over the
frames (temporal mean pooling). The classifier reads f_high; f_mid is projected into the text
space for L_fg; f_high is compared with the class embeddings T_c for L_cp, through a projection
only when its width differs from the text embeddings' (InternVL's own LLM as text encoder gives
the same width, so none).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from peft import LoraConfig, inject_adapter_in_model
from safetensors import safe_open
from torch import nn
from transformers import InternVLConfig, InternVLForConditionalGeneration, InternVLVisionModel
from transformers.models.internvl.modeling_internvl import InternVLMultiModalProjector

from fgtext.errors import FgTextError
from training.backbones import LORA_TARGET_REGEX, VisionBackbone, read_internvl_config
from training.config import ModelConfig
from training.data import IMAGENET_MEAN, IMAGENET_STD
from training.losses import (
    LossWeights,
    class_prototype_loss,
    classification_loss,
    combine_losses,
    fine_grained_loss,
)

# -- the vision part of a checkpoint ------------------------------------------------------------

_VISION_PREFIXES = ("vision_tower.", "multi_modal_projector.")


def vision_backbone_from_config(
    config: InternVLConfig, *, mid_layer: int | None = None
) -> VisionBackbone:
    """A randomly initialised vision tower + projector of `config`; the LLM is never built."""
    with torch.device("meta"):  # the shell only carries the config and module names: no memory
        shell = InternVLForConditionalGeneration(config)
    shell.model.vision_tower = InternVLVisionModel(config.vision_config)
    shell.model.multi_modal_projector = InternVLMultiModalProjector(config)
    return VisionBackbone(shell, mid_layer=mid_layer)


def load_vision_backbone(checkpoint: str | Path, *, mid_layer: int | None = None) -> VisionBackbone:
    """The vision tower and projector of a native InternVL checkpoint folder, read from its
    safetensors files tensor by tensor, so the language model's weights are never loaded."""
    folder = Path(checkpoint)
    config = read_internvl_config(folder)
    backbone = vision_backbone_from_config(config, mid_layer=mid_layer)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FgTextError(f"{folder} has no *.safetensors weights")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        with safe_open(str(file), framework="pt") as reader:
            for key in reader.keys():  # noqa: SIM118 (safe_open is not a dict)
                # checkpoints name these "vision_tower.x" (hub layout) or "model.vision_tower.x"
                for prefix in _VISION_PREFIXES:
                    at = key.find(prefix)
                    if at == 0 or (at > 0 and key[at - 1] == "."):
                        state[key[at:]] = reader.get_tensor(key)
    wanted = set(backbone.state_dict())
    missing = sorted(wanted - set(state))
    if missing:
        raise FgTextError(
            f"{folder} lacks {len(missing)} vision/projector weights (e.g. {missing[0]}); "
            "expected a complete InternVL checkpoint in transformers' native format"
        )
    backbone.load_state_dict({k: v for k, v in state.items() if k in wanted})
    return backbone


# -- the model -----------------------------------------------------------------------------------


class FgSglModel(nn.Module):
    """Frames [B, T, 3, H, W] uint8 → class logits and the losses of FG-SGL.

    `use_fg` / `use_cp` switch the contrastive terms (ML-CO's stages and the ablations); a term
    that is off is not computed at all.
    """

    def __init__(
        self,
        backbone: VisionBackbone,
        *,
        class_text_embeddings: torch.Tensor,
        config: ModelConfig | None = None,
        weights: LossWeights | None = None,
    ) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.weights = weights or LossWeights()
        self.use_fg = self.weights.fg > 0
        self.use_cp = self.weights.cp > 0
        # LoRA on the tower's attention and MLP projections; peft freezes everything else
        lora = LoraConfig(
            r=self.config.lora_rank,
            lora_alpha=self.config.lora_alpha,
            lora_dropout=self.config.lora_dropout,
            target_modules=LORA_TARGET_REGEX,
        )
        self.backbone = inject_adapter_in_model(lora, backbone)
        self.backbone.multi_modal_projector.requires_grad_(True)  # the paper's "MLP layers"
        if self.config.activation_checkpointing:
            # non-reentrant: gradients reach the LoRA weights though the tower's input is frozen
            self.backbone.vision_tower.activation_checkpointing_enable({"use_reentrant": False})

        num_classes, text_dim = class_text_embeddings.shape
        vision_dim, llm_dim = backbone.vision_hidden_size, backbone.llm_hidden_size
        # Pooled features of a (nearly) frozen tower differ between clips in a small part beside
        # a large common one: the classifier reads them standardised per feature, as MAE's linear
        # probe does (BatchNorm without affine before the linear layer); the text projection
        # after a LayerNorm, as timm's fc_norm after mean pooling.
        self.classifier = nn.Sequential(
            nn.BatchNorm1d(llm_dim, affine=False), nn.Linear(llm_dim, num_classes)
        )
        self.mid_to_text = nn.Sequential(nn.LayerNorm(vision_dim), nn.Linear(vision_dim, text_dim))
        self.high_to_text = nn.Identity() if llm_dim == text_dim else nn.Linear(llm_dim, text_dim)
        # shape [1], not a scalar: DeepSpeed broadcasts parameters as bytes, which 0-d can't be
        init = math.log(self.config.logit_scale_init)
        self.logit_scale_fg = nn.Parameter(torch.full((1,), init))
        self.logit_scale_cp = nn.Parameter(torch.full((1,), init))
        self.register_buffer("class_texts", class_text_embeddings.float(), persistent=False)
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD), persistent=False)

    @property
    def num_classes(self) -> int:
        return self.classifier[-1].out_features

    def encode(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 frames [B, T, 3, H, W] → (f_mid [B, Dv], f_high [B, D_llm]), frame-averaged."""
        batch, steps = frames.shape[:2]
        # normalised here, on the device: the loader moves uint8 (4x less than float)
        pixels = frames.flatten(0, 1).float().div_(255)
        pixels = (pixels - self.pixel_mean[:, None, None]) / self.pixel_std[:, None, None]
        f_mid, f_high = self.backbone(pixels)
        return f_mid.view(batch, steps, -1).mean(1), f_high.view(batch, steps, -1).mean(1)

    def forward(
        self,
        frames: torch.Tensor,
        labels: torch.Tensor | None = None,
        text_embeddings: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor | dict[str, torch.Tensor]]:
        """Logits, and with `labels` the total loss and its terms ("cls", "cp", "fg")."""
        if frames.shape[0] == 0:
            return self._empty_batch(labels)
        f_mid, f_high = self.encode(frames)
        logits = self.classify(f_high)
        out: dict = {"logits": logits}
        if labels is None:
            return out
        terms = {"cls": classification_loss(logits, labels)}
        if self.use_cp:
            terms["cp"] = class_prototype_loss(
                self.high_to_text(f_high),
                self.class_texts,
                labels,
                self._scale(self.logit_scale_cp),
            )
        if self.use_fg:
            if text_embeddings is None:
                raise ValueError("L_fg needs the batch's text embeddings (text_embeddings=)")
            terms["fg"] = fine_grained_loss(
                self.mid_to_text(f_mid),
                text_embeddings,
                self._scale(self.logit_scale_fg),
                mode=self.config.fg_loss,
            )
        out["loss"] = combine_losses(terms, self.weights)
        out["terms"] = {name: value.detach() for name, value in terms.items()}
        return out

    def _empty_batch(self, labels: torch.Tensor | None) -> dict:
        """Every clip of the batch failed to decode: no logits, and a zero loss that touches
        every trainable parameter, so the step (and DDP's gradient sync) goes ahead. Under L_fg
        the rank still joins the other ranks' gathers (with no rows), so none of them hangs."""
        out: dict = {"logits": None}
        if labels is None:
            return out
        if self.use_fg:
            nothing = self.class_texts.new_zeros((0, self.class_texts.shape[1]))
            fine_grained_loss(nothing, nothing, self._scale(self.logit_scale_fg),
                              mode=self.config.fg_loss)  # fmt: skip
        out["loss"] = sum(p.sum() * 0 for p in self.parameters() if p.requires_grad)
        out["terms"] = {}
        return out

    def mid_in_text_space(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, projected f_mid): what `predict` compares with the FG-Text embeddings."""
        f_mid, f_high = self.encode(frames)
        return self.classify(f_high), self.mid_to_text(f_mid)

    def classify(self, f_high: torch.Tensor) -> torch.Tensor:
        norm, linear = self.classifier
        if self.training and f_high.shape[0] < 2:
            # batch statistics need two clips; a batch can shrink to one (undecodable clips)
            return linear(F.batch_norm(f_high, norm.running_mean, norm.running_var, training=False))
        return self.classifier(f_high)

    def _scale(self, log_scale: torch.Tensor) -> torch.Tensor:
        return log_scale.exp().clamp(max=self.config.logit_scale_max)


# -- what a run saves: LoRA + projector + heads (small), never the frozen tower ------------------


def saved_names(model: nn.Module) -> set[str]:
    """What a run saves: the trainable parameters and the heads' statistics (the classifier's
    running mean and variance), never the frozen tower."""
    names = {name for name, p in model.named_parameters() if p.requires_grad}
    names |= {name for name, _ in model.named_buffers() if not name.startswith("backbone.")}
    return names & set(model.state_dict())  # persistent entries only


def trainable_state_dict(
    model: nn.Module, state: dict[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """The entries of `state` (default: the model's) that a run saves (`saved_names`)."""
    names = saved_names(model)
    state = model.state_dict() if state is None else state
    return {k: v.detach().cpu().contiguous() for k, v in state.items() if k in names}


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load a `trainable_state_dict`; every saved entry must be there."""
    names = saved_names(model)
    missing = sorted(names - set(state))
    unexpected = sorted(set(state) - names)
    if missing or unexpected:
        raise FgTextError(
            f"{source} does not fit this model: {len(missing)} weights missing "
            f"{missing[:2]}, {len(unexpected)} unexpected {unexpected[:2]}; "
            "expected the weights of a run with the same backbone and classes"
        )
    model.load_state_dict(state, strict=False)


# -- model FLOPs utilisation (nanoGPT's estimate_mfu, for a frozen tower with LoRA) --------------

# Dense bf16 tensor-core peaks, FLOP/s, by a substring of torch.cuda.get_device_name().
PEAK_BF16_FLOPS = {
    "H200": 989e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,  # SXM
    "A100": 312e12,
    "L40S": 362e12,
    "A10G": 70e12,
}


def peak_flops(device_name: str) -> float | None:
    """The bf16 peak of a GPU by name; None when unknown (a CPU: no MFU then)."""
    for key, value in PEAK_BF16_FLOPS.items():  # more specific names first
        if key in device_name:
            return value
    return None


def _flops_per_frame(config: InternVLConfig, lora_rank: int = 8) -> dict[str, float]:
    """Forward matmul FLOPs (2 per multiply-add) of one frame, by part: the patch embedding,
    the tower's dense layers, its attention (scores and weighted sum), LoRA's low-rank
    products (on q, k, v, the output projection and both MLP layers) and the projector."""
    vision = config.vision_config
    width, inner, layers = vision.hidden_size, vision.intermediate_size, vision.num_hidden_layers
    image, patch = _side(vision.image_size), _side(vision.patch_size)
    patches = (image // patch) ** 2
    tokens = patches + 1  # + CLS
    llm = config.text_config.hidden_size
    shuffled_tokens = round(patches * config.downsample_ratio**2)
    shuffled_width = round(width / config.downsample_ratio**2)
    lora_in_out = 4 * (width + width) + (width + inner) + (inner + width)  # Σ (in + out)
    return {
        "embed": 2 * patches * (3 * patch * patch) * width,
        "dense": layers * (2 * tokens * width * 4 * width + 2 * 2 * tokens * width * inner),
        "attention": layers * 2 * 2 * tokens * tokens * width,
        "lora": layers * 2 * tokens * lora_rank * lora_in_out,
        "projector": 2 * shuffled_tokens * (shuffled_width * llm + llm * llm),
    }


def forward_flops_per_frame(config: InternVLConfig) -> float:
    """Forward FLOPs of one frame through the (unadapted) vision tower and the projector."""
    parts = _flops_per_frame(config)
    return parts["embed"] + parts["dense"] + parts["attention"] + parts["projector"]


def training_flops_per_clip(config: InternVLConfig, frames: int, lora_rank: int = 8) -> float:
    """Forward + backward FLOPs of one clip of `frames` frames, by how each part's backward
    goes: the frozen dense layers compute input gradients only (1x forward); attention has no
    weights but needs the gradients of both its operands (2x); LoRA and the projector train
    (input and weight gradients, 2x); the patch embedding none (nothing before it learns).
    The heads (a few linear layers on pooled features) are left out: well under 1 %."""
    f = _flops_per_frame(config, lora_rank)
    return frames * (
        f["embed"] + 2 * f["dense"] + 3 * f["attention"] + 3 * f["lora"] + 3 * f["projector"]
    )


def text_encoder_flops(text_config, tokens: int) -> float:
    """Forward FLOPs of a decoder LLM (llama/qwen2/internlm2 layout) over one text of `tokens`
    tokens: q, k, v, o, the gated MLP and attention, every layer. What the cache saves."""
    d, inner = text_config.hidden_size, text_config.intermediate_size
    heads = text_config.num_attention_heads
    kv = d // heads * getattr(text_config, "num_key_value_heads", heads)
    per_token = 2 * (2 * d * d + 2 * d * kv + 3 * d * inner) + 2 * 2 * tokens * d
    return text_config.num_hidden_layers * tokens * per_token


def estimate_mfu(
    config: InternVLConfig,
    frames: int,
    clips_per_second: float,
    device_name: str,
    *,
    extra_flops_per_clip: float = 0.0,
) -> float | None:
    """Model FLOPs utilisation: achieved training FLOP/s over the device's bf16 peak
    (`extra_flops_per_clip`: work beside the model's, e.g. an LLM encoding the texts)."""
    peak = peak_flops(device_name)
    if peak is None:
        return None
    per_clip = training_flops_per_clip(config, frames) + extra_flops_per_clip
    return per_clip * clips_per_second / peak


def _side(size: int | list[int] | tuple[int, ...]) -> int:
    return int(size[0]) if isinstance(size, list | tuple) else int(size)
