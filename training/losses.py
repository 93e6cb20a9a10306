"""FG-SGL's losses: L = L_cls + λ_fg·L_fg + λ_cp·L_cp (paper Sec. III), kept small like open_clip's.

- L_cls: cross-entropy of the classifier on f_high.
- L_cp: InfoNCE of f_high (in the text space) against ALL class embeddings T_c — the class
  prototypes — with the clip's class as the positive.
- L_fg: InfoNCE of the projected f_mid against the batch's FG-Text embeddings T_fg, in one of
  three modes (`FG_LOSS_MODES`):
  `paper`, the paper's Eq. 1: video → text only, one positive per clip (its own T_fg), the
  other clips' T_fg of the batch as negatives, even where they are the same sentence;
  `symmetric`: open_clip's form, the mean of video → text and text → video, one positive;
  `multi-positive`: symmetric, and clips with the same T_fg (the same motion) are positives of
  each other, not negatives.
  Negatives come from every data-parallel rank (`gather_across_ranks`).

Embeddings are L2-normalised here; the logit scale is exp(learnable log-scale), clamped by the
model. Identical texts are found by equal embeddings: the text cache maps one text to one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F

from training.config import FG_LOSS_MODES

FgLossMode = Literal["paper", "symmetric", "multi-positive"]


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_cls: mean cross-entropy."""
    return F.cross_entropy(logits.float(), labels)


def class_prototype_loss(
    video: torch.Tensor, class_texts: torch.Tensor, labels: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """L_cp: each clip's f_high [B, D] against every class embedding T_c [C, D]."""
    logits = logit_scale * _normalize(video) @ _normalize(class_texts).T
    return F.cross_entropy(logits, labels)


def multi_positive_nce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Mean over rows of -log Σ_{p∈P_i} softmax(logits_i)_p (MIL-NCE's form).

    With one positive per row this is plain cross-entropy. The sum sits inside the log on
    purpose: averaging log-probabilities over positives (SupCon's form) equals the plain loss
    whenever the positives are identical texts, so it would not stop pushing them apart.
    Every row needs a positive.
    """
    log_prob = F.log_softmax(logits, dim=1)
    per_row = -torch.logsumexp(log_prob.masked_fill(~positives, float("-inf")), dim=1)
    return per_row.mean()


def same_text_mask(texts_a: torch.Tensor, texts_b: torch.Tensor) -> torch.Tensor:
    """[A, B] bool: row i of `texts_a` equals row j of `texts_b` (cached embeddings of one text)."""
    return (texts_a[:, None, :] == texts_b[None, :, :]).all(-1)


def fine_grained_loss(
    video: torch.Tensor,
    texts: torch.Tensor,
    logit_scale: torch.Tensor,
    *,
    mode: FgLossMode = "paper",
) -> torch.Tensor:
    """L_fg: the projected f_mid [B, D] against the batch's T_fg embeddings [B, D] (`mode`).

    Under data parallelism every rank computes the loss of the whole global batch (so its value
    equals the single-process loss of the concatenated batch), differentiable in its own part.
    A rank whose batch is empty (every clip failed to decode) passes zero rows and still takes
    part in the gathers, so the other ranks never wait for it.
    """
    if mode not in FG_LOSS_MODES:
        raise ValueError(f"unknown L_fg mode {mode!r}; expected one of {FG_LOSS_MODES}")
    all_video = gather_across_ranks(video)
    all_texts = gather_across_ranks(texts)
    if len(all_texts) == 0:  # every rank's batch is empty
        return video.sum() * 0
    logits = logit_scale * _normalize(all_video) @ _normalize(all_texts).T
    if mode == "multi-positive":
        positives = same_text_mask(all_texts, all_texts)
    else:
        positives = torch.eye(len(all_texts), dtype=torch.bool, device=logits.device)
    loss = multi_positive_nce(logits, positives)  # video → text: Eq. 1
    if mode != "paper":
        loss = (loss + multi_positive_nce(logits.T, positives.T)) / 2
    world = _world_size()
    if world > 1:
        # Each rank holds the exact gradient for its own features only; DDP/DeepSpeed then
        # average over ranks, so scale the gradient (not the value) by the world size to land
        # on the single-process gradient, as L_cls (a local mean, averaged) does.
        loss = loss + (world - 1) * (loss - loss.detach())
    return loss


def gather_across_ranks(features: torch.Tensor) -> torch.Tensor:
    """Every rank's rows concatenated in rank order.

    The local rows keep their gradient; the other ranks' are constants. Ranks may hold
    different numbers of rows (a batch shrinks when a corrupt clip is dropped).
    """
    world = _world_size()
    if world == 1:
        return features
    rank = dist.get_rank()
    size = torch.tensor([features.shape[0]], device=features.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    counts = [int(s.item()) for s in sizes]
    padded = features.new_zeros((max(counts), *features.shape[1:]))
    padded[: features.shape[0]] = features.detach()
    chunks = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(chunks, padded)
    parts = [chunk[:n] for chunk, n in zip(chunks, counts, strict=True)]
    parts[rank] = features
    return torch.cat(parts)


@dataclass(frozen=True)
class LossWeights:
    """λ of each term; 0 switches a term off (it is then neither computed nor logged)."""

    fg: float = 1.0
    cp: float = 1.0


def combine_losses(terms: dict[str, torch.Tensor], weights: LossWeights) -> torch.Tensor:
    """L = L_cls + λ_fg·L_fg + λ_cp·L_cp over the terms present."""
    lambdas = {"cls": 1.0, "fg": weights.fg, "cp": weights.cp}
    return sum(lambdas[name] * value for name, value in terms.items())


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x.float(), dim=-1)


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
