"""The engine choice without Ray running: config validation of `engine` and `[ray]`, the default
engine never importing Ray, and the embedding shards (write, read, fold, resume after a killed
driver) that the Ray job writes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pipeline.config import ConfigError, PipelineConfig, config_from_dict
from pipeline.embed import EmbeddingCache, cache_key
from pipeline.engine import EngineError, InProcess, open_engine
from pipeline.engine.shards import (
    embed_with_shards,
    fold_shards,
    read_shard,
    shard_folder,
    shard_paths,
    write_shard,
)
from tests.conftest import ROOT
from tests.fake_embedder import FakeEmbedder


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"engine": "spark"}, "engine = 'spark': must be one of in-process, ray"),
        ({"engine": "ray", "ray": {"address": "not an address"}}, "ray.address"),
        ({"ray": {"address": "auto"}}, 'only used with engine = "ray"'),
        ({"engine": "ray", "embed": {"use_cache": False}}, "embed.use_cache"),
        ({"engine": "ray", "ray": {"embed_block": 0}}, "ray.embed_block = 0"),
        ({"ray": {"workers": 2}}, "allowed: address, num_cpus"),
    ],
)
def test_engine_config_is_validated(data, message):
    """A bad engine, Ray address, block size or unknown [ray] key is one ConfigError naming it."""
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config_from_dict(data)


def test_ray_addresses_that_are_accepted():
    """auto, HOST:PORT and ray://HOST:PORT are accepted addresses for the ray engine."""
    for address in ("auto", "10.0.0.5:6379", "head-node:6379", "ray://head.example:10001"):
        assert config_from_dict({"engine": "ray", "ray": {"address": address}}).ray.address


def test_default_engine_runs_in_process_without_importing_ray():
    """The default engine is in-process, maps all rows in one call, and importing the pipeline
    and opening it never imports ray (the two-command setup needs no Ray)."""
    engine = open_engine(PipelineConfig())
    assert isinstance(engine, InProcess)
    assert engine.map_chunks(lambda rows, k: rows * k, 2, np.arange(3))[0].tolist() == [0, 2, 4]
    code = (
        "import sys, pipeline.run, pipeline.engine, pipeline.config as c;"
        "pipeline.engine.open_engine(c.PipelineConfig());"
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_shards_round_trip_and_fold_into_the_cache(tmp_path):
    """A shard reads back its keys and vectors; folding moves them into the sqlite cache and
    removes the shard; the same block written twice is one shard."""
    vectors = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    keys = [cache_key("m", str(i)) for i in range(5)]
    path = write_shard(tmp_path / "shards", keys, vectors)
    assert write_shard(tmp_path / "shards", keys, vectors) == path
    assert shard_paths(tmp_path / "shards") == [path]
    read_keys, read_vectors = read_shard(path)
    assert read_keys == keys and np.array_equal(read_vectors, vectors)
    cache = EmbeddingCache(tmp_path / "cache")
    assert fold_shards(tmp_path / "shards", cache) == 5
    assert shard_paths(tmp_path / "shards") == []
    assert np.array_equal(cache.get_many(keys)[keys[2]], vectors[2])
    cache.close()
    assert shard_folder("data/cache") == shard_folder("data/cache", "")
    assert str(shard_folder("c", "/mnt/shared/shards")) == "/mnt/shared/shards"


def test_shards_left_by_a_killed_driver_are_used_not_embedded_again(tmp_path):
    """Shards written by a job whose driver died (never folded) are folded before the next job:
    their texts are skipped, the job gets only the rest, and every vector comes back in order."""
    embedder = FakeEmbedder()
    texts = [f"paper {i} about corpus deduplication" for i in range(30)] + ["paper 0 again"] * 2
    folder = tmp_path / "shards"
    done = texts[:12]
    write_shard(folder, [cache_key(embedder.model_id, t) for t in done], embedder.encode(done))
    asked: list[str] = []

    def job(missing: dict[bytes, str]) -> None:
        asked.extend(missing.values())
        write_shard(folder, list(missing), embedder.encode(list(missing.values())))

    cache = EmbeddingCache(tmp_path / "cache")
    vectors, n_hit = embed_with_shards(texts, embedder.model_id, cache, folder, job)
    assert n_hit == 12 and sorted(asked) == sorted(set(texts[12:]))
    assert np.allclose(vectors, embedder.encode(texts))
    again, n_again = embed_with_shards(texts, embedder.model_id, cache, folder, job)
    assert n_again == len(texts) and len(asked) == len(set(texts[12:]))
    cache.close()


def test_a_job_that_leaves_texts_out_is_an_error(tmp_path):
    """A job that writes no shard for some texts fails loudly instead of returning holes."""
    cache = EmbeddingCache(tmp_path / "cache")
    with pytest.raises(EngineError, match="left 2 of 2 texts out"):
        embed_with_shards(["a", "b"], "m", cache, tmp_path / "shards", lambda missing: None)
    cache.close()
