"""Assignment to an already-fitted clustering and map: reads the fitted 5-d UMAP + HDBSCAN of a
`ClusterResult` (with its clusters' centroids) or a fitted map UMAP, and embeddings of papers they
have not seen; produces cluster ids (-1 = unassigned) and map coordinates. Fit-on-a-sample uses it
for the papers outside the sample; `pipeline add` for new papers, with the models a run saved
(`save_fitted` / `load_fitted`)."""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.cluster import ClusterResult, ReassigningHDBSCAN, cluster_papers
from pipeline.config import ClusterConfig
from pipeline.contract import UNASSIGNED, UNASSIGNED_LABEL
from pipeline.derive import unit_rows
from pipeline.neighbours import exact_cosine_neighbours, neighbour_graph, neighbour_width


class ExactCosineIndex:
    """A search index over a UMAP's training vectors for `UMAP.transform`: exact cosine
    neighbours by blocked matrix products. UMAP keeps no index when it is fitted on a precomputed
    neighbour graph (as both our UMAPs are); this stands in for pynndescent's."""

    _angular_trees = True  # read by UMAP.transform; any value works for an exact search

    def __init__(self, points: np.ndarray):
        self.points = unit_rows(points)

    def query(self, queries: np.ndarray, k: int, epsilon: float = 0.0):
        return exact_cosine_neighbours(queries, self.points, k)


def transformable(reducer: Any) -> Any:
    """The fitted UMAP `reducer`, made able to `transform` new points (returns it). UMAP keeps its
    training vectors (`_raw_data`); small fits (under 4,096 points) compute exact distances
    themselves; larger ones get an ExactCosineIndex over those vectors when they have none."""
    if getattr(reducer, "_small_data", True) or reducer.metric != "cosine":
        return reducer
    if getattr(reducer, "_knn_search_index", None) is None:
        reducer._knn_search_index = ExactCosineIndex(reducer._raw_data)
    return reducer


@dataclass(frozen=True)
class FittedClusters:
    """What assigning new papers needs from a fitted clustering.

    `umap_model`: the fitted 5-d UMAP (transformable); `hdbscan_model`: the fitted HDBSCAN with
    prediction data; `cluster_of_label`: HDBSCAN's own label -> the run's cluster id;
    `centroid_ids` (k,) and `centroids` (k, dim, unit rows): each cluster's centroid in embedding
    space over HDBSCAN's own members (the outlier rule's reference, as in the fit).
    """

    umap_model: Any
    hdbscan_model: Any
    cluster_of_label: dict[int, int]
    centroid_ids: np.ndarray
    centroids: np.ndarray
    outlier_threshold: float
    reduce_outliers: bool


def fitted_clusters(
    result: ClusterResult, embeddings: np.ndarray, config: ClusterConfig
) -> FittedClusters | None:
    """The fitted models of `result` (fitted on `embeddings`, rows aligned); None when the fit
    clustered nothing (too few papers, or HDBSCAN found no cluster)."""
    model = result.model
    slot = getattr(model, "hdbscan_model", None)
    if not isinstance(slot, ReassigningHDBSCAN) or not result.params.get("clustered"):
        return None
    mapping = model.topic_mapper_.get_mappings(original_topics=True)
    labels = sorted({int(t) for t in slot.initial_labels_ if t != UNASSIGNED})
    ids = np.array(sorted({int(c) for c in result.initial_cluster_ids if c != UNASSIGNED}))
    centroids = np.stack([embeddings[result.initial_cluster_ids == c].mean(axis=0) for c in ids])
    return FittedClusters(
        umap_model=transformable(model.umap_model),
        hdbscan_model=slot.hdbscan_model,
        cluster_of_label={t: int(mapping.get(t, t)) for t in labels},
        centroid_ids=ids,
        centroids=unit_rows(centroids),
        outlier_threshold=config.outlier_threshold,
        reduce_outliers=config.reduce_outliers,
    )


@dataclass(frozen=True)
class Assignment:
    """Per new paper, in input order: `cluster_ids` (final, -1 = unassigned), `initial_cluster_ids`
    (HDBSCAN's prediction, -1 = noise), `probabilities` (HDBSCAN's strength, 0 for noise)."""

    cluster_ids: np.ndarray
    initial_cluster_ids: np.ndarray
    probabilities: np.ndarray


