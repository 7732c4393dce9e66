"""Embedding stage: the content-hash cache and the bundled-model embedder."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import EmbedConfig
from pipeline.embed import (
    Embedder,
    EmbeddingCache,
    cache_key,
    embed_papers,
    encode_cached,
)
from tests.fake_embedder import FakeEmbedder, planted_corpus


def test_fake_embedder_is_an_embedder():
    """The fake embedder satisfies the Embedder protocol and returns unit float32 rows."""
    embedder = FakeEmbedder()
    assert isinstance(embedder, Embedder)
    vectors = embedder.encode(["reward preference", "robot grasping"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, embedder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_cache_never_re_embeds_and_keeps_order(tmp_path):
    """Texts already cached (even from another input) are not embedded again; order is kept."""
    embedder = FakeEmbedder()
    cache = EmbeddingCache(tmp_path)
    first, hits = encode_cached(["a b", "c d", "a b"], embedder, cache, batch_size=2)
    assert hits == 0 and embedder.n_encoded == 2  # the duplicate text is embedded once
    embedder.n_encoded = 0
    second, hits = encode_cached(["c d", "e f", "a b"], embedder, cache)
    assert hits == 2 and embedder.n_encoded == 1
    assert np.array_equal(second[0], first[1]) and np.array_equal(second[2], first[0])
    assert len(cache) == 3
    cache.close()


def test_cache_key_depends_on_model_and_text():
    """The same text under another model id is another cache entry."""
    assert cache_key("m1", "text") != cache_key("m2", "text")
    assert cache_key("m1", "text") != cache_key("m1", "text ")
    assert cache_key("m1", "text") == cache_key("m1", "text")


def test_cache_scales_to_many_vectors(tmp_path):
    """20k vectors go in and come back out of the sqlite cache intact."""
    cache = EmbeddingCache(tmp_path)
    keys = [cache_key("m", str(i)) for i in range(20_000)]
    vectors = np.random.default_rng(0).standard_normal((20_000, 8)).astype(np.float32)
    cache.put_many(keys, vectors)
    found = cache.get_many(keys[::-1])
    assert len(found) == 20_000
    assert np.array_equal(found[keys[123]], vectors[123])
    cache.close()


def test_embed_papers_counts_cache_hits(tmp_path):
    """embed_papers reports embedded vs cached papers; use_cache=false bypasses the cache."""
    papers, _ = planted_corpus(n_per_topic=4, seed=3)
    config = EmbedConfig(cache_dir=str(tmp_path))
    first = embed_papers(papers, FakeEmbedder(), config)
    second = embed_papers(papers, FakeEmbedder(), config)
    assert (first.n_embedded, first.n_cached) == (len(papers), 0)
    assert (second.n_embedded, second.n_cached) == (0, len(papers))
    assert np.array_equal(first.embeddings, second.embeddings)
    embedder = FakeEmbedder()
    embed_papers(papers, embedder, EmbedConfig(cache_dir=str(tmp_path), use_cache=False))
    assert embedder.n_encoded == len(papers)


@pytest.mark.real_model
def test_bundled_model_embeds_offline():
    """The bundled all-MiniLM-L6-v2 loads from its package path and gives 384-d unit vectors."""
    from pipeline.embed import embedder_from_config

    embedder = embedder_from_config(EmbedConfig())
    vectors = embedder.encode(
        [
            "reinforcement learning from human feedback",
            "reward model for preference alignment",
            "robot arm",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_device_auto_prefers_cuda_then_mps_then_cpu():
    """`embed.device = "auto"` picks cuda when torch sees it, else mps, else cpu; a named device
    is kept as given."""
    from pipeline.embedders import resolve_device

    assert resolve_device("auto", has_cuda=True, has_mps=True) == "cuda"
    assert resolve_device("auto", has_cuda=False, has_mps=True) == "mps"
    assert resolve_device("auto", has_cuda=False, has_mps=False) == "cpu"
    assert resolve_device("cpu", has_cuda=True, has_mps=False) == "cpu"
    assert resolve_device("cuda:1", has_cuda=True, has_mps=False) == "cuda:1"


def test_batch_size_adapts_to_the_device():
    """Batch size 0 means the device's default (larger on a GPU); a configured size is kept."""
    from pipeline.embedders import DEVICE_BATCH_SIZE, resolve_batch_size

    assert resolve_batch_size(0, "cpu") == DEVICE_BATCH_SIZE["cpu"]
    assert resolve_batch_size(0, "cuda:1") == DEVICE_BATCH_SIZE["cuda"]
    assert resolve_batch_size(0, "mps") == DEVICE_BATCH_SIZE["mps"]
    assert DEVICE_BATCH_SIZE["cuda"] > DEVICE_BATCH_SIZE["cpu"]
    assert resolve_batch_size(32, "cuda") == 32


