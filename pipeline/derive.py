"""Derived tables: turns per-paper facts (cluster, theme, date, map position, embedding) into every
table computed from them: cluster rows, theme counts, theme mix, counts per period.

The run, review replay, the dashboard and the test factories all derive through this module, so
a count means the same everywhere. Pure pandas/numpy: no model, no I/O (the dashboard imports it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


OUTLIER_IQR = 3.0  # a date beyond Q1 - 3 IQR or Q3 + 3 IQR (Tukey's far-out fences) is outlying
MIN_IQR_DAYS = 365  # ... with the interquartile range taken as at least a year
MAX_PERIODS = 300  # the most periods a timeline shows (25 years of months)
_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}


@dataclass(frozen=True)
class PeriodSpan:
    """The periods a timeline shows, and the dated papers it leaves out (see `timeline_span`).

    `periods` are labels in order without gaps; `n_before` / `n_after` count the dated papers
    before the first / after the last of them, `earliest` / `latest` are the outermost of those
    dates (None when there is none). `is_capped`: the dates that are not outlying span more than
    the most periods shown, so a longer period kind would show more of them."""

    kind: str
    periods: tuple[str, ...] = ()
    n_before: int = 0
    n_after: int = 0
    earliest: pd.Timestamp | None = None
    latest: pd.Timestamp | None = None
    is_capped: bool = False

    @property
    def n_outside(self) -> int:
        return self.n_before + self.n_after


def _stamps(published: pd.Series) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(published))).dropna()


def date_bounds(published: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The earliest and latest dates that are not outlying (None when nothing is dated).

    The rule, the same for every period kind: a date is outlying when it lies beyond Tukey's
    far-out fences, Q1 - 3 IQR and Q3 + 3 IQR of all dates (the IQR taken as at least a year, so
    a corpus of a few weeks keeps last year's papers), unless a dense year (SPARSE_MIN_PAPERS
    or more papers) lies at or beyond it: a real long tail stays, a typo (1948 among 2022-2024,
    9999-12-31) goes. Outlying papers are kept in the run; timelines count them apart.
    """
    stamps = _stamps(published)
    if stamps.empty:
        return None
    days = stamps.to_numpy().astype("datetime64[D]").astype(np.int64)
    q1, q3 = np.quantile(days, [0.25, 0.75])
    iqr = max(q3 - q1, MIN_IQR_DAYS)
    lo, hi = q1 - OUTLIER_IQR * iqr, q3 + OUTLIER_IQR * iqr
    years = stamps.dt.year.value_counts()
    dense = years[years >= SPARSE_MIN_PAPERS].index
    if len(dense):
        lo = min(lo, np.datetime64(f"{int(dense.min()):04d}-01-01", "D").astype(np.int64))
        hi = max(hi, np.datetime64(f"{int(dense.max()):04d}-12-31", "D").astype(np.int64))
    kept = stamps[(days >= lo) & (days <= hi)]
    return pd.Timestamp(kept.min()), pd.Timestamp(kept.max())


def _ordinals(stamps: pd.Series, kind: str) -> np.ndarray:
    """Period number of each date: year * periods per year + period within the year."""
    year = stamps.dt.year.to_numpy(np.int64)
    if kind == "year":
        return year
    within = stamps.dt.month if kind == "month" else stamps.dt.quarter
    return year * _PER_YEAR[kind] + within.to_numpy(np.int64) - 1


def _label(ordinal: int, kind: str) -> str:
    year, within = divmod(int(ordinal), _PER_YEAR[kind])
    if kind == "month":
        return f"{year:04d}-{within + 1:02d}"
    return f"{year:04d}-Q{within + 1}" if kind == "quarter" else f"{year:04d}"


def timeline_span(published: pd.Series, kind: str, max_periods: int = MAX_PERIODS) -> PeriodSpan:
    """The periods a timeline of `published` shows, in order without gaps, and what it leaves
    out: from the period of the earliest to that of the latest date that is not outlying (see
    `date_bounds`); when that is more than `max_periods` periods, the `max_periods` consecutive
    periods holding the most papers (the latest such window on a tie). Bounded whatever the
    dates: at most `max_periods` labels and O(n log n) work."""
    _check_kind(kind)
    stamps = _stamps(published)
    bounds = date_bounds(stamps)
    if bounds is None:
        return PeriodSpan(kind)
    ordinals = _ordinals(stamps, kind)
    first, last = (int(_ordinals(pd.Series(list(bounds)), kind)[i]) for i in (0, 1))
    is_capped = last - first + 1 > max_periods
    if is_capped:
        inside = np.sort(ordinals[(ordinals >= first) & (ordinals <= last)])
        starts = np.unique(inside)
        n_in = np.searchsorted(inside, starts + max_periods) - np.searchsorted(inside, starts)
        first = int(starts[np.flatnonzero(n_in == n_in.max())[-1]])
        last = int(inside[np.searchsorted(inside, first + max_periods) - 1])
    before, after = stamps[ordinals < first], stamps[ordinals > last]
    return PeriodSpan(
        kind,
        tuple(_label(o, kind) for o in range(first, last + 1)),
        n_before=len(before),
        n_after=len(after),
        earliest=pd.Timestamp(before.min()) if len(before) else None,
        latest=pd.Timestamp(after.max()) if len(after) else None,
        is_capped=is_capped,
    )


def latest_date(published: pd.Series) -> pd.Timestamp | None:
    """Where the data ends: the latest date that is not outlying (see `date_bounds`; None if
    nothing is dated), so a typo like 9999-12-31 never hides a partial period.

    Pass the dates of all papers of the run, not a filtered subset, so a filter never makes a
    period partial.
    """
    bounds = date_bounds(published)
    return None if bounds is None else bounds[1].normalize()


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


def expected_by_period(
    periods: pd.Series, probabilities: pd.DataFrame, span: Sequence[str], z: float = 1.96
) -> pd.DataFrame:
    """Expected papers per period and theme: the sum of the papers' probabilities of the theme
    (a paper at 0.6 counts 0.6), with a band of `z` standard deviations of that sum (the
    variance of a sum of independent yes/no papers is the sum of p(1 - p)). `periods` holds
    each paper's period label (None when undated), `probabilities` one column per theme, rows
    aligned. Columns: period, group, expected, low (never below 0), high; every period of
    `span` for every theme."""
    periods = pd.Series(np.asarray(periods, dtype=object))
    dated = periods.notna().to_numpy()
    values = probabilities.to_numpy(dtype=np.float64)[dated]
    labels = periods[dated].to_numpy()
    sums = pd.DataFrame(values, columns=probabilities.columns).groupby(labels).sum()
    var = pd.DataFrame(values * (1 - values), columns=probabilities.columns).groupby(labels).sum()
    sums, var = sums.reindex(list(span), fill_value=0.0), var.reindex(list(span), fill_value=0.0)
    out = sums.stack().rename("expected").reset_index()
    out.columns = ["period", "group", "expected"]
    half = z * np.sqrt(var.stack().to_numpy())
    out["low"] = np.clip(out["expected"] - half, 0, None)
    out["high"] = out["expected"] + half
    return out


def timeline(published: pd.Series, groups: pd.Series, kinds: Sequence[str] = PERIOD_KINDS):
    """Counts per period for whole-run notebooks and reports: the long table of
    `counts_by_period` for each period kind, with `period_kind` and `period_start` added and
    empty (period, group) rows dropped."""
    parts = []
    for kind in kinds:
        labels = period_labels(published, kind)
        present = sorted(labels.dropna().unique())  # empty rows are dropped: no span needed
        counts = counts_by_period(labels, groups, present)
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
