"""Assignment to a fitted clustering and map (pipeline/assign.py): new papers land in their planted
topic's cluster and beside it on the map, the outlier rule decides HDBSCAN's noise, and
fit-on-a-sample covers every paper."""

from __future__ import annotations

import dataclasses
from collections import Counter

import joblib
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import NearestNeighbors

from pipeline import assign
from pipeline import cluster as cluster_module
from pipeline.assign import (
    ExactCosineIndex,
    FittedModelsError,
    FittedRun,
    assign_clusters,
    cluster_on_sample,
    fitted_clusters,
    graph_place,
    load_fitted,
    place_on_map,
    save_fitted,
    transformable,
)
from pipeline.cluster import FIT_ALL, cluster_papers, fit_sample_size
from pipeline.config import ClusterConfig, EmbedConfig, LayoutConfig, PipelineConfig
from pipeline.contract import UNASSIGNED, read_run
from pipeline.embed import BertopicEmbedder, paper_text
from pipeline.layout import layout_papers
from pipeline.neighbours import exact_cosine_neighbours
from pipeline.run import build_run
from tests.fake_embedder import FakeEmbedder, planted_corpus


@pytest.fixture(scope="module")
def fitted():
    """A clustering and a map fitted on 200 planted papers, and 60 new papers of the same topics."""
    embedder = FakeEmbedder()
    papers, topics = planted_corpus(n_per_topic=40, seed=0)
    new_papers, new_topics = planted_corpus(n_per_topic=12, seed=5)
    docs = [paper_text(p) for p in papers]
    vectors = embedder.encode(docs)
    new_vectors = embedder.encode([paper_text(p) for p in new_papers])
    config = ClusterConfig()
    result = cluster_papers(docs, vectors, config, 42, BertopicEmbedder(embedder, None))
    layout = layout_papers(vectors, LayoutConfig(), 42)
    return {
        "vectors": vectors,
        "topics": topics,
        "result": result,
        "layout": layout,
        "models": fitted_clusters(result, vectors, config),
        "new_vectors": new_vectors,
        "new_topics": new_topics,
    }


def _majority_topic(cluster_ids, topics) -> dict[int, str]:
    votes: dict[int, Counter] = {}
    for cluster, topic in zip(cluster_ids, topics, strict=True):
        votes.setdefault(int(cluster), Counter())[topic] += 1
    return {cluster: count.most_common(1)[0][0] for cluster, count in votes.items()}


def test_new_papers_join_their_topics_cluster(fitted):
    """Papers the fit never saw are assigned to the cluster holding their planted topic."""
    found = assign_clusters(fitted["new_vectors"], fitted["models"])
    topic_of = _majority_topic(fitted["result"].cluster_ids, fitted["topics"])
    right = [
        topic_of.get(int(c)) == t
        for c, t in zip(found.cluster_ids, fitted["new_topics"], strict=True)
    ]
    assert np.mean(right) >= 0.9
    assert len(found.cluster_ids) == len(fitted["new_vectors"])
    assert ((found.probabilities >= 0) & (found.probabilities <= 1)).all()


def test_noise_is_placed_by_the_outlier_rule_or_stays_unassigned(fitted, monkeypatch):
    """When HDBSCAN calls a paper noise, it joins the most similar cluster centroid at or above
    the threshold, else stays unassigned; with reduce_outliers off it stays unassigned."""
    import hdbscan

    models = fitted["models"]
    monkeypatch.setattr(
        hdbscan, "approximate_predict", lambda model, points: (np.full(len(points), -1), None)
    )
    near = models.centroids[0] + 0.05 * np.random.default_rng(1).standard_normal(
        models.centroids.shape[1]
    )
    far = -models.centroids.sum(axis=0)
    vectors = np.stack([near, far]).astype(np.float32)
    found = assign_clusters(vectors, models)
    assert found.cluster_ids.tolist() == [int(models.centroid_ids[0]), UNASSIGNED]
    assert found.initial_cluster_ids.tolist() == [UNASSIGNED, UNASSIGNED]
    assert found.probabilities.tolist() == [0.0, 0.0]
    kept = assign_clusters(vectors, dataclasses.replace(models, reduce_outliers=False))
    assert kept.cluster_ids.tolist() == [UNASSIGNED, UNASSIGNED]


def test_new_papers_land_beside_their_topic_on_the_map(fitted):
    """The map UMAP's transform puts new papers among map points of their own topic."""
    map_x, map_y = place_on_map(fitted["new_vectors"], fitted["layout"].model)
    assert np.isfinite(map_x).all() and np.isfinite(map_y).all()
    old = np.column_stack([fitted["layout"].map_x, fitted["layout"].map_y])
    _, nearest = (
        NearestNeighbors(n_neighbors=1).fit(old).kneighbors(np.column_stack([map_x, map_y]))
    )
    same = [
        fitted["topics"][i] == t for i, t in zip(nearest[:, 0], fitted["new_topics"], strict=True)
    ]
    assert np.mean(same) >= 0.9


