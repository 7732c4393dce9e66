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
