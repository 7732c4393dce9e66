"""Assignment to an already-fitted clustering and map: reads the fitted clustering space + HDBSCAN
of a `ClusterResult` (with its clusters' centroids) or a fitted map UMAP, and embeddings of papers
they have not seen; produces cluster ids (-1 = unassigned) and map coordinates. Fit-on-a-sample uses
it for the papers outside the sample; `pipeline add` for new papers, with the models a run saved
(`save_fitted` / `load_fitted`)."""

from __future__ import annotations

import dataclasses
import functools
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.cluster import ClusterResult, ReassigningHDBSCAN, cluster_papers, fit_sample_size
from pipeline.config import ClusterConfig, LayoutConfig
from pipeline.contract import UNASSIGNED, UNASSIGNED_LABEL
from pipeline.derive import unit_rows
from pipeline.layout import LayoutResult, layout_papers
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


def _memberships(distances: np.ndarray, k: int, n_iter: int = 64) -> np.ndarray:
    """UMAP's fuzzy memberships of new points to their k nearest training points, as its
    `transform` computes them (`smooth_knn_dist` with local connectivity 0, so no offset):
    exp(-d / sigma), sigma per row by bisection so that the row sums to log2(k)."""
    target = np.log2(k)
    lo = np.zeros(len(distances))
    hi = np.full(len(distances), np.inf)
    sigma = np.ones(len(distances))
    for _ in range(n_iter):
        total = np.exp(-distances / sigma[:, None]).sum(axis=1)
        above = total > target
        hi = np.where(above, sigma, hi)
        lo = np.where(above, lo, sigma)
        sigma = np.where(np.isinf(hi), sigma * 2, (lo + hi) / 2)
    return np.exp(-distances / sigma[:, None])


def graph_place(reducer: Any, points: np.ndarray) -> np.ndarray:
    """New points in a fitted cosine UMAP's space without numba: each at the membership-weighted
    mean of its k nearest training points' coordinates (exact cosine neighbours). This is UMAP
    `transform`'s starting position (`init_graph_transform`) without the optimisation epochs
    after it, whose numba compilation alone costs tens of seconds per process on 2 cores; a
    point identical to a training point takes its place. Other metrics use `transform`. A space
    of unit-length rows (`unit_rows_`, the spectral one) gets unit-length placements."""
    if isinstance(reducer, Placement):
        raw, embedding, k = reducer.raw, reducer.embedding, reducer.n_neighbors
    else:
        raw, embedding = getattr(reducer, "_raw_data", None), reducer.embedding_
        k = int(getattr(reducer, "_n_neighbors", 0) or reducer.n_neighbors)
        if reducer.metric != "cosine" or raw is None:
            return transformable(reducer).transform(np.asarray(points, dtype=np.float32))
    k = min(k, len(raw))
    indices, distances = exact_cosine_neighbours(points, raw, k)
    distances = np.clip(distances.astype(np.float64), 0, None)
    weights = _memberships(distances, k)
    weights /= weights.sum(axis=1, keepdims=True)
    coords = np.einsum("nk,nkd->nd", weights, embedding[indices])
    same = distances[:, 0] <= 1e-6  # float32 cosine of a point with itself
    coords[same] = embedding[indices[same, 0]]
    if getattr(reducer, "unit_rows_", False):
        coords = unit_rows(coords)
    return coords.astype(np.float32)


