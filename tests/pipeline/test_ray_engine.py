"""The Ray engine on a local Ray with 2 CPUs (started once for the module): embedding as a Ray
Data job gives the in-process vectors, survives a killed worker and resumes an interrupted job
without embedding a text twice; parallel assignment agrees with the in-process sample fit; a
million planted points go through the sample fit, parallel assignment and the density layer; a run
from the command line's --engine ray publishes the same run-folder contract, its map placed by
Ray tasks; an unreachable cluster is one line."""

from __future__ import annotations

import json
import os
import resource
from collections import Counter

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # before Ray is imported: no report
ray = pytest.importorskip("ray", reason="ray is not installed (pip install -r requirements.txt)")

from dashboard import density  # noqa: E402
from pipeline import assign, contract  # noqa: E402
from pipeline.__main__ import main  # noqa: E402
from pipeline.assign import cluster_on_sample, layout_on_sample  # noqa: E402
from pipeline.config import (  # noqa: E402
    ClusterConfig,
    EmbedConfig,
    LayoutConfig,
    PipelineConfig,
    RayConfig,
)
from pipeline.embed import BertopicEmbedder, EmbeddingCache, cache_key, paper_text  # noqa: E402
from pipeline.engine import EngineError  # noqa: E402
from pipeline.engine.ray_engine import (  # noqa: E402
    EmbedActor,
    RayEngine,
    embed_actor_count,
    start_ray,
)
from pipeline.engine.shards import shard_folder, shard_path, shard_paths  # noqa: E402
from pipeline.run import build_run  # noqa: E402
from tests.fake_embedder import (  # noqa: E402
    FakeEmbedder,
    PlantedDocs,
    planted_corpus,
    planted_vectors,
)
from tests.ray_embedders import LOG_ENV, encoded_digests, text_digest  # noqa: E402

SPEC = "tests.ray_embedders:LoggingEmbedder"


@pytest.fixture(scope="module", autouse=True)
def local_ray(tmp_path_factory):
    """One local Ray (2 CPUs, a small object store, its files under a tmp folder) for the
    module; the encode log folder is set before it starts, so every worker sees it."""
    log = tmp_path_factory.mktemp("encode-log")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LOG_ENV, str(log))
        start_ray(
            num_cpus=2,
            temp_dir=str(tmp_path_factory.mktemp("ray")),
            object_store_memory=256 * 1024**2,
        )
        try:
            yield
        finally:
            ray.shutdown()


def _counts(texts) -> Counter:
    mine = {text_digest(t) for t in texts}
    return Counter(d for d in encoded_digests() if d in mine)


def test_ray_embedding_equals_in_process_and_lands_in_the_cache(tmp_path):
    """Vectors from the Ray Data job equal the in-process ones (cosine >= 0.9999), in input
    order; the shards are folded into the sqlite cache, so a second call embeds nothing."""
    papers, _ = planted_corpus(n_per_topic=12, seed=11)
    texts = [paper_text(p) for p in papers]
    embed = EmbedConfig(cache_dir=str(tmp_path / "cache"))
    engine = RayEngine(RayConfig(embed_block=8))
    result = engine.embed_papers(papers, SPEC, embed)
    expected = FakeEmbedder().encode(texts)
    cosine = (result.embeddings * expected).sum(axis=1)
    assert result.embeddings.shape == expected.shape and cosine.min() >= 0.9999
    assert (result.n_embedded, result.n_cached) == (len(papers), 0)
    assert shard_paths(shard_folder(embed.cache_dir)) == []
    cache = EmbeddingCache(embed.cache_dir)
    assert len(cache.get_many([cache_key(result.model_id, t) for t in texts])) == len(papers)
    cache.close()
    again = engine.embed_papers(papers, SPEC, embed)
    assert (again.n_embedded, again.n_cached) == (0, len(papers))
    assert set(_counts(texts).values()) == {1}


def test_interrupted_job_resumes_and_embeds_no_text_twice(tmp_path):
    """A job whose embedder raises after two blocks fails with one EngineError, keeping those
    blocks (folded from their shards); the rerun embeds only the rest: every text once."""
    papers, _ = planted_corpus(n_per_topic=10, seed=12)
    texts = [paper_text(p) for p in papers]
    embed = EmbedConfig(cache_dir=str(tmp_path / "cache"))
    engine = RayEngine(RayConfig(embed_block=10, embed_actors=1))
    with pytest.raises(EngineError, match="planted failure"):
        engine.embed_papers(papers, "tests.ray_embedders:FailingEmbedder", embed)
    done = _counts(texts)
    assert sum(done.values()) == 20  # two blocks of 10, then the failure
    resumed = engine.embed_papers(papers, SPEC, embed)
    assert (resumed.n_cached, resumed.n_embedded) == (20, len(papers) - 20)
    counts = _counts(texts)
    assert len(counts) == len(set(texts)) and set(counts.values()) == {1}
    cosine = (resumed.embeddings * FakeEmbedder().encode(texts)).sum(axis=1)
    assert cosine.min() >= 0.9999