def test_quick_placement_agrees_with_the_umap_transform(fitted):
    """`graph_place` (UMAP transform's first step, no numba) puts new papers in the clusters the
    full transform puts them in, and a training paper on its own fitted coordinates."""
    quick = assign_clusters(fitted["new_vectors"], fitted["models"], quick=True)
    full = assign_clusters(fitted["new_vectors"], fitted["models"])
    assert adjusted_rand_score(full.cluster_ids, quick.cluster_ids) >= 0.9
    reducer = fitted["layout"].model
    coords = graph_place(reducer, fitted["vectors"][:5])
    assert np.allclose(coords, reducer.embedding_[:5], atol=1e-5)


def test_require_fit_leaves_papers_of_an_unseen_topic_unassigned():
    """With `require_fit`, papers of a topic the fit never saw, which placement puts among the
    fitted papers anyway, stay unassigned; papers of fitted topics keep their clusters."""
    embedder = FakeEmbedder()
    topics = ["data", "continual", "rl", "robot"]
    papers, _ = planted_corpus(n_per_topic=40, seed=0, topics=topics)
    vectors = embedder.encode([paper_text(p) for p in papers])
    config = ClusterConfig()
    result = cluster_papers(
        [paper_text(p) for p in papers], vectors, config, 42, BertopicEmbedder(embedder, None)
    )
    models = fitted_clusters(result, vectors, config)
    unseen, _ = planted_corpus(n_per_topic=15, seed=3, topics=["vision"])
    seen, _ = planted_corpus(n_per_topic=5, seed=3, topics=topics)
    strict = assign_clusters(
        embedder.encode([paper_text(p) for p in unseen + seen]),
        models,
        quick=True,
        require_fit=True,
    )
    assert (strict.cluster_ids[:15] == UNASSIGNED).mean() >= 0.9
    assert (strict.cluster_ids[15:] != UNASSIGNED).mean() >= 0.9


def test_saved_models_round_trip_and_refuse_other_embeddings(fitted, tmp_path):
    """Saved without their training vectors, the models load back from the run's embeddings and
    assign as before; embeddings that changed are refused."""
    run = FittedRun(fitted["models"], 0, fitted["layout"].model, np.arange(len(fitted["vectors"])))
    path = tmp_path / "fitted.joblib"
    save_fitted(path, run, fitted["vectors"])
    loaded = load_fitted(path, fitted["vectors"])
    new = fitted["new_vectors"]
    before = assign_clusters(new, fitted["models"], quick=True)
    after = assign_clusters(new, loaded.clusters, quick=True)
    assert np.array_equal(before.cluster_ids, after.cluster_ids)
    assert np.allclose(
        place_on_map(new, fitted["layout"].model, quick=True), place_on_map(new, loaded.map_model)
    )
    saved = joblib.load(path)["fitted"]  # the training vectors are not in the file
    assert saved.map_model.raw is None and saved.clusters.umap_model.raw is None
    with pytest.raises(FittedModelsError, match="do not match"):
        load_fitted(path, fitted["vectors"][::-1].copy())


def test_exact_index_answers_like_brute_force():
    """The exact cosine index (stand-in for UMAP's search index) returns the brute-force
    neighbours of query points, best first."""
    rng = np.random.default_rng(0)
    points = rng.standard_normal((400, 12)).astype(np.float32)
    queries = rng.standard_normal((30, 12)).astype(np.float32)
    indices, distances = ExactCosineIndex(points).query(queries, 7)
    ref_dist, ref_idx = (
        NearestNeighbors(n_neighbors=7, metric="cosine").fit(points).kneighbors(queries)
    )
    assert (indices == ref_idx).mean() > 0.99
    assert np.allclose(distances, ref_dist, atol=1e-5)
    assert np.array_equal(exact_cosine_neighbours(queries, points, 7)[0], indices)


def test_large_umap_fitted_on_a_precomputed_graph_becomes_transformable():
    """A UMAP fitted on a precomputed graph (no search index) gets the exact index over its own
    training vectors; a small-data UMAP, which needs none, is left alone."""

    class Fitted:
        _small_data = False
        metric = "cosine"
        _knn_search_index = None
        _raw_data = np.eye(5, dtype=np.float32)

    large = transformable(Fitted())
    assert isinstance(large._knn_search_index, ExactCosineIndex)
    small = Fitted()
    small._small_data = True
    assert transformable(small)._knn_search_index is None


