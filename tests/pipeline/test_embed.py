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
