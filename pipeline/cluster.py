"""Clustering stage: reads paper texts and their embeddings, produces BERTopic clusters
(HDBSCAN in a spectral or UMAP clustering space), readable labels and keywords, outlier
reassignment and the merge hierarchy."""

from __future__ import annotations

import contextlib
import logging
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import ClusterConfig
from pipeline.contract import TABLES, UNASSIGNED, UNASSIGNED_LABEL
from pipeline.labels import ACADEMIC_STOP_WORDS, group_labels
from pipeline.neighbours import NeighbourGraph, neighbour_width, umap_epochs
from pipeline.spectral import SpectralReduction
from pipeline.timing import Timings

HIERARCHY_COLUMNS = [c.name for c in TABLES["hierarchy"]]


# `cluster.fit_sample = 0`: fit on every paper up to this many, on a seeded sample of this many
# above (fitting UMAP and c-TF-IDF on all of 75k papers took 48 min on 2 loaded cores).
AUTO_FIT_SAMPLE = 20_000
FIT_ALL = -1  # `cluster.fit_sample = -1`: fit on every paper, however many


# `cluster.n_components = 0`: the clustering space's dimensions per `cluster.reduction`. The
# spectral layout's clusters are most stable at 30 on the 9.9k and 10k real corpora (README).
DEFAULT_COMPONENTS = {"spectral": 30, "umap": 5}


def fit_sample_size(n: int, fit_sample: int) -> int:
    """How many of n papers the clustering is fitted on (n = all of them): `fit_sample` papers
    when it is positive and below n, n when it is FIT_ALL (-1), and for 0 (the default) n up to
    AUTO_FIT_SAMPLE papers, AUTO_FIT_SAMPLE above."""
    if fit_sample == FIT_ALL:
        return n
    size = fit_sample or AUTO_FIT_SAMPLE
    return min(n, size)


