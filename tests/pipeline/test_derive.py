"""Derived tables: one owner for counts per period, cluster facts, theme counts and theme mix."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import derive
from pipeline.contract import OTHER, UNASSIGNED


def test_period_labels():
    """Dates map to month, quarter and year labels; missing dates stay missing."""
    dates = pd.Series(pd.to_datetime(["2024-02-10", None, "2025-11-30"]))
    assert derive.period_labels(dates, "month").tolist() == ["2024-02", None, "2025-11"]
    assert derive.period_labels(dates, "quarter").tolist() == ["2024-Q1", None, "2025-Q4"]
    assert derive.period_labels(dates, "year").tolist() == ["2024", None, "2025"]


def test_counts_by_period_fill_the_span_and_add_up():
    """Every period of the span appears for every group; counts add up to the dated papers and a
    period's shares to 1; sparse and partial periods are flagged."""
    published = pd.Series(pd.to_datetime(["2024-01-05", "2024-03-02", None, "2024-03-30"]))
    groups = pd.Series(["a", "b", "a", "a"])
    labels = derive.period_labels(published, "month")
    span = derive.timeline_span(published, "month").periods
    assert span == ("2024-01", "2024-02", "2024-03")
    end = derive.latest_date(published)
    counts = derive.counts_by_period(labels, groups, span, kind="month", data_end=end)
    assert len(counts) == 3 * 2
    assert counts["n_papers"].sum() == 3
    full = counts[counts["n_period_total"] > 0]
    assert np.allclose(full.groupby("period")["share"].sum(), 1.0)
    assert counts["is_sparse"].all()  # fewer than SPARSE_MIN_PAPERS papers in every month
    assert counts.loc[counts["is_partial"], "period"].unique().tolist() == ["2024-03"]


def test_timeline_long_table_drops_empty_rows():
    """`timeline` gives every period kind, only non-empty (period, group) rows, period starts."""
    published = pd.Series(pd.to_datetime(["2023-12-31", "2024-01-01"]))
    table = derive.timeline(published, pd.Series([1, 2]))
    assert set(table["period_kind"]) == {"month", "quarter", "year"}
    assert (table["n_papers"] > 0).all()
    years = table[table["period_kind"] == "year"]
    assert years["period_start"].dt.year.tolist() == [2023, 2024]


def _dates(*spans: tuple[str, str, int], extra: tuple[str, ...] = ()) -> pd.Series:
    """`n` evenly spread dates from `start` to `end` per (start, end, n), plus `extra` dates."""
    parts = [pd.Series(pd.date_range(a, b, periods=n)) for a, b, n in spans]
    parts.append(pd.Series(pd.to_datetime(list(extra), format="ISO8601")))
    return pd.concat(parts, ignore_index=True)


def test_timeline_span_groups_a_stray_old_date():
    """One paper from 1948 among 300 from 2022-2024 is counted apart, not 900 empty months."""
    published = _dates(("2022-01-01", "2024-12-31", 300), extra=("1948-06-01",))
    for kind, n_periods in (("month", 36), ("quarter", 12), ("year", 3)):
        span = derive.timeline_span(published, kind)
        assert len(span.periods) == n_periods and span.periods[0].startswith("2022")
        assert (span.n_before, span.n_after) == (1, 0) and not span.is_capped
        assert span.earliest == pd.Timestamp("1948-06-01") and span.latest is None
    assert derive.latest_date(published) == pd.Timestamp("2024-12-31")


def test_timeline_span_keeps_a_dense_long_tail_and_twenty_years_of_months():
    """A real tail (dense years) stays on the chart; 20 years of months is 240 periods."""
    tail = _dates(("2000-01-01", "2015-12-31", 160), ("2021-01-01", "2024-12-31", 4000))
    span = derive.timeline_span(tail, "year")
    assert span.periods[0] == "2000" and span.n_outside == 0
    twenty = _dates(("2006-01-15", "2025-12-15", 240))
    span = derive.timeline_span(twenty, "month")
    assert len(span.periods) == 240 and span.n_outside == 0


def test_timeline_span_is_bounded_for_dates_from_year_1000_to_9999():
    """Dates spread over nine millennia give at most MAX_PERIODS periods per kind, the densest
    window, and every dated paper is either inside it or counted before or after it."""
    days = np.linspace(0, (pd.Timestamp("9999-12-31") - pd.Timestamp("1000-01-01")).days, 2000)
    published = pd.Series(pd.Timestamp("1000-01-01") + pd.to_timedelta(days.astype(int), "D"))
    for kind in ("month", "quarter", "year"):
        span = derive.timeline_span(published, kind)
        assert 0 < len(span.periods) <= derive.MAX_PERIODS
        labels = derive.period_labels(published, kind)
        inside = labels.isin(span.periods).sum()
        assert inside + span.n_before + span.n_after == len(published)
        assert span.is_capped
    assert derive.timeline_span(pd.Series([], dtype="datetime64[s]"), "year").periods == ()


def test_timeline_span_keeps_last_years_papers_in_a_corpus_of_weeks():
    """The IQR is taken as at least a year: two months before three busy weeks is no outlier."""
    published = _dates(("2026-03-01", "2026-03-21", 200), extra=("2026-01-05",))
    span = derive.timeline_span(published, "month")
    assert span.periods == ("2026-01", "2026-02", "2026-03") and span.n_outside == 0


def test_cluster_facts_and_the_unassigned_group():
    """Cluster facts count members, take the dominant theme (ties: first id) and map medians;
    the unassigned papers never get a dominant theme."""
    facts = pd.DataFrame(
        {
            "cluster_id": [0, 0, 0, UNASSIGNED, UNASSIGNED],
            "theme_id": ["b", "a", "a", "a", "a"],
            "published": pd.to_datetime(["2024-01-01", None, "2024-05-01", None, None]),
            "map_x": [0.0, 1.0, 5.0, 9.0, 9.0],
            "map_y": [0.0, 0.0, 0.0, 1.0, 1.0],
        }
    )
    out = derive.cluster_facts(facts)
    assert out.loc[0, "n_papers"] == 3 and out.loc[0, "theme_id"] == "a"
    assert out.loc[0, "theme_share"] == 2 / 3 and out.loc[0, "map_x"] == 1.0
    assert out.loc[0, "first_published"] == pd.Timestamp("2024-01-01")
    assert out.loc[UNASSIGNED, "theme_id"] == OTHER and out.loc[UNASSIGNED, "theme_share"] == 0.0
    assert derive.dominant_theme(pd.Series(["z", "y"])) == ("y", 0.5)


def test_theme_counts_and_mix():
    """Theme counts: papers per theme and clusters dominated (unassigned group not counted);
    theme mix shares add up to 1 per cluster."""
    counts = derive.theme_counts(
        pd.Series(["a", "a", "b", OTHER]), pd.Series({0: "a", 1: "b", UNASSIGNED: "a"})
    ).set_index("theme_id")
    assert counts.loc["a", "n_papers"] == 2 and counts.loc["a", "n_clusters"] == 1
    assert counts.loc[OTHER, "n_clusters"] == 0
    mix = derive.theme_mix(pd.Series([0, 0, 1]), pd.Series(["a", "b", "b"]))
    assert np.allclose(mix.groupby("cluster_id")["share"].sum(), 1.0)
