"""The text cache: every distinct T_fg and T_c of a dataset, encoded once by a frozen text encoder.

The text encoder is frozen, so its outputs are constants: `fgsgl-train embed-text` encodes each
distinct text once and training reads the cache, never loading the language model. An encoder is
either an InternVL checkpoint (its language model and tokenizer: the paper's set-up) or any Hugging
Face text encoder folder (AutoModel + AutoTokenizer, e.g. all-MiniLM-L6-v2). The embedding of a
text is the last layer's hidden states pooled over its tokens (attention-masked): `mean`, `last`
(the last real token, for decoder LLMs) or `cls` (the first token).

A cache is one safetensors file: the tensor "embeddings" [n, D] (float32) and, in its metadata, the
JSON list of the n texts plus the model, pooling and dim. Default location:
`DATASET/text-cache/<model folder name>-<pooling>.safetensors`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import torch

from fgtext.dataset import open_dataset
from fgtext.errors import FgTextError
from training.prepare import temporary_path

__all__ = [
    "POOLINGS",
    "TextCache",
    "build_text_cache",
    "dataset_texts",
    "default_cache_path",
    "embed_texts",
    "load_text_encoder",
]

Pooling = Literal["mean", "last", "cls"]
POOLINGS: tuple[str, ...] = ("mean", "last", "cls")
CACHE_FORMAT = "fgsgl-text-cache/1"
CACHE_FOLDER = "text-cache"
_MAX_TOKENS = 512  # FG-Text sentences are ~20 tokens; this only guards against runaway input


def load_text_encoder(model_path: str | Path, *, device: str = "cpu", dtype=None):
    """(encoder, tokenizer) of a local folder: an InternVL checkpoint's language model, or any
    AutoModel text encoder. Frozen and in eval mode."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folder = Path(model_path)
    if not (folder / "config.json").is_file():
        raise FgTextError(
            f"{folder} is not a model folder: expected a config.json of a Hugging Face "
            "checkpoint (an InternVL checkpoint or a text encoder such as all-MiniLM-L6-v2)"
        )
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    dtype = dtype or (torch.bfloat16 if str(device).startswith("cuda") else torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if config.model_type == "internvl":
        from training.backbones import load_internvl

        # only the language model is used; the vision tower is small next to it
        encoder = load_internvl(folder, dtype=dtype).model.language_model
    else:
        encoder = AutoModel.from_pretrained(folder, dtype=dtype, local_files_only=True)
    if tokenizer.pad_token is None:  # decoder LLM tokenizers often have none; padding is masked
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    encoder.to(device).eval().requires_grad_(False)
    return encoder, tokenizer


def _pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool [B, L, D] hidden states over the real tokens of `mask` [B, L] (either padding side)."""
    mask = mask.to(hidden.dtype)
    if pooling == "mean":
        return (hidden * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1)
    positions = torch.arange(mask.shape[1], device=mask.device)
    if pooling == "last":
        index = (mask * positions).argmax(dim=1)  # the highest position holding a real token
    else:  # cls: the first real token
        index = (mask * (mask.shape[1] - positions)).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), index]


def _check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise FgTextError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")


@torch.no_grad()
def embed_texts(
    model_path: str | Path,
    texts: Sequence[str],
    *,
    pooling: Pooling = "mean",
    batch_size: int = 64,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    encoder_and_tokenizer=None,
) -> torch.Tensor:
    """Float32 [len(texts), D] embeddings: the encoder's last hidden states, pooled."""
    _check_pooling(pooling)
    if batch_size < 1:
        raise FgTextError(f"batch size must be at least 1 (got {batch_size})")
    encoder, tokenizer = encoder_and_tokenizer or load_text_encoder(model_path, device=device)
    # batches of similar length waste less padding; the result is put back in the input order
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    chunks: list[torch.Tensor] = []
    if progress:
        progress(0, len(texts))
    for start in range(0, len(order), batch_size):
        batch = [texts[i] for i in order[start : start + batch_size]]
        tokens = tokenizer(
            batch, padding=True, truncation=True, max_length=_MAX_TOKENS, return_tensors="pt"
        ).to(device)
        hidden = encoder(
            input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
        ).last_hidden_state
        chunks.append(_pool(hidden, tokens["attention_mask"], pooling).float().cpu())
        if progress:
            progress(min(start + batch_size, len(texts)), len(texts))
    if not chunks:
        raise FgTextError("there are no texts to embed")
    embeddings = torch.empty(len(texts), chunks[0].shape[1])
    embeddings[torch.tensor(order)] = torch.cat(chunks)
    return embeddings


class TextCache:
    """Embeddings of texts, looked up by the text itself."""

    def __init__(
        self,
        texts: Sequence[str],
        embeddings: torch.Tensor,
        *,
        model: str,
        pooling: str,
        path: Path | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        if embeddings.ndim != 2 or embeddings.shape[0] != len(texts):
            raise ValueError(
                f"{len(texts)} texts but embeddings of shape {tuple(embeddings.shape)}"
            )
        self.texts = list(texts)
        self.embeddings = embeddings
        self.model, self.pooling, self.path = model, pooling, path
        self.extra = dict(extra or {})
        self._index = {text: i for i, text in enumerate(self.texts)}
        if len(self._index) != len(self.texts):
            raise ValueError("the texts of a cache must be distinct")

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def __len__(self) -> int:
        return len(self.texts)

    def __contains__(self, text: object) -> bool:
        return text in self._index

    def lookup(self, texts: Sequence[str]) -> torch.Tensor:
        """[len(texts), dim] embeddings, in order; every text must be in the cache."""
        try:
            rows = [self._index[text] for text in texts]
        except KeyError as e:
            where = f"the text cache {self.path}" if self.path else "the text cache"
            raise FgTextError(
                f"{where} has no embedding for the text {e.args[0]!r}; rebuild it for this "
                "dataset with fgsgl-train embed-text"
            ) from None
        return self.embeddings[rows]

    def class_embeddings(self, class_texts: Sequence[str]) -> torch.Tensor:
        """[num_classes, dim] embeddings of the class-level texts T_c, ordered by class id."""
        return self.lookup(class_texts)

    def save(self, path: str | Path) -> Path:
        """Write the cache atomically (a temporary file renamed into place)."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {
            **self.extra,
            "format": CACHE_FORMAT,
            "texts": json.dumps(self.texts, ensure_ascii=False),
            "model": self.model,
            "pooling": self.pooling,
            "dim": str(self.dim),
        }
        tmp = temporary_path(path)
        try:
            save_file({"embeddings": self.embeddings.contiguous()}, str(tmp), metadata=metadata)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path) -> TextCache:
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        if not path.is_file():
            raise FgTextError(
                f"text cache {path} does not exist; make it with fgsgl-train embed-text"
            )
        try:
            with safe_open(str(path), framework="pt") as f:
                metadata = f.metadata() or {}
                if metadata.get("format") != CACHE_FORMAT:
                    raise FgTextError(
                        f"{path} is not a text cache: expected format {CACHE_FORMAT!r}, "
                        f"found {metadata.get('format')!r}"
                    )
                embeddings = f.get_tensor("embeddings")
        except (SafetensorError, OSError) as e:
            raise FgTextError(f"{path} is not a text cache (unreadable safetensors: {e})") from None
        extra = {
            k: v for k, v in metadata.items() if k not in {"format", "texts", "model", "pooling"}
        }
        return cls(
            json.loads(metadata["texts"]),
            embeddings,
            model=metadata["model"],
            pooling=metadata["pooling"],
            path=path,
            extra=extra,
        )


def _model_name(model_path: str | Path) -> str:
    folder = Path(model_path).resolve()
    # a packaged encoder often lives in a folder called "model": name it after its package
    name = folder.parent.name if folder.name.lower() in {"model", "models"} else folder.name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def default_cache_path(
    dataset_dir: str | Path, model_path: str | Path | None = None, *, pooling: str = "mean"
) -> Path:
    """`DATASET/text-cache/<model>-<pooling>.safetensors`; without a model, the one cache there
    (an error if there is none, or several to choose from)."""
    folder = Path(dataset_dir) / CACHE_FOLDER
    if model_path is not None:
        _check_pooling(pooling)
        return folder / f"{_model_name(model_path)}-{pooling}.safetensors"
    found = sorted(folder.glob("*.safetensors"))
    if not found:
        raise FgTextError(
            f"{dataset_dir} has no text cache (nothing in {folder}); make one with "
            f"fgsgl-train embed-text --model MODEL {dataset_dir}"
        )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise FgTextError(
            f"{folder} holds several text caches ({names}); name the one to use explicitly"
        )
    return found[0]


def dataset_texts(dataset_dir: str | Path) -> list[str]:
    """Every distinct text training can ask for: the class texts T_c (by class id), then the
    clips' T_fg in file order. Unlabelled clips have no text and add none."""
    dataset = open_dataset(dataset_dir)
    texts = [c.text for c in sorted(dataset.classes, key=lambda c: c.id)]
    texts += [clip.text for clip in dataset.clips() if clip.text]
    return list(dict.fromkeys(texts))


def build_text_cache(
    dataset_dir: str | Path,
    model_path: str | Path,
    out_path: str | Path | None = None,
    *,
    pooling: Pooling = "mean",
    batch_size: int = 64,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> TextCache:
    """Encode every distinct T_fg and T_c of a dataset and save the cache (default location:
    `default_cache_path(dataset_dir, model_path, pooling=...)`)."""
    _check_pooling(pooling)
    texts = dataset_texts(dataset_dir)
    embeddings = embed_texts(
        model_path, texts, pooling=pooling, batch_size=batch_size, device=device, progress=progress
    )
    cache = TextCache(
        texts,
        embeddings,
        model=str(Path(model_path).resolve()),
        pooling=pooling,
        extra={
            "dataset": open_dataset(dataset_dir).name,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    out = (
        Path(out_path) if out_path else default_cache_path(dataset_dir, model_path, pooling=pooling)
    )
    cache.save(out)
    return cache
