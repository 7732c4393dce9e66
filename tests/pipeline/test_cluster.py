"""Clustering helpers: defaults that scale with n, readable labels, the shared neighbour graph,
outlier reassignment."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from pipeline.cluster import _reassign_outliers, resolve_params
from pipeline.config import ClusterConfig
from pipeline.labels import generic_phrases, make_label
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


def test_labels_are_two_to_four_words_without_repeats():
    """Labels take 2-4 words from the best keyphrases, skip repeated words and generic phrases."""
    assert (
        make_label(["reward model", "reward models", "preference", "dpo"])
        == "reward model, preference"
    )
    assert make_label(
        ["language models", "robot grasping"], skip=frozenset({"language models"})
    ) == ("robot grasping")
    assert make_label(["robot"]) == "robot papers"
    assert make_label([]) == ""
    for keywords in (["a b c d e"], ["x", "y", "z", "w"], ["long phrase here", "more words"]):
        label = make_label(keywords)
        assert label == "" or 2 <= len(label.replace(",", " ").split()) <= 4


def test_generic_phrases_are_those_shared_by_many_clusters():
    """A phrase in the keywords of more than a quarter of the clusters (and > 2) is generic."""
    keywords = {i: ["language models", f"topic {i}"] for i in range(8)}
    keywords[0] = ["unique", "topic 0"]
    assert generic_phrases(keywords) == frozenset({"language models"})


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