def test_fit_on_a_sample_covers_every_paper(fitted):
    """Fit-on-a-sample fits on the seeded sample and assigns the rest: every paper has a
    cluster, labels cover every id, and the clusters still recover the planted topics."""
    embedder = FakeEmbedder()
    papers, topics = planted_corpus(n_per_topic=40, seed=0)
    docs = [paper_text(p) for p in papers]
    vectors = embedder.encode(docs)
    config = ClusterConfig(fit_sample=120)
    result = cluster_on_sample(docs, vectors, config, 42, BertopicEmbedder(embedder, None))
    assert len(result.cluster_ids) == len(papers) and result.params["fit_sample"] == 120
    assert set(result.cluster_ids.tolist()) <= set(result.labels)
    assert "assign" in result.timings_s
    assert adjusted_rand_score(topics, result.cluster_ids) >= 0.9
    inside = assign.sample_indices(len(papers), 120, 42)
    assert len(inside) == 120 and np.array_equal(inside, np.sort(inside))
    assert np.array_equal(assign.sample_indices(50, 0, 42), np.arange(50))


def test_run_with_fit_sample_publishes_every_paper(tmp_path):
    """`cluster.fit_sample` below the corpus size gives a complete run: one assignment per
    paper, recorded sample size, planted topics recovered, map and clustering saved for `add`
    as placements of the sample."""
    papers, topics = planted_corpus(n_per_topic=40, seed=0)
    config = PipelineConfig(
        embed=EmbedConfig(cache_dir=str(tmp_path / "cache")),
        cluster=ClusterConfig(fit_sample=150),
    )
    summary = build_run(papers, [], config, tmp_path / "runs", embedder=FakeEmbedder())
    run = read_run(tmp_path / "runs", summary.run_id)
    assert len(run.assignments) == len(papers)
    assert run.manifest.cluster_params["fit_sample"] == 150
    assert adjusted_rand_score(topics, run.assignments["cluster_id"]) >= 0.9
    # The map is fitted on the same sample, the others placed on it; what `add` keeps of it is
    # a Placement of those 150 rows, not the whole UMAP.
    assert np.isfinite(run.assignments[["map_x", "map_y"]].to_numpy()).all()
    saved = joblib.load(tmp_path / "runs" / summary.run_id / "model" / "fitted.joblib")["fitted"]
    assert isinstance(saved.map_model, assign.Placement) and len(saved.map_model.rows) == 150
    assert np.array_equal(saved.map_rows, saved.cluster_rows)
    assert isinstance(saved.clusters.umap_model, assign.Placement)
    assert saved.clusters.umap_model.unit_rows_  # the spectral space


def test_fit_sample_size_resolution(monkeypatch):
    """`cluster.fit_sample = 0` fits on every paper up to the threshold and on a sample of the
    threshold's size above it; an explicit size wins either way; -1 fits on every paper."""
    monkeypatch.setattr(cluster_module, "AUTO_FIT_SAMPLE", 150)
    assert fit_sample_size(120, 0) == 120
    assert fit_sample_size(150, 0) == 150
    assert fit_sample_size(200, 0) == 150
    assert fit_sample_size(200, 120) == 120 and fit_sample_size(120, 180) == 120
    assert fit_sample_size(1000, 180) == 180
    assert fit_sample_size(10**6, FIT_ALL) == 10**6
    assert np.array_equal(assign.fit_rows(120, ClusterConfig(), 42), np.arange(120))
    assert len(assign.fit_rows(200, ClusterConfig(), 42)) == 150


@pytest.mark.parametrize(("fit_sample", "sampled"), [(0, True), (FIT_ALL, False)])
def test_default_fits_large_corpora_on_a_sample(tmp_path, monkeypatch, fit_sample, sampled):
    """Above the threshold the default fits on a seeded sample and places the rest by their
    neighbours (no UMAP transform), still recovering the planted topics; -1 fits on all."""
    monkeypatch.setattr(cluster_module, "AUTO_FIT_SAMPLE", 150)

    def no_transform(*args, **kwargs):
        raise AssertionError("UMAP transform used")

    monkeypatch.setattr("umap.UMAP.transform", no_transform)
    papers, topics = planted_corpus(n_per_topic=40, seed=0)
    config = PipelineConfig(
        embed=EmbedConfig(cache_dir=str(tmp_path / "cache")),
        cluster=ClusterConfig(fit_sample=fit_sample),
    )
    summary = build_run(papers, [], config, tmp_path / "runs", embedder=FakeEmbedder())
    run = read_run(tmp_path / "runs", summary.run_id)
    assert len(run.assignments) == len(papers) == 200
    assert run.manifest.cluster_params.get("fit_sample") == (150 if sampled else None)
    assert adjusted_rand_score(topics, run.assignments["cluster_id"]) >= 0.9