def test_model_ids_keep_settings_apart_and_existing_caches_valid(tmp_path):
    """Every setting that changes a vector (model, token window) changes the model id, hence the
    cache key; the bundled model at its own 256-token window keeps the id caches already use.
    Building an embedder loads nothing."""
    from pipeline.embedders import BUNDLED_MODEL_ID, embedder_from_config

    ids = {
        (model, tokens): embedder_from_config(
            EmbedConfig(model=model, max_tokens=tokens, cache_dir=str(tmp_path))
        ).model_id
        for model in ("bundled", "fast")
        for tokens in (128, 256)
    }
    assert len(set(ids.values())) == 4
    assert ids[("bundled", 256)] == BUNDLED_MODEL_ID
    embedder = embedder_from_config(EmbedConfig(cache_dir=str(tmp_path)))
    assert embedder._model is None and embedder.device == "auto"


def test_vectors_of_different_settings_never_mix(tmp_path):
    """One cache folder holding vectors of two model ids returns each id only its own vectors."""
    cache = EmbeddingCache(tmp_path)
    texts = ["reward preference", "robot grasping"]
    first, _ = encode_cached(texts, FakeEmbedder(seed=0), cache)
    other = FakeEmbedder(seed=1)
    second, hits = encode_cached(texts, other, cache)
    assert hits == 0 and other.n_encoded == 2
    assert not np.allclose(first, second)
    cache.close()


def test_misses_are_embedded_in_chunks_of_several_batches(tmp_path):
    """Misses reach the embedder in chunks of CHUNK_BATCHES batches (one cache commit each)."""
    from pipeline.embed import CHUNK_BATCHES

    embedder = FakeEmbedder()
    sizes: list[int] = []
    original = embedder.encode
    embedder.encode = lambda texts, batch_size=0: sizes.append(len(texts)) or original(texts)
    texts = [f"text {i}" for i in range(5 * CHUNK_BATCHES * 2 + 3)]
    vectors, _ = encode_cached(texts, embedder, EmbeddingCache(tmp_path), batch_size=2)
    assert sizes == [2 * CHUNK_BATCHES] * 5 + [3]
    assert vectors.shape == (len(texts), embedder.dim)


def _tiny_static_model(folder):
    """A five-word model2vec model (word-level tokenizer, seeded vectors) saved to `folder`."""
    from model2vec import StaticModel
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["[UNK]", "[PAD]", "reward", "robot", "corpus", "grasping", "preference"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    vectors = np.random.default_rng(0).standard_normal((len(words), 8)).astype(np.float32)
    StaticModel(vectors=vectors, tokenizer=tokenizer, normalize=True).save_pretrained(folder)
    return folder


def test_fast_model_is_distilled_once_into_the_cache_folder(tmp_path, monkeypatch):
    """`embed.model = "fast"` distils its static model on first use into cache_dir/models/ and
    reads it from there afterwards; it encodes to unit float32 rows."""
    from pipeline import embedders

    calls = []

    def fake_distil(source, target, device="cpu"):
        calls.append(target)
        return _tiny_static_model(target)

    monkeypatch.setattr(embedders, "distil_static_model", fake_distil)
    config = EmbedConfig(model="fast", cache_dir=str(tmp_path), device="cpu")
    first = embedders.embedder_from_config(config).encode(["reward preference", "robot grasping"])
    again = embedders.embedder_from_config(config).encode(["reward preference", "robot grasping"])
    assert calls == [tmp_path / "models" / embedders.FAST_MODEL_DIR]
    assert first.dtype == np.float32 and first.shape == (2, 8)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.allclose(first, again)
