"""Clustering helpers: defaults that scale with n, identical papers kept together, the shared
neighbour graph, outlier reassignment."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from pipeline.cluster import _reassign_outliers, merge_identical_clusters, resolve_params
from pipeline.config import ClusterConfig
from pipeline.neighbours import exact_cosine_knn


def test_defaults_scale_with_corpus_size():
    """Neighbours and cluster sizes grow with n; explicit config values win."""
    small, mid, large = (resolve_params(n, ClusterConfig()) for n in (30, 10_000, 100_000))
    assert small["min_cluster_size"] < mid["min_cluster_size"] < large["min_cluster_size"]
    assert small["n_neighbors"] < mid["n_neighbors"] <= large["n_neighbors"]
    assert small["max_cluster_size"] == 0 and mid["max_cluster_size"] == 1000
    assert resolve_params(12, ClusterConfig())["n_neighbors"] <= 11
    fixed = resolve_params(10_000, ClusterConfig(min_cluster_size=7, n_neighbors=9))
    assert (fixed["min_cluster_size"], fixed["n_neighbors"]) == (7, 9)


def test_sample_looks_for_the_corpus_clusters():
    """A sample of a larger corpus derives its smallest cluster from the corpus, scaled to the
    sample (continuous where the sample is the whole corpus); an explicit value wins."""
    whole = resolve_params(20_000, ClusterConfig())
    assert resolve_params(20_000, ClusterConfig(), n_corpus=20_000) == whole
    sample = resolve_params(20_000, ClusterConfig(), n_corpus=80_000)
    assert sample["min_cluster_size"] == round(80_000**0.5 / 2 / 4)  # 35
    assert sample["max_cluster_size"] == whole["max_cluster_size"] == 2_000
    fixed = resolve_params(20_000, ClusterConfig(min_cluster_size=60), n_corpus=80_000)
    assert fixed["min_cluster_size"] == 60


def test_identical_papers_make_one_cluster():
    """Clusters with identical centroids (the same text under many ids) become one, the smaller
    id; distinct clusters and the unassigned papers are untouched."""
    rng = np.random.default_rng(0)
    same = rng.standard_normal(8)
    other = rng.standard_normal(8)
    embeddings = np.vstack([np.tile(same, (30, 1)), other + 0.1 * rng.standard_normal((10, 8))])
    labels = np.array([0] * 15 + [2] * 15 + [1] * 9 + [-1])
    merged = merge_identical_clusters(labels, embeddings)
    assert set(merged[:30]) == {0} and set(merged[30:39]) == {1} and merged[39] == -1


def test_exact_knn_matches_brute_force_and_puts_self_first():
    """The shared neighbour graph equals scikit-learn's brute-force cosine neighbours."""
    points = np.random.default_rng(0).standard_normal((500, 16)).astype(np.float32)
    indices, distances = exact_cosine_knn(points, 10)
    ref_dist, ref_idx = (
        NearestNeighbors(n_neighbors=10, metric="cosine").fit(points).kneighbors(points)
    )
    assert (indices[:, 0] == np.arange(500)).all()
    assert (indices == ref_idx).mean() > 0.999
    assert np.allclose(distances, ref_dist, atol=1e-5)


def test_outliers_join_a_similar_cluster_only():
    """Noise joins the most similar centroid at or above the threshold; the rest stays -1."""
    emb = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [0.9, 0.2], [-1, -1]], dtype=np.float32)
    initial = np.array([0, 0, 1, 1, -1, -1])
    final = _reassign_outliers(initial, emb, threshold=0.5)
    assert list(final) == [0, 0, 1, 1, 0, -1]


def _planted_clusters(config: ClusterConfig, seed: int) -> tuple[np.ndarray, list[str]]:
    from pipeline.cluster import cluster_papers
    from pipeline.embed import BertopicEmbedder, paper_text
    from tests.fake_embedder import FakeEmbedder, planted_corpus

    embedder = FakeEmbedder()
    papers, topics = planted_corpus(n_per_topic=30, seed=3)
    docs = [paper_text(p) for p in papers]
    result = cluster_papers(
        docs, embedder.encode(docs), config, seed, BertopicEmbedder(embedder, None)
    )
    return result.cluster_ids, topics


def test_spectral_clusters_find_the_topics_whatever_the_seed():
    """The default space (spectral) has no randomness: seeds 42 and 7 give the same clusters, and
    they are the planted topics (whose neighbour graph falls apart into one piece per topic)."""
    from sklearn.metrics import adjusted_rand_score

    first, topics = _planted_clusters(ClusterConfig(), 42)
    second, _ = _planted_clusters(ClusterConfig(), 7)
    assert np.array_equal(first, second)
    assert adjusted_rand_score(topics, first) >= 0.95


def test_umap_space_remains_an_option():
    """`reduction = "umap"` clusters in UMAP's 5-d layout, as classic BERTopic does."""
    from sklearn.metrics import adjusted_rand_score

    assert resolve_params(1000, ClusterConfig(reduction="umap"))["n_components"] == 5
    assert resolve_params(1000, ClusterConfig())["n_components"] == 30
    found, topics = _planted_clusters(ClusterConfig(reduction="umap"), 42)
    assert adjusted_rand_score(topics, found) >= 0.8


def test_laplacian_layout_is_deterministic_and_separates_components(monkeypatch):
    """A graph of two pieces laid out in one dimension is its component indicator; the dense and
    the ARPACK solvers agree up to a rotation, and ARPACK gives the same layout twice."""
    import scipy.sparse

    from pipeline import spectral

    blocks = [scipy.sparse.random(40, 40, density=0.3, random_state=i) for i in (1, 2)]
    graph = scipy.sparse.block_diag(blocks).tocsr()
    graph = graph + graph.T
    first = np.sign(spectral.laplacian_layout(graph, 1)[:, 0])
    assert len(set(first[:40])) == 1 and len(set(first[40:])) == 1 and first[0] != first[-1]
    dense = spectral.laplacian_layout(graph, 3)
    assert dense.shape == (80, 3)
    monkeypatch.setattr(spectral, "DENSE_MAX", 10)
    arpack = spectral.laplacian_layout(graph, 3)

    def distances(x):
        return np.linalg.norm(x[:, None] - x[None], axis=-1)

    assert np.allclose(distances(arpack), distances(dense), atol=1e-3)  # a rotation apart
    assert np.array_equal(arpack, spectral.laplacian_layout(graph, 3))