def test_killed_worker_is_restarted_and_no_text_is_embedded_twice(tmp_path):
    """A worker process that dies mid-job is restarted by Ray and its block retried: the job
    finishes, every text is embedded exactly once, and the vectors are right."""
    papers, _ = planted_corpus(n_per_topic=8, seed=13)
    texts = [paper_text(p) for p in papers]
    embed = EmbedConfig(cache_dir=str(tmp_path / "cache"))
    engine = RayEngine(RayConfig(embed_block=8, embed_actors=2))
    result = engine.embed_papers(papers, "tests.ray_embedders:DyingEmbedder", embed)
    counts = _counts(texts)
    assert len(counts) == len(set(texts)) and set(counts.values()) == {1}
    cosine = (result.embeddings * FakeEmbedder().encode(texts)).sum(axis=1)
    assert cosine.min() >= 0.9999


@pytest.mark.parametrize(
    ("configured", "gpus", "cpus", "blocks", "expected"),
    [
        (0, 0, 16, 100, (16, 0.0)),  # no GPU: one actor per CPU
        (0, 1, 16, 100, (4, 0.25)),  # one GPU: four actors share it
        (0, 2, 4, 100, (4, 0.5)),  # no more actors than CPUs ...
        (0, 4, 2, 100, (4, 1.0)),  # ... but at least one per GPU
        (3, 1, 16, 100, (3, 1 / 3)),  # configured
        (0, 1, 16, 2, (2, 0.5)),  # never more actors than blocks
        (0, 0, 0, 5, (1, 0.0)),
    ],
)
def test_embedding_actors_per_gpu_and_cpu(configured, gpus, cpus, blocks, expected):
    assert embed_actor_count(configured, gpus, cpus, blocks) == pytest.approx(expected)


def test_block_whose_shard_exists_is_not_encoded_again(tmp_path):
    """A worker that died after writing its block's shard but before returning: Ray retries the
    block, and the actor finds the shard (named by the block's keys) and encodes nothing."""
    papers, _ = planted_corpus(n_per_topic=3, seed=15)
    texts = [paper_text(p) for p in papers]
    keys = [cache_key(FakeEmbedder().model_id, t) for t in texts]
    actor = EmbedActor(SPEC, 0, str(tmp_path))
    batch = {"key": np.array(keys, dtype=object), "text": np.array(texts, dtype=object)}
    assert actor(batch)["n_embedded"].tolist() == [len(texts)]
    assert actor(batch)["n_embedded"].tolist() == [len(texts)]  # the retry
    assert set(_counts(texts).values()) == {1}
    assert shard_paths(tmp_path) == [shard_path(tmp_path, keys)]


def test_parallel_assignment_agrees_with_the_in_process_sample_fit():
    """Assigning the papers outside the sample as Ray tasks over chunks gives the clusters the
    in-process path (one chunk, this process) gives for the same fit and seed: ARI >= 0.99."""
    embedder = FakeEmbedder()
    papers, topics = planted_corpus(n_per_topic=80, seed=14)
    docs = [paper_text(p) for p in papers]
    vectors = embedder.encode(docs)
    engine = RayEngine(RayConfig(assign_chunk=100))
    in_process = []

    def both(fn, shared, rows):  # one fit, assigned both ways
        in_process.append(fn(rows, shared))
        return engine.map_chunks(fn, shared, rows)

    config = ClusterConfig(fit_sample=150)
    spread = cluster_on_sample(
        docs, vectors, config, 42, BertopicEmbedder(embedder, None), map_chunks=both
    )
    (local,) = in_process
    outside = np.setdiff1d(np.arange(len(papers)), assign.sample_indices(len(papers), 150, 42))
    assert len(local.cluster_ids) == len(outside) == 250
    assert adjusted_rand_score(local.cluster_ids, spread.cluster_ids[outside]) >= 0.99
    assert adjusted_rand_score(topics, spread.cluster_ids) >= 0.9


MILLION_PEAK_GB = 6.0  # this process's peak RSS for the million-point run (the machine has 24)


