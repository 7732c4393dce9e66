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
    span = derive.period_span(published, "month")
    assert span == ["2024-01", "2024-02", "2024-03"]
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
