"""Timeline stage: reads paper dates with their theme and cluster, produces paper counts and
shares per month, quarter and year (the contract's theme_timeline and cluster_timeline tables)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

PERIOD_KINDS = ("month", "quarter", "year")
_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}


def _label(period: pd.Period, kind: str) -> str:
    if kind == "month":
        return f"{period.year:04d}-{period.month:02d}"
    if kind == "quarter":
        return f"{period.year:04d}-Q{period.quarter}"
    return f"{period.year:04d}"


def counts_by_period(
    published: Sequence[str | None] | pd.Series, groups: Sequence, group_column: str
) -> pd.DataFrame:
    """Papers per (period kind, period, group) with their share of all dated papers in the period.

    Undated papers are left out. Periods with no paper of a group are absent (not zero rows).
    Columns: period_kind, period, period_start, <group_column>, n_papers, share.
    """
    dates = pd.to_datetime(pd.Series(list(published), dtype="object"), errors="coerce")
    frame = pd.DataFrame({"date": dates, group_column: list(groups)}).dropna(subset=["date"])
    parts = []
    for kind in PERIOD_KINDS:
        if frame.empty:
            break
        periods = frame["date"].dt.to_period(_FREQ[kind])
        counted = (
            frame.assign(_period=periods)
            .groupby(["_period", group_column])
            .size()
            .rename("n_papers")
            .reset_index()
        )
        totals = counted.groupby("_period")["n_papers"].transform("sum")
        counted["share"] = counted["n_papers"] / totals
        counted["period_kind"] = kind
        counted["period"] = [_label(p, kind) for p in counted["_period"]]
        counted["period_start"] = [p.start_time.normalize() for p in counted["_period"]]
        parts.append(counted.drop(columns="_period"))
    columns = ["period_kind", "period", "period_start", group_column, "n_papers", "share"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns}).astype(
            {"n_papers": "int64", "share": "float64", "period_start": "datetime64[ns]"}
        )
    result = pd.concat(parts, ignore_index=True)[columns]
    result["n_papers"] = result["n_papers"].astype(np.int64)
    order = {k: i for i, k in enumerate(PERIOD_KINDS)}
    result = result.sort_values(
        ["period_kind", "period_start", group_column],
        key=lambda s: s.map(order) if s.name == "period_kind" else s,
    )
    return result.reset_index(drop=True)


def theme_timeline(published, theme_ids) -> pd.DataFrame:
    """The contract's theme_timeline table."""
    return counts_by_period(published, [str(t) for t in theme_ids], "theme_id")


def cluster_timeline(published, cluster_ids) -> pd.DataFrame:
    """The contract's cluster_timeline table."""
    table = counts_by_period(published, [int(c) for c in cluster_ids], "cluster_id")
    table["cluster_id"] = table["cluster_id"].astype(np.int64)
    return table