def assign_clusters(embeddings: np.ndarray, fitted: FittedClusters) -> Assignment:
    """Place new papers in the fitted clusters: UMAP `transform` into the clustering space, then
    HDBSCAN's approximate prediction; a paper HDBSCAN calls noise joins the cluster whose
    centroid is most cosine-similar when that reaches the outlier threshold (the fit's own rule),
    else stays unassigned."""
    from hdbscan import approximate_predict

    n = len(embeddings)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Assignment(empty, empty.copy(), np.zeros(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reduced = fitted.umap_model.transform(np.asarray(embeddings, dtype=np.float32))
        labels, strengths = approximate_predict(fitted.hdbscan_model, reduced)
    initial = np.array(
        [fitted.cluster_of_label.get(int(t), UNASSIGNED) for t in labels], dtype=np.int64
    )
    final = initial.copy()
    noise = np.flatnonzero(initial == UNASSIGNED)
    if fitted.reduce_outliers and len(noise):
        similarity = unit_rows(embeddings[noise]) @ fitted.centroids.T
        best = similarity.argmax(axis=1)
        ok = similarity[np.arange(len(noise)), best] >= fitted.outlier_threshold
        final[noise[ok]] = fitted.centroid_ids[best[ok]]
    probabilities = np.where(initial == UNASSIGNED, 0.0, np.asarray(strengths, dtype=np.float64))
    return Assignment(final, initial, np.nan_to_num(probabilities))


def place_on_map(embeddings: np.ndarray, map_model: Any) -> tuple[np.ndarray, np.ndarray]:
    """`map_x`, `map_y` (float64) of new papers on a fitted map UMAP (`LayoutResult.model`)."""
    if len(embeddings) == 0:
        return np.zeros(0), np.zeros(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = transformable(map_model).transform(np.asarray(embeddings, dtype=np.float32))
    coords = np.nan_to_num(np.asarray(coords, dtype=np.float64))
    return coords[:, 0].copy(), coords[:, 1].copy()


def sample_indices(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded random sample of `size` of n papers (all when size is 0 or
    not below n)."""
    if not size or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def cluster_on_sample(
    docs: Sequence[str],
    embeddings: np.ndarray,
    config: ClusterConfig,
    seed: int,
    embedding_model: Any,
    titles: Sequence[str] | None = None,
) -> ClusterResult:
    """`cluster_papers` fitted on a seeded sample of `config.fit_sample` papers, then every other
    paper assigned to the fitted clusters (`assign_clusters`). Sizes derive from the sample;
    labels, keywords and the hierarchy come from the sample's papers. The result covers all
    papers, in input order; `params` records the sample size and `timings_s` the assignment."""
    n = len(docs)
    inside = sample_indices(n, config.fit_sample, seed)
    sample_vectors = embeddings[inside]
    knn = neighbour_graph(sample_vectors, neighbour_width(len(inside), config.n_neighbors), seed)
    result = cluster_papers(
        [docs[i] for i in inside],
        sample_vectors,
        config,
        seed,
        embedding_model,
        knn=knn,
        titles=None if titles is None else [titles[i] for i in inside],
    )
    if len(inside) == n:
        return result
    outside = np.setdiff1d(np.arange(n), inside)
    started = time.perf_counter()
    fitted = fitted_clusters(result, sample_vectors, config)
    if fitted is None:  # nothing clustered: everyone joins the one cluster the sample formed
        only = int(result.cluster_ids[0])
        rest = Assignment(
            np.full(len(outside), only), np.full(len(outside), only), np.ones(len(outside))
        )
    else:
        rest = assign_clusters(embeddings[outside], fitted)
    seconds = time.perf_counter() - started

    def whole(sample_values: np.ndarray, rest_values: np.ndarray) -> np.ndarray:
        out = np.empty(n, dtype=np.result_type(sample_values, rest_values))
        out[inside], out[outside] = sample_values, rest_values
        return out

    cluster_ids = whole(result.cluster_ids, rest.cluster_ids)
    labels, keywords = dict(result.labels), dict(result.keywords)
    if (cluster_ids == UNASSIGNED).any():
        labels.setdefault(UNASSIGNED, UNASSIGNED_LABEL)
        keywords.setdefault(UNASSIGNED, ())
    return dataclasses.replace(
        result,
        cluster_ids=cluster_ids,
        labels=labels,
        keywords=keywords,
        initial_cluster_ids=whole(result.initial_cluster_ids, rest.initial_cluster_ids),
        probabilities=whole(result.probabilities, rest.probabilities),
        params={**result.params, "fit_sample": len(inside)},
        timings_s={**result.timings_s, "assign": seconds},
    )


# ------------------------------------------------------------------------------------------
# The fitted models a run keeps for `pipeline add` (contract.MODEL_DIR / contract.FITTED_MODELS)

FITTED_FORMAT = 1  # bumped when what `save_fitted` writes changes


class FittedModelsError(ValueError):
    """A run's saved models are missing, damaged or do not match its embeddings (one line)."""


@dataclass(frozen=True)
class FittedRun:
    """What adding papers to a run needs: `clusters` (None when the run clustered nothing: new
    papers join `only_cluster`), `map_model` (the fitted map UMAP; None below 16 papers), and
    `cluster_rows` (int64): the rows of the run's embeddings the clustering UMAP was fitted on
    (all of them, or the fit sample). The map UMAP was fitted on every row."""

    clusters: FittedClusters | None
    only_cluster: int
    map_model: Any
    cluster_rows: np.ndarray


def fit_rows(n: int, config: ClusterConfig, seed: int) -> np.ndarray:
    """The rows the clustering was fitted on (`cluster_on_sample`'s sample, or all)."""
    return sample_indices(n, config.fit_sample if 0 < config.fit_sample < n else 0, seed)


def _digest(vectors: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).hexdigest()


def _without_training_vectors(reducer: Any, rows: np.ndarray, embeddings: np.ndarray) -> Any:
    """A shallow copy of a fitted UMAP without its training vectors (`_raw_data`, which are
    `embeddings[rows]`) nor a search index over them: the run's embeddings.npy holds them."""
    import copy

    raw = getattr(reducer, "_raw_data", None)
    if raw is None or raw.shape != (len(rows), embeddings.shape[1]):
        return reducer
    digest = _digest(raw)
    if digest != _digest(embeddings[rows]):  # not the run's rows: keep them in the pickle
        return reducer
    light = copy.copy(reducer)
    light._raw_data = None
    if isinstance(getattr(light, "_knn_search_index", None), ExactCosineIndex):
        light._knn_search_index = None  # `transformable` makes it again
    light._rte_raw_digest = digest
    return light


def _with_training_vectors(reducer: Any, rows: np.ndarray, embeddings: np.ndarray) -> Any:
    digest = getattr(reducer, "_rte_raw_digest", None)
    if digest is None:
        return transformable(reducer)
    if len(rows) and rows.max() >= len(embeddings):
        raise FittedModelsError("the saved models were fitted on rows the run does not have")
    raw = np.ascontiguousarray(embeddings[rows], dtype=np.float32)
    if _digest(raw) != digest:
        raise FittedModelsError("the saved models do not match the run's embeddings")
    reducer._raw_data = raw
    return transformable(reducer)


def save_fitted(path: str | Path, fitted: FittedRun, embeddings: np.ndarray) -> None:
    """Pickle `fitted` (joblib) to `path`, the UMAPs without their training vectors."""
    import joblib

    all_rows = np.arange(len(embeddings))
    clusters = fitted.clusters
    if clusters is not None:
        light = _without_training_vectors(clusters.umap_model, fitted.cluster_rows, embeddings)
        clusters = dataclasses.replace(clusters, umap_model=light)
    map_model = fitted.map_model
    if map_model is not None:
        map_model = _without_training_vectors(map_model, all_rows, embeddings)
    state = {
        "format": FITTED_FORMAT,
        "n_papers": len(embeddings),
        "fitted": dataclasses.replace(fitted, clusters=clusters, map_model=map_model),
    }
    joblib.dump(state, path)


def load_fitted(path: str | Path, embeddings: np.ndarray) -> FittedRun:
    """The models `save_fitted` wrote, with their training vectors restored from `embeddings`
    (the run's, rows in papers order; a run made by `add` has its parent's rows first) and
    ready to transform. Raises FittedModelsError."""
    import joblib

    path = Path(path)
    if not path.is_file():
        raise FittedModelsError(f"it has no saved models ({path.parent.name}/{path.name})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = joblib.load(path)
    except Exception as exc:  # a damaged pickle can raise nearly anything
        raise FittedModelsError(f"its saved models cannot be read ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FITTED_FORMAT:
        raise FittedModelsError("its saved models are of another format")
    fitted, n_fit = state.get("fitted"), state.get("n_papers")
    # A run made by `add` keeps its parent's models: they index the parent's rows, which come
    # first in its embeddings.
    if not isinstance(fitted, FittedRun) or not isinstance(n_fit, int) or n_fit > len(embeddings):
        raise FittedModelsError("its saved models do not match its papers")
    clusters = fitted.clusters
    if clusters is not None:
        reducer = _with_training_vectors(clusters.umap_model, fitted.cluster_rows, embeddings)
        clusters = dataclasses.replace(clusters, umap_model=reducer)
    map_model = fitted.map_model
    if map_model is not None:
        map_model = _with_training_vectors(map_model, np.arange(n_fit), embeddings)
    return dataclasses.replace(fitted, clusters=clusters, map_model=map_model)