def test_a_million_planted_points_through_sample_fit_parallel_assign_and_density():
    """1,000,000 synthetic papers (random 16-d unit vectors around 20 planted centres, no model)
    go the millions path: the clustering and the map fitted on a 2,000 sample, every other
    point assigned and placed by Ray tasks over chunks; the clusters are the planted ones, the
    dashboard's density layer counts every point and draws a capped sample holding every
    cluster, and this process's peak memory stays under MILLION_PEAK_GB."""
    n, sample = 1_000_000, 2_000
    vectors, planted = planted_vectors(n, 16, 20, seed=5)
    engine = RayEngine(RayConfig(assign_chunk=100_000))
    keywords = BertopicEmbedder(FakeEmbedder(), None)
    # 1,000,000 papers' derived cluster size (500) scaled to a 2,000 sample is 1 paper: say
    # what a cluster is here (each planted one has about 100 papers in the sample)
    config = ClusterConfig(fit_sample=sample, min_cluster_size=40)
    result = cluster_on_sample(
        PlantedDocs(planted), vectors, config, 42, keywords, map_chunks=engine.map_chunks
    )
    assert len(result.cluster_ids) == n
    assert adjusted_rand_score(planted, result.cluster_ids) >= 0.99
    layout = layout_on_sample(vectors, LayoutConfig(), 42, sample, map_chunks=engine.map_chunks)
    assert np.isfinite(layout.map_x).all() and np.isfinite(layout.map_y).all()
    grid = density.density_grid(layout.map_x, layout.map_y)
    assert grid.n_papers == n
    drawn = density.sample_rows(np.arange(n), result.cluster_ids)
    assert len(drawn) <= density.MAX_POINTS
    assert set(result.cluster_ids[drawn]) == set(result.cluster_ids)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    assert peak_gb < MILLION_PEAK_GB


def test_ray_run_from_the_command_line_is_the_same_contract(tmp_path, capsys):
    """`pipeline run --engine ray` with a fit sample publishes a run the contract reads: every
    paper assigned and placed, planted topics recovered, the engine in the manifest."""
    papers, topics = planted_corpus(n_per_topic=50, seed=15)
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"arxiv_id": f"2401.{k:05d}", "title": p.title, "abstract": p.abstract})
            + "\n"
            for k, p in enumerate(papers)
        )
    )
    config = tmp_path / "config.toml"
    cache = tmp_path / "cache"
    config.write_text(f'[embed]\ncache_dir = "{cache}"\n[cluster]\nfit_sample = 150\n')
    runs = tmp_path / "runs"
    code = main(
        ["run", str(corpus), "--engine", "ray", "--embedder", SPEC, "--config", str(config)]
        + ["--out", str(runs), "--no-progress"]
    )
    assert code == 0, capsys.readouterr().err
    run = contract.read_run(runs, contract.latest_run_id(runs))
    assert len(run.assignments) == len(papers)
    assert run.manifest.config["engine"] == "ray"
    assert run.manifest.cluster_params["fit_sample"] == 150
    by_id = dict(zip(run.assignments["paper_id"], run.assignments["cluster_id"], strict=True))
    planted = {f"arxiv:2401.{k:05d}": topic for k, topic in enumerate(topics)}
    ids = list(planted)
    assert adjusted_rand_score([planted[i] for i in ids], [by_id[i] for i in ids]) >= 0.9
    coords = run.assignments[["map_x", "map_y"]].to_numpy()
    assert np.isfinite(coords).all()
    # Papers placed on the sample's map by Ray tasks sit beside papers of their own topic.
    topic = [planted[i] for i in run.assignments["paper_id"]]
    distances = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)
    assert np.mean([topic[i] == topic[j] for i, j in enumerate(nearest)]) >= 0.9


def test_ray_engine_refuses_a_live_embedder(tmp_path):
    """A live embedder object cannot travel to Ray's workers: the run says to give a spec."""
    from pipeline.run import RunError

    papers, _ = planted_corpus(n_per_topic=3, seed=16)
    config = PipelineConfig(engine="ray", embed=EmbedConfig(cache_dir=str(tmp_path / "c")))
    with pytest.raises(RunError, match="module:factory"):
        build_run(papers, [], config, tmp_path / "runs", embedder=FakeEmbedder())


def test_unreachable_cluster_address_is_one_line_error():
    """An address where no Ray head listens fails at once with one line naming it (Ray itself
    would retry for minutes)."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EngineError, match=rf"cannot reach the Ray cluster at 127.0.0.1:{port}: "):
        start_ray(f"127.0.0.1:{port}")


def test_address_of_another_cluster_than_the_running_session_is_refused():
    """Library use: with Ray already running in this process (the module's local Ray), an
    engine configured for another cluster's address is refused in one line instead of quietly
    running on the local session; its own address or none uses that session."""
    current = ray.get_runtime_context().gcs_address
    with pytest.raises(EngineError, match="already uses the Ray cluster at"):
        RayEngine(RayConfig(address="10.255.0.9:6379")).resources()
    assert RayEngine(RayConfig(address=current)).resources()["CPU"] == 2
    assert RayEngine(RayConfig()).resources()["CPU"] == 2
