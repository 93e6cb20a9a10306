"""Training throughput of FG-SGL at a given architecture size, with random weights.

Two set-ups per run, same model, same batch:
- `cached text`: the design's — text embeddings come from the cache (here: fixed tensors), the
  language model is not in memory;
- `LLM text encoder`: the baseline the cache replaces — the frozen LLM sits in memory and
  encodes the batch's T_fg on each step (no gradients); the class texts T_c are constant, so it
  encodes them once, before timing. Its FLOPs count in its MFU and TFLOP/clip.

The model is built from `internvl_config(arch)` with random weights, so InternVL2.5-8B's size can
be measured on a GPU without its checkpoint. Reported: clips/s, ms per optimiser step, model FLOPs
utilisation (`estimate_mfu`, GPUs with a known bf16 peak) and peak memory (CUDA: max allocated;
CPU: the process's peak resident set, which includes everything the process ever held).
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import asdict, dataclass

import torch

from fgtext.errors import FgTextError
from training.backbones import internvl_config
from training.losses import LossWeights
from training.model import (
    FgSglModel,
    ModelConfig,
    estimate_mfu,
    text_encoder_flops,
    training_flops_per_clip,
    vision_backbone_from_config,
)

TEXT_TOKENS = 24  # an FG-Text sentence is ~20 tokens
BENCH_CLASSES = 32  # iMiGUE's


@dataclass
class BenchResult:
    arch: str
    setup: str
    device: str
    batch_size: int
    frames: int
    image_size: int
    steps: int
    clips_per_second: float
    ms_per_step: float
    tflops_per_clip: float
    mfu: float | None
    peak_memory_gib: float
    memory_kind: str


def run_bench(
    arch: str = "tiny",
    *,
    batch_size: int = 8,
    frames: int = 8,
    steps: int = 5,
    warmup: int = 2,
    baseline: bool = True,
    device: str | None = None,
    seed: int = 0,
    activation_checkpointing: bool = False,
) -> list[BenchResult]:
    """Time `steps` training steps (after `warmup`) of each set-up; the baseline second."""
    if batch_size < 2 or frames < 1 or steps < 1 or warmup < 0:
        raise FgTextError(
            f"bench needs batch size >= 2 (L_fg contrasts clips), frames >= 1, steps >= 1 and "
            f"warmup >= 0 (got {batch_size}, {frames}, {steps}, {warmup})"
        )
    config = internvl_config(arch)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    setups = ["cached text", "LLM text encoder"] if baseline else ["cached text"]
    return [
        _bench_setup(
            config, arch, setup, dev, batch_size, frames, steps, warmup, activation_checkpointing
        )
        for setup in setups
    ]


def _bench_setup(
    config, arch, setup, device, batch_size, frames, steps, warmup, activation_checkpointing
) -> BenchResult:
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    text_dim = config.text_config.hidden_size
    backbone = vision_backbone_from_config(config)
    model = FgSglModel(
        backbone,
        class_text_embeddings=torch.randn(BENCH_CLASSES, text_dim),
        weights=LossWeights(fg=1.0, cp=1.0),
        config=ModelConfig(activation_checkpointing=activation_checkpointing),
    ).to(device)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5, fused=cuda)
    image = backbone.image_size
    clips = torch.randint(0, 256, (batch_size, frames, 3, image, image), dtype=torch.uint8)
    clips = clips.to(device)
    labels = torch.randint(0, BENCH_CLASSES, (batch_size,), device=device)
    text_embeddings = torch.randn(batch_size, text_dim, device=device)

    encoder = None
    if setup == "LLM text encoder":
        from transformers import AutoModel

        with torch.device(device):
            encoder = AutoModel.from_config(
                config.text_config, dtype=torch.bfloat16 if cuda else torch.float32
            ).eval()
        vocab = config.text_config.vocab_size
        fg_tokens = torch.randint(0, vocab, (batch_size, TEXT_TOKENS), device=device)
        class_tokens = torch.randint(0, vocab, (BENCH_CLASSES, TEXT_TOKENS), device=device)
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            model.class_texts = encoder(input_ids=class_tokens).last_hidden_state.mean(1).float()

    def step() -> None:
        nonlocal text_embeddings
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            if encoder is not None:
                with torch.no_grad():  # frozen: what the cache precomputes
                    text_embeddings = encoder(input_ids=fg_tokens).last_hidden_state.mean(1)
            out = model(clips, labels=labels, text_embeddings=text_embeddings.float())
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    # the baseline's LLM encodes one T_fg per clip and step
    text_flops = text_encoder_flops(config.text_config, TEXT_TOKENS) if encoder is not None else 0.0
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    elapsed = time.perf_counter() - start
    clips_per_second = steps * batch_size / elapsed
    device_name = torch.cuda.get_device_name(device) if cuda else "cpu"
    if cuda:
        peak, kind = torch.cuda.max_memory_allocated(device), "CUDA max allocated"
    else:
        # ru_maxrss is KiB on Linux, bytes on macOS
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak, kind = (rss if sys.platform == "darwin" else rss * 1024), "process peak RSS"
    result = BenchResult(
        arch=arch,
        setup=setup,
        device=device_name,
        batch_size=batch_size,
        frames=frames,
        image_size=image,
        steps=steps,
        clips_per_second=clips_per_second,
        ms_per_step=1000 * elapsed / steps,
        tflops_per_clip=(training_flops_per_clip(config, frames) + text_flops) / 1e12,
        mfu=(
            estimate_mfu(
                config, frames, clips_per_second, device_name, extra_flops_per_clip=text_flops
            )
            if cuda
            else None
        ),
        peak_memory_gib=peak / 2**30,
        memory_kind=kind,
    )
    return result


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def results_as_json(results: list[BenchResult]) -> list[dict]:
    return [asdict(r) for r in results]
