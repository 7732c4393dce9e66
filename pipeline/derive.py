"""Derived tables: turns per-paper facts (cluster, theme, date, map position, embedding) into every
table computed from them: cluster rows, theme counts, theme mix, counts per period.

The run, review replay, the dashboard and the test factories all derive through this module, so
a count means the same everywhere. Pure pandas/numpy: no model, no I/O (the dashboard imports it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.contract import OTHER, OTHER_DESCRIPTION, PERIOD_KINDS, TABLES, UNASSIGNED

_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}
SPARSE_MIN_PAPERS = 5  # a period with fewer dated papers than this is too thin to read a trend


# ------------------------------------------------------------------------------------------
# Periods


def _check_kind(kind: str) -> str:
    if kind not in _FREQ:
        raise ValueError(f"period kind must be one of {PERIOD_KINDS}, got {kind!r}")
    return _FREQ[kind]


def period_labels(published: pd.Series, kind: str) -> pd.Series:
    """Period label per date: 2024-03 (month), 2024-Q1 (quarter) or 2024 (year); None if no date."""
    _check_kind(kind)
    stamps = pd.to_datetime(published)
    year = stamps.dt.year.astype("Int64").astype(str).str.zfill(4)
    if kind == "month":
        out = year + "-" + stamps.dt.month.astype("Int64").astype(str).str.zfill(2)
    elif kind == "quarter":
        out = year + "-Q" + stamps.dt.quarter.astype("Int64").astype(str)
    else:
        out = year
    return out.astype(object).where(stamps.notna(), None)


def _period(label: str, kind: str) -> pd.Period:
    return pd.Period(str(label).replace("-Q", "Q"), freq=_check_kind(kind))


def period_start(label: str, kind: str) -> pd.Timestamp:
    """The first day of a period label made by `period_labels`."""
    return _period(label, kind).start_time.normalize()


def period_last_day(label: str, kind: str) -> pd.Timestamp:
    """The last day of a period label made by `period_labels` (2026-08, 2026-Q3 or 2026)."""
    return _period(label, kind).end_time.normalize()


def period_span(published: pd.Series, kind: str) -> list[str]:
    """Every period label from the earliest to the latest date, in order, without gaps."""
    stamps = pd.to_datetime(published).dropna()
    if stamps.empty:
        return []
    freq = _check_kind(kind)
    span = pd.period_range(stamps.min().to_period(freq), stamps.max().to_period(freq), freq=freq)
    return period_labels(pd.Series(span.start_time), kind).tolist()


def latest_date(published: pd.Series) -> pd.Timestamp | None:
    """Where the data ends: the latest date (None if nothing is dated).

    Pass the dates of all papers of the run, not a filtered subset, so a filter never makes a
    period partial.
    """
    stamps = pd.to_datetime(published).dropna()
    return None if stamps.empty else pd.Timestamp(stamps.max()).normalize()


def is_partial_period(label: str, kind: str, data_end: pd.Timestamp | None) -> bool:
    """True when the data stops mid-period: `data_end` (the run's latest paper date) falls
    before the period's last day. A corpus ending on a period's last day leaves it complete."""
    if data_end is None or pd.isna(data_end):
        return False
    return pd.Timestamp(data_end).normalize() < period_last_day(label, kind)


def counts_by_period(
    periods: pd.Series,
    groups: pd.Series,
    span: Sequence[str],
    totals_periods: pd.Series | None = None,
    *,
    kind: str | None = None,
    data_end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Papers per period and group, every (period in `span`) x (group present) pair filled.

    `periods` holds each paper's period label (None when undated, see `period_labels`) and
    `groups` its group (theme id or cluster id), aligned. `totals_periods` (default `periods`)
    are the labels of the papers a period's total counts, e.g. all filtered papers while
    `periods` holds one theme's. Columns: period, group, n_papers, n_period_total, share
    (n_papers / n_period_total, 0 when the period is empty), is_sparse (fewer than
    SPARSE_MIN_PAPERS papers in the period) and is_partial (the data, which ends at `data_end`,
    stops inside the period; always False without `kind`).
    """
    periods = pd.Series(np.asarray(periods, dtype=object))
    groups = pd.Series(np.asarray(groups))
    totals_src = periods if totals_periods is None else pd.Series(np.asarray(totals_periods))
    dated = periods.notna().to_numpy()
    frame = pd.DataFrame({"period": periods[dated], "group": groups[dated]})
    present = sorted(pd.unique(frame["group"]).tolist())
    index = pd.MultiIndex.from_product([list(span), present], names=["period", "group"])
    counts = frame.groupby(["period", "group"]).size().reindex(index, fill_value=0)
    out = counts.rename("n_papers").reset_index()
    totals = totals_src.dropna().value_counts().reindex(list(span), fill_value=0)
    out["n_period_total"] = out["period"].map(totals).fillna(0).astype(np.int64)
    out["n_papers"] = out["n_papers"].astype(np.int64)
    out["share"] = out["n_papers"] / out["n_period_total"].clip(lower=1)
    out["is_sparse"] = out["n_period_total"] < SPARSE_MIN_PAPERS
    partial = {p for p in span if kind and is_partial_period(p, kind, data_end)}
    out["is_partial"] = out["period"].isin(partial)
    return out


def timeline(published: pd.Series, groups: pd.Series, kinds: Sequence[str] = PERIOD_KINDS):
    """Counts per period for whole-run notebooks and reports: the long table of
    `counts_by_period` for each period kind, with `period_kind` and `period_start` added and
    empty (period, group) rows dropped."""
    parts = []
    for kind in kinds:
        labels = period_labels(published, kind)
        counts = counts_by_period(labels, groups, period_span(published, kind))
        counts = counts[counts["n_papers"] > 0].drop(columns=["is_sparse", "is_partial"])
        counts.insert(0, "period_kind", kind)
        counts["period_start"] = [period_start(p, kind) for p in counts["period"]]
        parts.append(counts)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# ------------------------------------------------------------------------------------------
# Clusters and themes


def dominant_theme(theme_ids: pd.Series) -> tuple[str, float]:
    """(most common theme, its share) among some papers; ties go to the theme first in sort
    order; ("other", 0.0) for no paper."""
    if len(theme_ids) == 0:
        return OTHER, 0.0
    counts = pd.Series(theme_ids).value_counts()
    best = counts[counts == counts.iloc[0]].index
    theme = sorted(str(t) for t in best)[0]
    return theme, float(counts.iloc[0] / len(theme_ids))


def cluster_facts(facts: pd.DataFrame) -> pd.DataFrame:
    """Per cluster, from per-paper facts (columns cluster_id, theme_id, published, map_x, map_y):
    n_papers, theme_id (dominant; 'other' for the unassigned papers), theme_share,
    first_published, last_published, map_x, map_y (median of its papers). Indexed by cluster_id,
    sorted."""
    rows = {}
    for cluster, members in facts.groupby("cluster_id", sort=True):
        theme, share = dominant_theme(members["theme_id"])
        if cluster == UNASSIGNED:  # the unassigned papers have no dominant theme
            theme, share = OTHER, 0.0
        dates = pd.to_datetime(members["published"]).dropna()
        rows[int(cluster)] = {
            "n_papers": int(len(members)),
            "theme_id": theme,
            "theme_share": share,
            "first_published": dates.min() if len(dates) else pd.NaT,
            "last_published": dates.max() if len(dates) else pd.NaT,
            "map_x": float(members["map_x"].median()),
            "map_y": float(members["map_y"].median()),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "cluster_id"
    return out


def representative_ids(
    unit_embeddings: np.ndarray, cluster_ids: np.ndarray, paper_ids: Sequence[str], n: int
) -> dict[int, list[str]]:
    """Per cluster, the `n` papers closest (cosine) to its embedding centroid, best first.
    `unit_embeddings` has unit-length rows aligned with `cluster_ids` and `paper_ids`."""
    cluster_ids = np.asarray(cluster_ids)
    out = {}
    for cluster in np.unique(cluster_ids):
        members = np.flatnonzero(cluster_ids == cluster)
        centroid = unit_embeddings[members].mean(axis=0)
        order = members[np.argsort(-(unit_embeddings[members] @ centroid), kind="stable")]
        out[int(cluster)] = [paper_ids[i] for i in order[:n]]
    return out


def theme_mix(cluster_ids: pd.Series, theme_ids: pd.Series) -> pd.DataFrame:
    """Each cluster's theme mix: cluster_id, theme_id, n_papers, share (of the cluster), largest
    theme first within a cluster."""
    frame = pd.DataFrame({"cluster_id": np.asarray(cluster_ids), "theme_id": np.asarray(theme_ids)})
    counts = frame.groupby(["cluster_id", "theme_id"]).size().rename("n_papers").reset_index()
    sizes = frame.groupby("cluster_id").size()
    counts["share"] = counts["n_papers"] / counts["cluster_id"].map(sizes)
    counts = counts.astype({"cluster_id": np.int64, "n_papers": np.int64})
    return counts.sort_values(["cluster_id", "n_papers"], ascending=[True, False]).reset_index(
        drop=True
    )


def theme_counts(theme_ids: pd.Series, cluster_themes: pd.Series) -> pd.DataFrame:
    """Per theme: n_papers (papers with the theme) and n_clusters (clusters it dominates; the
    unassigned group is not a cluster). `cluster_themes` maps cluster_id -> dominant theme."""
    n_papers = pd.Series(np.asarray(theme_ids)).value_counts()
    real = cluster_themes[cluster_themes.index != UNASSIGNED]
    n_clusters = pd.Series(real.to_numpy()).value_counts()
    themes = sorted(set(n_papers.index) | set(n_clusters.index))
    return pd.DataFrame(
        {
            "theme_id": themes,
            "n_papers": [int(n_papers.get(t, 0)) for t in themes],
            "n_clusters": [int(n_clusters.get(t, 0)) for t in themes],
        }
    )


def with_theme_counts(themes: pd.DataFrame, theme_ids: pd.Series, clusters: pd.DataFrame):
    """`themes` (the contract's themes table, any counts ignored) with n_papers and n_clusters
    recomputed from per-paper themes and the clusters table's dominant themes."""
    counts = theme_counts(theme_ids, clusters.set_index("cluster_id")["theme_id"])
    counts = counts.set_index("theme_id")
    out = themes.copy()
    for col in ("n_papers", "n_clusters"):
        out[col] = out["theme_id"].map(counts[col]).fillna(0).astype(np.int64)
    return out


def unit_rows(embeddings: np.ndarray) -> np.ndarray:
    """Float32 copy of `embeddings` with unit-length rows (zero rows stay zero)."""
    emb = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.where(norms == 0, 1, norms)


# ------------------------------------------------------------------------------------------
# Run tables


def clusters_table(
    assignments: pd.DataFrame,
    published: pd.Series,
    labels: dict[int, str],
    keywords: dict[int, Sequence[str]],
    representatives: dict[int, list[str]],
) -> pd.DataFrame:
    """The contract's clusters table: one row per cluster id present in `assignments`
    (including -1 when some paper is unassigned), its label, keywords and representative papers
    next to the facts `cluster_facts` computes. `published` is aligned with `assignments`."""
    facts = cluster_facts(assignments.assign(published=np.asarray(published))).reset_index()
    facts["label"] = [labels.get(c) or f"cluster {c}" for c in facts["cluster_id"]]
    facts["keywords"] = [list(keywords.get(c, ())) for c in facts["cluster_id"]]
    facts["representative_paper_ids"] = [list(representatives[c]) for c in facts["cluster_id"]]
    for col in ("first_published", "last_published"):
        facts[col] = pd.to_datetime(facts[col]).dt.date
    return facts[[c.name for c in TABLES["clusters"]]]


def themes_table(
    definitions: pd.DataFrame, theme_ids: pd.Series, clusters: pd.DataFrame
) -> pd.DataFrame:
    """The contract's themes table: the named or generated themes (`definitions`: theme_id, name,
    description, key_terms, is_generated), then "other", with paper and cluster counts."""
    other = pd.DataFrame(
        [
            {
                "theme_id": OTHER,
                "name": OTHER,
                "description": OTHER_DESCRIPTION,
                "key_terms": [],
                "is_generated": False,
            }
        ]
    )
    frame = pd.concat([definitions, other], ignore_index=True)
    frame["is_generated"] = frame["is_generated"].astype(bool)
    return with_theme_counts(frame, theme_ids, clusters)[[c.name for c in TABLES["themes"]]]
