"""Splitting a cluster: a preview that re-clusters its papers with seeded KMeans on the run's
stored embeddings (nothing stored), then `accept_split`, which logs the previewed parts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.contract import UNASSIGNED, Run
from pipeline.review.actions import append_decision
from pipeline.review.errors import ReviewError, StaleStateError
from pipeline.review.state import ReviewState
from pipeline.review.store import ReviewStore
from pipeline.review.vocabulary import Decision, cluster_key


@dataclass(frozen=True)
class SplitPreview:
    """A proposed split of one cluster into k parts, not yet stored.

    `parts` are dicts (cluster_key, cluster_id, label, keywords, representative_paper_ids,
    paper_ids), the first keeping the cluster's id; `papers` has paper_id, part (0..k-1), title.
    """

    run_id: str
    version: int
    cluster_id: int
    k: int
    seed: int
    parts: tuple[dict[str, Any], ...]
    papers: pd.DataFrame


def preview_split(
    run: Run, state: ReviewState, cluster_id: int, k: int = 2, seed: int = 0
) -> SplitPreview:
    """Re-cluster one cluster's papers into k parts with seeded KMeans on the run's stored
    embeddings (unit-normalised, so distances follow cosine similarity)."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    if int(cluster_id) == UNASSIGNED:
        raise ReviewError("the unassigned papers cannot be split; move them instead")
    paper_ids = state.paper_ids(cluster_id)
    row = state.cluster(cluster_id)
    if k < 2 or k > len(paper_ids):
        raise ReviewError(f"k must be between 2 and the cluster's size ({len(paper_ids)})")
    index = pd.Series(np.arange(len(run.papers)), index=run.papers["paper_id"])
    rows = index.loc[paper_ids].to_numpy()
    vectors = np.asarray(run.embeddings()[np.sort(rows)], dtype=np.float64)
    vectors = vectors[np.argsort(np.argsort(rows))]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    labels = KMeans(n_clusters=k, random_state=seed, n_init=10).fit_predict(vectors)
    # Number the parts by size (largest first keeps the cluster id), ties by first paper.
    order = sorted(range(k), key=lambda p: (-int((labels == p).sum()), int(np.argmax(labels == p))))
    renumber = {old: new for new, old in enumerate(order)}
    labels = np.array([renumber[x] for x in labels])
    papers = run.papers.set_index("paper_id").loc[paper_ids]
    texts = (papers["title"] + ". " + papers["abstract"]).tolist()
    docs = [" ".join(t for t, lab in zip(texts, labels, strict=True) if lab == p) for p in range(k)]
    try:
        tfidf = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), sublinear_tf=True)
        weights = tfidf.fit_transform(docs).toarray()
        vocab = np.array(tfidf.get_feature_names_out())
    except ValueError:  # only stop words
        weights, vocab = np.zeros((k, 0)), np.array([])
    used = set(state.clusters["cluster_id"])
    next_id = max(used | set(state.tables["assignments"]["original_cluster_id"])) + 1
    parts = []
    for p in range(k):
        members = [pid for pid, lab in zip(paper_ids, labels, strict=True) if lab == p]
        # Distinctive terms first: weight in this part minus the best weight in any other part.
        others = np.delete(weights, p, axis=0).max(axis=0) if k > 1 and vocab.size else 0.0
        score = weights[p] - others if vocab.size else np.zeros(0)
        keywords = [str(w) for w in vocab[np.lexsort((vocab, -score))[:10]]] if vocab.size else []
        centre = vectors[labels == p].mean(axis=0)
        closeness = vectors[labels == p] @ centre
        reps = [members[i] for i in np.argsort(-closeness)[:5]]
        name = f"{row['label']}: {keywords[0]}" if keywords else f"{row['label']} ({p + 1})"
        parts.append(
            {
                "cluster_key": cluster_key(members, f"split@{state.version + 1}#{p}"),
                "cluster_id": int(cluster_id) if p == 0 else int(next_id + p - 1),
                "label": name,
                "keywords": keywords,
                "representative_paper_ids": reps,
                "paper_ids": members,
            }
        )
    frame = pd.DataFrame(
        {"paper_id": paper_ids, "part": labels.astype("int64"), "title": papers["title"].tolist()}
    )
    return SplitPreview(run.run_id, state.version, int(cluster_id), k, seed, tuple(parts), frame)


def accept_split(
    store: ReviewStore,
    state: ReviewState,
    preview: SplitPreview,
    *,
    reviewer: str,
    labels: Sequence[str] | None = None,
    note: str = "",
) -> Decision:
    """Store a previewed split (refused when the state changed since the preview)."""
    if preview.version != state.version or preview.run_id != state.run_id:
        raise StaleStateError(state.run_id, preview.version, state.version)
    parts = [dict(p) for p in preview.parts]
    for part, name in zip(parts, labels or [], strict=False):
        if name and name.strip():
            part["label"] = " ".join(name.split())
    after = {"parts": parts, "k": preview.k, "seed": preview.seed}
    target = state.cluster_target(preview.cluster_id)
    return append_decision(store, state, "split", target, after, reviewer=reviewer, note=note)