def resolve_params(n: int, config: ClusterConfig, n_corpus: int | None = None) -> dict[str, int]:
    """The sub-model sizes actually used for n papers (config values of 0 are derived from n).

    `n_corpus`: the corpus the n papers are a seeded sample of. A derived min_cluster_size is
    then the corpus's, scaled to the sample (a cluster of m papers has about m * n / n_corpus
    in it), so the sample looks for the clusters a fit on all papers would find."""
    n_neighbors = neighbour_width(n, config.n_neighbors)
    corpus = max(n, n_corpus or n)
    derived_size = math.sqrt(corpus) / 2 * n / corpus
    min_cluster_size = config.min_cluster_size or int(np.clip(round(derived_size), 3, 500))
    # HDBSCAN fails when asked for more neighbours than there are other points.
    min_samples = min(config.min_samples or max(2, min_cluster_size // 5), max(1, n - 1))
    max_cluster_size = config.max_cluster_size or (n // 10 if n >= 1000 else 0)
    n_components = config.n_components or DEFAULT_COMPONENTS[config.reduction]
    n_components = max(2, min(n_components, n - 2))
    return {
        "n_neighbors": n_neighbors,
        "n_components": n_components,
        "min_cluster_size": min_cluster_size,
        "min_samples": min_samples,
        "max_cluster_size": max_cluster_size,
    }


@dataclass(frozen=True)
class ClusterResult:
    """Per-paper arrays (length n, input order) and per-cluster tables.

    `cluster_ids`: final cluster, -1 = unassigned; `initial_cluster_ids`: HDBSCAN's, before
    outlier reduction; `probabilities`: HDBSCAN membership strength (0 for reassigned noise).
    `labels`/`keywords` are keyed by cluster id (including -1 when some paper is unassigned).
    `hierarchy` has the contract's hierarchy columns.
    """

    cluster_ids: np.ndarray
    initial_cluster_ids: np.ndarray
    probabilities: np.ndarray
    labels: dict[int, str]
    keywords: dict[int, tuple[str, ...]]
    hierarchy: pd.DataFrame
    params: dict[str, Any]
    warnings: tuple[str, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)
    model: Any = None  # the fitted BERTopic model

    @property
    def n_clusters(self) -> int:
        return len({int(c) for c in self.cluster_ids if c != UNASSIGNED})

    @property
    def n_unassigned(self) -> int:
        return int((self.cluster_ids == UNASSIGNED).sum())


class ReassigningHDBSCAN:
    """BERTopic's cluster slot: HDBSCAN, then BERTopic's "embeddings" outlier strategy.

    Noise points join the cluster whose centroid in the original embedding space is most
    cosine-similar when that similarity reaches `threshold` (the rest stay -1). Doing it here,
    before BERTopic extracts keywords, means keywords and topic vectors are computed once, for
    the final clusters. `embeddings` are the original vectors, rows aligned with what `fit`
    receives (BERTopic passes their UMAP reduction). When HDBSCAN finds no cluster at all, every
    point becomes cluster 0 and `found_no_cluster_` is set.
    """

    def __init__(self, hdbscan_model, embeddings: np.ndarray, threshold: float, reassign: bool):
        self.hdbscan_model = hdbscan_model
        self.embeddings = embeddings
        self.threshold = threshold
        self.reassign = reassign

    def fit(self, X, y=None):
        started = time.perf_counter()
        self.hdbscan_model.fit(X)
        initial = np.asarray(self.hdbscan_model.labels_, dtype=np.int64)
        probabilities = np.asarray(self.hdbscan_model.probabilities_, dtype=np.float64).copy()
        probabilities[initial == UNASSIGNED] = 0.0
        self.found_no_cluster_ = not (initial >= 0).any()
        if self.found_no_cluster_:
            labels = np.zeros_like(initial)
        else:
            initial = merge_identical_clusters(initial, self.embeddings)
            if self.reassign and (initial == UNASSIGNED).any():
                labels = _reassign_outliers(initial, self.embeddings, self.threshold)
            else:
                labels = initial.copy()
        self.initial_labels_ = initial
        self.labels_ = labels
        self.probabilities_ = probabilities
        self.seconds_ = time.perf_counter() - started
        return self


def _build_model(
    params: dict[str, int],
    config: ClusterConfig,
    seed: int,
    embedding_model,
    embeddings: np.ndarray,
    knn: NeighbourGraph | None = None,
    n: int = 0,
):
    from bertopic import BERTopic
    from bertopic.vectorizers import ClassTfidfTransformer
    from hdbscan import HDBSCAN

    if config.reduction == "spectral":
        reduction = SpectralReduction(params["n_neighbors"], params["n_components"], seed, knn=knn)
    else:
        from umap import UMAP

        reduction = UMAP(
            n_neighbors=params["n_neighbors"],
            n_components=params["n_components"],
            min_dist=0.0,
            metric="cosine",
            random_state=seed,
            low_memory=True,
            n_epochs=umap_epochs(n),
            precomputed_knn=knn.for_umap(params["n_neighbors"]) if knn else (None, None, None),
        )
    hdbscan_model = HDBSCAN(
        min_cluster_size=params["min_cluster_size"],
        min_samples=params["min_samples"],
        metric="euclidean",
        cluster_selection_method="eom",
        max_cluster_size=params["max_cluster_size"],
        prediction_data=True,
    )
    return BERTopic(
        embedding_model=embedding_model,
        umap_model=reduction,
        hdbscan_model=ReassigningHDBSCAN(
            hdbscan_model, embeddings, config.outlier_threshold, config.reduce_outliers
        ),
        vectorizer_model=_vectorizer(config),
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        representation_model=_representation(config, seed),
        top_n_words=max(10, config.n_keywords),
        calculate_probabilities=False,
        verbose=False,
    )


def _vectorizer(config: ClusterConfig):
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    # min_df counts clusters here (c-TF-IDF sees one document per cluster), so it stays 1.
    # Tokens keep inner hyphens so "pre-training" and "self-supervised" stay one word.
    return CountVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | ACADEMIC_STOP_WORDS),
        token_pattern=r"(?u)\b\w[\w-]*\w\b",
        ngram_range=(1, max(1, config.ngram_max)),
        min_df=1,
        max_features=config.max_features or None,
    )


def _representation(config: ClusterConfig, seed: int):
    from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance

    return [
        KeyBERTInspired(top_n_words=max(20, 2 * config.n_keywords), random_state=seed),
        MaximalMarginalRelevance(diversity=config.mmr_diversity, top_n_words=config.n_keywords),
    ]


def _manual_model(embedding_model, config: ClusterConfig, seed: int):
    """A BERTopic that takes cluster ids as given (used when there is nothing to cluster)."""
    from bertopic import BERTopic
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from bertopic.vectorizers import ClassTfidfTransformer

    return BERTopic(
        embedding_model=embedding_model,
        umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(),
        vectorizer_model=_vectorizer(config),
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        representation_model=_representation(config, seed),
        top_n_words=max(10, config.n_keywords),
        verbose=False,
    )


def _fallback_label(cluster_id: int, keywords: Sequence[str]) -> str:
    """For the unassigned papers, and a cluster no phrase of which is common enough."""
    if cluster_id == UNASSIGNED:
        return UNASSIGNED_LABEL
    return f"{keywords[0]} papers" if keywords else f"cluster {cluster_id}"


def cluster_papers(
    docs: Sequence[str],
    embeddings: np.ndarray,
    config: ClusterConfig,
    seed: int,
    embedding_model: Any,
    knn: NeighbourGraph | None = None,
    titles: Sequence[str] | None = None,
    n_corpus: int | None = None,
) -> ClusterResult:
    """Fit BERTopic on precomputed embeddings and describe its clusters.

    `docs[i]` is paper i's text and `embeddings[i]` its L2-normalised vector. `embedding_model`
    is a BERTopic embedder (see `pipeline.embed.BertopicEmbedder`) used for keyword candidates.
    `knn` is an optional precomputed `pipeline.neighbours.neighbour_graph`. Labels are noun
    phrases of the papers' `titles` (default: the docs), see `pipeline.labels.group_labels`.
    Corpora below `config.min_papers`, or where HDBSCAN finds no cluster, become one cluster
    with a warning instead of failing. `n_corpus`: the papers are a sample of that many (see
    `resolve_params`).
    """
    docs = list(docs)
    n = len(docs)
    timings = Timings()
    notes: list[str] = []
    params: dict[str, Any] = resolve_params(n, config, n_corpus) if n >= 3 else {}
    if n >= config.min_papers:
        model = _build_model(params, config, seed, embedding_model, embeddings, knn, n)
    else:
        notes.append(
            f"only {n} papers (fewer than {config.min_papers}): no clustering, one cluster"
        )
        model = _manual_model(embedding_model, config, seed)
    with timings.step("fit"), warnings.catch_warnings(), quiet_bertopic():
        warnings.simplefilter("ignore")
        model.fit_transform(docs, embeddings, y=None if n >= config.min_papers else [0] * n)
    final = np.asarray(model.topics_, dtype=np.int64)
    cluster_model = model.hdbscan_model
    if isinstance(cluster_model, ReassigningHDBSCAN) and cluster_model.found_no_cluster_:
        notes.append(f"HDBSCAN found no cluster among {n} papers; all papers form one cluster")
        params = {**params, "clustered": False}
        initial = final.copy()
        probabilities = np.ones(n)
        timings.seconds["hdbscan"] = cluster_model.seconds_
    elif isinstance(cluster_model, ReassigningHDBSCAN):
        params = {**params, "clustered": True}
        # BERTopic renumbers clusters by size; map HDBSCAN's own labels the same way.
        mapping = model.topic_mapper_.get_mappings(original_topics=True)
        initial = np.array(
            [
                mapping.get(int(t), int(t)) if t != UNASSIGNED else UNASSIGNED
                for t in cluster_model.initial_labels_
            ],
            dtype=np.int64,
        )
        probabilities = np.nan_to_num(cluster_model.probabilities_.astype(np.float64), nan=0.0)
        timings.seconds["hdbscan"] = cluster_model.seconds_
    else:
        params = {**params, "clustered": False}
        initial = final.copy()
        probabilities = np.ones(n)

    topic_ids = sorted(set(final.tolist()))
    keywords: dict[int, tuple[str, ...]] = {
        topic: tuple(w for w, _ in model.get_topic(topic) or [] if w)[: config.n_keywords]
        for topic in topic_ids
    }
    with timings.step("labels"):
        phrases = group_labels(docs, final, titles, keyphrases=keywords)
    labels = {t: phrases.get(t) or _fallback_label(t, keywords[t]) for t in topic_ids}
    model.set_topic_labels({t: labels[t] for t in topic_ids})

    with timings.step("hierarchy"):
        hierarchy = _hierarchy(model, docs, final)
    return ClusterResult(
        cluster_ids=final,
        initial_cluster_ids=initial,
        probabilities=probabilities,
        labels=labels,
        keywords=keywords,
        hierarchy=hierarchy,
        params=params,
        warnings=tuple(notes),
        timings_s=timings.seconds,
        model=model,
    )


@contextlib.contextmanager
def quiet_bertopic():
    """Silence BERTopic's logger (warnings about intended choices, such as saving without an
    embedding model) and its internal progress bar (the pipeline shows its own)."""
    import functools

    from bertopic import _bertopic
    from tqdm import tqdm

    logger = logging.getLogger("BERTopic")
    level = logger.level
    logger.setLevel(logging.ERROR)
    bar = _bertopic.tqdm
    _bertopic.tqdm = functools.partial(tqdm, disable=True)
    try:
        yield
    finally:
        logger.setLevel(level)
        _bertopic.tqdm = bar


IDENTICAL_COSINE = 0.999  # clusters whose centroids are this close hold the same text


def merge_identical_clusters(labels: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Clusters with (near-)identical centroids become the smaller id: HDBSCAN can split a block
    of identical papers (the same text under several ids) into clusters that nobody could tell
    apart, with the same label."""
    ids = sorted(t for t in set(labels.tolist()) if t != UNASSIGNED)
    if len(ids) < 2:
        return labels
    unit = embeddings / (np.linalg.norm(embeddings, axis=1, keepdims=True) + 1e-12)
    centroids = np.stack([unit[labels == t].mean(axis=0) for t in ids])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
    target = {t: t for t in ids}
    close = np.argwhere(np.triu(centroids @ centroids.T >= IDENTICAL_COSINE, k=1))
    for a, b in close:
        root_a, root_b = target[ids[a]], target[ids[b]]
        keep = min(root_a, root_b)
        for t, r in target.items():
            if r in (root_a, root_b):
                target[t] = keep
    merged = labels.copy()
    for t in ids:
        merged[labels == t] = target[t]
    return merged


def _reassign_outliers(initial: np.ndarray, embeddings: np.ndarray, threshold: float) -> np.ndarray:
    """BERTopic's "embeddings" outlier strategy: a noise paper joins the cluster whose centroid is
    most cosine-similar, when that similarity reaches `threshold`; otherwise it stays -1."""
    topic_ids = sorted(t for t in set(initial.tolist()) if t != UNASSIGNED)
    centroids = np.stack([embeddings[initial == t].mean(axis=0) for t in topic_ids])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
    noise = np.flatnonzero(initial == UNASSIGNED)
    vectors = embeddings[noise]
    vectors = vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)
    similarity = vectors @ centroids.T
    best = similarity.argmax(axis=1)
    final = initial.copy()
    ok = similarity[np.arange(len(noise)), best] >= threshold
    final[noise[ok]] = np.asarray(topic_ids)[best[ok]]
    return final


def _hierarchy(model, docs: list[str], final: np.ndarray) -> pd.DataFrame:
    """BERTopic's merge tree of the clusters, named by c-TF-IDF (not the slower representation)."""
    empty = pd.DataFrame(
        {
            c: pd.Series(dtype=t)
            for c, t in zip(
                HIERARCHY_COLUMNS,
                ["int64", "object", "int64", "int64", "float64", "object"],
                strict=True,
            )
        }
    )
    if len({t for t in final.tolist() if t != UNASSIGNED}) < 2:
        return empty
    representation = model.representation_model
    model.representation_model = None
    try:
        with warnings.catch_warnings(), quiet_bertopic():
            warnings.simplefilter("ignore")
            tree = model.hierarchical_topics(docs)
    finally:
        model.representation_model = representation
    frame = pd.DataFrame(
        {
            "parent_id": tree["Parent_ID"].astype(int).to_numpy(),
            "parent_name": tree["Parent_Name"].astype(str).str.replace("_", ", ").to_numpy(),
            "child_left_id": tree["Child_Left_ID"].astype(int).to_numpy(),
            "child_right_id": tree["Child_Right_ID"].astype(int).to_numpy(),
            "distance": tree["Distance"].astype(float).to_numpy(),
            "cluster_ids": [sorted(int(t) for t in ts) for ts in tree["Topics"]],
        }
    )
    return frame.sort_values("parent_id").reset_index(drop=True)