@dataclass(frozen=True)
class FittedClusters:
    """What assigning new papers needs from a fitted clustering.

    `umap_model`: the fitted clustering space (a SpectralReduction or a transformable UMAP);
    `hdbscan_model`: the fitted HDBSCAN with prediction data; `cluster_of_label`: HDBSCAN's own
    label -> the run's cluster id; `centroid_ids` (k,) and `centroids` (k, dim, unit rows): each
    cluster's centroid in embedding space over HDBSCAN's own members (the outlier rule's reference,
    as in the fit).
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


def assign_clusters(
    embeddings: np.ndarray,
    fitted: FittedClusters,
    *,
    quick: bool = False,
    require_fit: bool = False,
) -> Assignment:
    """Place new papers in the fitted clusters: UMAP `transform` into the clustering space (with
    `quick`, `graph_place` instead: no numba compilation), then HDBSCAN's approximate
    prediction; a paper HDBSCAN calls noise joins the cluster whose centroid is most
    cosine-similar when that reaches the outlier threshold (the fit's own rule), else stays
    unassigned.

    `require_fit`: a paper HDBSCAN puts in a cluster whose centroid it is less similar to than
    the outlier threshold counts as noise too. Placement always lands among the training
    papers, so a paper of a topic the fit never saw would otherwise join whichever cluster is
    nearest (on the 9.9k HF run, 0.9% of HDBSCAN's own members are below 0.5)."""
    from hdbscan import approximate_predict

    n = len(embeddings)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Assignment(empty, empty.copy(), np.zeros(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vectors = np.asarray(embeddings, dtype=np.float32)
        if quick or isinstance(fitted.umap_model, Placement):
            reduced = graph_place(fitted.umap_model, vectors)
        else:
            reduced = fitted.umap_model.transform(vectors)
        labels, strengths = approximate_predict(fitted.hdbscan_model, reduced)
    initial = np.array(
        [fitted.cluster_of_label.get(int(t), UNASSIGNED) for t in labels], dtype=np.int64
    )
    if require_fit and (initial != UNASSIGNED).any():
        column = {int(c): j for j, c in enumerate(fitted.centroid_ids)}
        placed = np.flatnonzero(initial != UNASSIGNED)
        placed = placed[[int(c) in column for c in initial[placed]]]
        own = fitted.centroids[[column[int(c)] for c in initial[placed]]]
        fits = (unit_rows(embeddings[placed]) * own).sum(axis=1) >= fitted.outlier_threshold
        initial[placed[~fits]] = UNASSIGNED
    final = initial.copy()
    noise = np.flatnonzero(initial == UNASSIGNED)
    if fitted.reduce_outliers and len(noise):
        similarity = unit_rows(embeddings[noise]) @ fitted.centroids.T
        best = similarity.argmax(axis=1)
        ok = similarity[np.arange(len(noise)), best] >= fitted.outlier_threshold
        final[noise[ok]] = fitted.centroid_ids[best[ok]]
    probabilities = np.where(initial == UNASSIGNED, 0.0, np.asarray(strengths, dtype=np.float64))
    return Assignment(final, initial, np.nan_to_num(probabilities))


def joined(parts: Sequence[Assignment]) -> Assignment:
    """One Assignment of `parts` (assignments of consecutive chunks), in order."""
    fields = dataclasses.fields(Assignment)
    return Assignment(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields))


# How work over the papers outside a sample runs: (fn, shared, rows) -> [fn(chunk, shared), ...]
# over consecutive row chunks, in order (`pipeline.engine`: one chunk in process, Ray tasks).
MapChunks = Callable[[Callable[[np.ndarray, Any], Any], Any, np.ndarray], list]


def _in_one_chunk(fn: Callable[[np.ndarray, Any], Any], shared: Any, rows: np.ndarray) -> list:
    return [fn(rows, shared)]


def place_on_map(
    embeddings: np.ndarray, map_model: Any, *, quick: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """`map_x`, `map_y` (float64) of new papers on a fitted map UMAP (`LayoutResult.model`), by
    its `transform` or, with `quick`, by `graph_place`."""
    if len(embeddings) == 0:
        return np.zeros(0), np.zeros(0)
    vectors = np.asarray(embeddings, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if quick or isinstance(map_model, Placement):
            coords = graph_place(map_model, vectors)
        else:
            coords = transformable(map_model).transform(vectors)
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
    map_chunks: MapChunks = _in_one_chunk,
    quick: bool = True,
) -> ClusterResult:
    """`cluster_papers` fitted on a seeded sample of `fit_sample_size(n, config.fit_sample)`
    papers (all of them when that is n), then every other paper assigned to the fitted clusters
    (`assign_clusters`, over chunks by `map_chunks`: the Ray engine runs them as parallel tasks;
    `quick`: placed by `graph_place`, else by UMAP's `transform`). Sizes derive from the sample,
    a derived smallest cluster from the corpus scaled to the sample (`resolve_params`). Labels,
    keywords and the hierarchy come from the sample's papers, so their cost is bounded by the
    sample. The result covers all papers, in input order; `params` records the sample size and
    `timings_s` the assignment."""
    n = len(docs)
    inside = sample_indices(n, fit_sample_size(n, config.fit_sample), seed)
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
        n_corpus=n,
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
        assign = functools.partial(assign_clusters, quick=quick)
        rest = joined(map_chunks(assign, fitted, embeddings[outside]))
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

FITTED_FORMAT = 2  # bumped when what `save_fitted` writes changes


class FittedModelsError(ValueError):
    """A run's saved models are missing, damaged or do not match its embeddings (one line)."""


@dataclass(frozen=True)
class FittedRun:
    """What adding papers to a run needs: `clusters` (None when the run clustered nothing: new
    papers join `only_cluster`), `map_model` (the fitted map UMAP; None below 16 papers),
    `cluster_rows` (int64): the rows of the run's embeddings the clustering space was fitted on
    (all of them, or the fit sample), and `map_rows`: those of the map (None: every row). Saved
    and loaded, both spaces are `Placement`s: new papers are placed by `graph_place`."""

    clusters: FittedClusters | None
    only_cluster: int
    map_model: Any
    cluster_rows: np.ndarray
    map_rows: np.ndarray | None = None


def fit_rows(n: int, config: ClusterConfig, seed: int) -> np.ndarray:
    """The rows the clustering was fitted on (`cluster_on_sample`'s sample, or all)."""
    return sample_indices(n, fit_sample_size(n, config.fit_sample), seed)


def _digest(vectors: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).hexdigest()


@dataclass(frozen=True)
class Placement:
    """What `graph_place` needs of a fitted cosine UMAP, without UMAP itself (loading one imports
    umap and numba): its fitted coordinates `embedding` (n_fit, d) float32, `n_neighbors`, and the
    rows of the run's embeddings it was fitted on (`rows`, int64) with their sha256 (`digest`).
    `raw` (those rows) is left out of the saved file and restored from the run on load."""

    embedding: np.ndarray
    n_neighbors: int
    rows: np.ndarray
    digest: str
    raw: np.ndarray | None = None
    metric: str = "cosine"
    unit_rows_: bool = False  # placed points are scaled to unit length (the spectral space)


def placement_of(reducer: Any, rows: np.ndarray, embeddings: np.ndarray) -> Any:
    """A `Placement` of a fitted cosine UMAP whose training vectors are `embeddings[rows]`;
    the UMAP itself when it is not one (another metric, other training vectors)."""
    raw = getattr(reducer, "_raw_data", None)
    if (
        getattr(reducer, "metric", None) != "cosine"
        or raw is None
        or raw.shape != (len(rows), embeddings.shape[1])
    ):
        return reducer
    digest = _digest(raw)
    if digest != _digest(embeddings[rows]):
        return reducer
    embedding = np.asarray(reducer.embedding_, dtype=np.float32)
    return Placement(
        embedding,
        int(reducer._n_neighbors),
        np.asarray(rows, np.int64),
        digest,
        unit_rows_=bool(getattr(reducer, "unit_rows_", False)),
    )


def _restored(model: Any, embeddings: np.ndarray) -> Any:
    """A saved `Placement` with its training vectors back from the run's `embeddings`."""
    if not isinstance(model, Placement):
        return transformable(model)
    if len(model.rows) and model.rows.max() >= len(embeddings):
        raise FittedModelsError("the saved models were fitted on rows the run does not have")
    raw = np.ascontiguousarray(embeddings[model.rows], dtype=np.float32)
    if _digest(raw) != model.digest:
        raise FittedModelsError("the saved models do not match the run's embeddings")
    return dataclasses.replace(model, raw=raw)


def save_fitted(path: str | Path, fitted: FittedRun, embeddings: np.ndarray) -> None:
    """Pickle `fitted` (joblib) to `path`, its UMAPs as `Placement`s (no training vectors)."""
    import joblib

    clusters = fitted.clusters
    if clusters is not None:
        placement = placement_of(clusters.umap_model, fitted.cluster_rows, embeddings)
        clusters = dataclasses.replace(clusters, umap_model=placement)
    map_model = fitted.map_model
    if map_model is not None:
        rows = np.arange(len(embeddings)) if fitted.map_rows is None else fitted.map_rows
        map_model = placement_of(map_model, rows, embeddings)
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
        clusters = dataclasses.replace(
            clusters, umap_model=_restored(clusters.umap_model, embeddings)
        )
    map_model = fitted.map_model
    if map_model is not None:
        map_model = _restored(map_model, embeddings)
    return dataclasses.replace(fitted, clusters=clusters, map_model=map_model)


def layout_on_sample(
    embeddings: np.ndarray,
    config: LayoutConfig,
    seed: int,
    size: int,
    map_chunks: MapChunks = _in_one_chunk,
) -> LayoutResult:
    """The map fitted on the same seeded sample of `size` papers as `cluster_on_sample`, every
    other paper placed on it (`place_on_map` by `graph_place`, over chunks by `map_chunks`);
    coordinates in input order. Used whenever the clustering is fitted on a sample (above
    20,000 papers by default): no neighbour graph and no UMAP over all papers."""
    n = len(embeddings)
    inside = sample_indices(n, size, seed)
    sample_vectors = embeddings[inside]
    knn = neighbour_graph(sample_vectors, neighbour_width(len(inside), config.n_neighbors), seed)
    fitted = layout_papers(sample_vectors, config, seed, knn=knn)
    if len(inside) == n or fitted.model is None:
        return fitted
    outside = np.setdiff1d(np.arange(n), inside)
    place = functools.partial(place_on_map, quick=True)
    parts = map_chunks(place, fitted.model, embeddings[outside])
    map_x, map_y = np.empty(n), np.empty(n)
    map_x[inside], map_y[inside] = fitted.map_x, fitted.map_y
    map_x[outside] = np.concatenate([x for x, _ in parts])
    map_y[outside] = np.concatenate([y for _, y in parts])
    return dataclasses.replace(fitted, map_x=map_x, map_y=map_y, method=f"{fitted.method}-sample")
