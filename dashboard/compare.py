"""Compare two runs (pure pandas, no Streamlit, no I/O): how papers flowed between their
clusters (papers matched by paper_id), what became of each cluster, theme counts side by side
and the papers new in the later run.

In: the paper views (`transforms.paper_view`: paper_id, cluster_id, theme_id, ...) and cluster
tables of an earlier and a later run. Out: plain DataFrames for the Compare page and its charts.

What became of a cluster is read from the flow table, over the papers both runs hold (papers
added or dropped do not weaken a match), unassigned papers (-1) being no cluster:
- a flow is a *main flow* of an earlier cluster when it carries at least MAIN_SHARE of that
  cluster's shared papers, and of a later cluster when it brings at least MAIN_SHARE of its
  shared papers;
- the *parts* of an earlier cluster are the later clusters its main flows reach, plus those
  whose only main flow comes from it; the *sources* of a later cluster are the earlier clusters
  whose main flows bring its papers, plus those whose only main flow goes to it;
- **split**: an earlier cluster with two or more parts; **merged**: a later cluster with two or
  more sources; **gone**: an earlier cluster with no part (its papers scattered, became
  unassigned or left the corpus); **new**: a later cluster with no source;
- one earlier cluster whose only part is one later cluster whose only source it is continues
  as that cluster: **grown** when it holds at least GROWN_SHARE more papers (and MIN_CHANGE
  papers more), **shrunk** when as many fewer, else **stable**.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.contract import UNASSIGNED

MAIN_SHARE = 0.3  # a flow carrying this share of a cluster's shared papers is a main flow
GROWN_SHARE = 0.25  # size change (against the earlier size) that makes grown / shrunk
MIN_CHANGE = 3  # ... and never fewer papers than this
CHANGES = ("new", "grown", "shrunk", "split", "merged", "gone", "stable")  # table order
EARLIER, LATER = "earlier_cluster", "later_cluster"
CHANGE_COLUMNS = [
    "change",
    "earlier",
    "later",
    "n_earlier",
    "n_later",
    "n_shared",
    "jaccard",
    "earlier_ids",
    "later_ids",
]


def restrict(
    earlier: pd.DataFrame, later: pd.DataFrame, earlier_mask: np.ndarray, later_mask: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both runs' papers cut to those passing the filters in either run (the masks), so a
    paper kept on one side is kept on the other and the flows stay whole."""
    keep = set(earlier.loc[earlier_mask, "paper_id"]) | set(later.loc[later_mask, "paper_id"])
    return (
        earlier[earlier["paper_id"].isin(keep).to_numpy()],
        later[later["paper_id"].isin(keep).to_numpy()],
    )


def flow_table(earlier: pd.DataFrame, later: pd.DataFrame) -> pd.DataFrame:
    """Papers per (earlier cluster, later cluster) pair, papers matched by paper_id.

    Columns: earlier_cluster and later_cluster (nullable Int64; <NA>: the paper is not in that
    run; -1: unassigned there), n_papers. Largest flows first."""
    joined = pd.merge(
        earlier[["paper_id", "cluster_id"]],
        later[["paper_id", "cluster_id"]],
        on="paper_id",
        how="outer",
        suffixes=("_earlier", "_later"),
    )
    flows = (
        joined.rename(columns={"cluster_id_earlier": EARLIER, "cluster_id_later": LATER})
        .astype({EARLIER: "Int64", LATER: "Int64"})
        .groupby([EARLIER, LATER], dropna=False)
        .size()
        .rename("n_papers")
        .reset_index()
    )
    flows = flows.astype({EARLIER: "Int64", LATER: "Int64", "n_papers": np.int64})
    return flows.sort_values("n_papers", ascending=False, kind="stable").reset_index(drop=True)


def _main_flows(flows: pd.DataFrame) -> pd.DataFrame:
    """The flows between two clusters (no unassigned, no missing side) with the share of each
    side's shared papers they carry."""
    pairs = flows[flows[EARLIER].notna() & flows[LATER].notna()]
    shared_earlier = pairs.groupby(EARLIER)["n_papers"].sum()
    shared_later = pairs.groupby(LATER)["n_papers"].sum()
    real = pairs[(pairs[EARLIER] != UNASSIGNED) & (pairs[LATER] != UNASSIGNED)].copy()
    real["share_of_earlier"] = real["n_papers"] / real[EARLIER].map(shared_earlier)
    real["share_of_later"] = real["n_papers"] / real[LATER].map(shared_later)
    real["shared_earlier"] = real[EARLIER].map(shared_earlier)
    real["shared_later"] = real[LATER].map(shared_later)
    return real


def cluster_changes(
    flows: pd.DataFrame,
    earlier_labels: dict[int, str] | None = None,
    later_labels: dict[int, str] | None = None,
) -> pd.DataFrame:
    """What became of each cluster (the rules in the module docstring), one row per change.

    Columns: change (one of CHANGES), earlier and later (cluster labels, "; "-joined),
    n_earlier and n_later (papers of those clusters in their runs), n_shared (papers flowing
    from the earlier to the later clusters of the row), jaccard (continued clusters: shared
    papers over the union of both clusters' shared papers; else NaN), earlier_ids, later_ids
    (lists of cluster ids). A cluster can be in two rows (a part of a split that also
    continues another cluster)."""
    earlier_labels, later_labels = earlier_labels or {}, later_labels or {}
    size_earlier = flows[flows[EARLIER].notna()].groupby(EARLIER)["n_papers"].sum()
    size_later = flows[flows[LATER].notna()].groupby(LATER)["n_papers"].sum()
    real = _main_flows(flows)
    is_main_out = real["share_of_earlier"] >= MAIN_SHARE
    is_main_in = real["share_of_later"] >= MAIN_SHARE
    outs = _linked(real[is_main_out], EARLIER, LATER)
    ins = _linked(real[is_main_in], LATER, EARLIER)
    earlier_ids = [int(c) for c in size_earlier.index if c != UNASSIGNED]
    later_ids = [int(c) for c in size_later.index if c != UNASSIGNED]
    parts = {a: set(outs.get(a, ())) for a in earlier_ids}
    sources = {b: set(ins.get(b, ())) for b in later_ids}
    for a, reached in outs.items():  # an earlier cluster whose only main flow goes to b
        if len(reached) == 1:
            sources[next(iter(reached))].add(a)
    for b, came in ins.items():  # a later cluster whose only main flow comes from a
        if len(came) == 1:
            parts[next(iter(came))].add(b)
    flow_n = real.set_index([EARLIER, LATER])["n_papers"]

    def row(change: str, left: list[int], right: list[int]) -> dict:
        left, right = sorted(left), sorted(right)
        shared = sum(int(flow_n.get((a, b), 0)) for a in left for b in right)
        return {
            "change": change,
            "earlier": "; ".join(earlier_labels.get(a, f"#{a}") for a in left),
            "later": "; ".join(later_labels.get(b, f"#{b}") for b in right),
            "n_earlier": int(sum(size_earlier.get(a, 0) for a in left)),
            "n_later": int(sum(size_later.get(b, 0) for b in right)),
            "n_shared": shared,
            "jaccard": np.nan,
            "earlier_ids": left,
            "later_ids": right,
        }

    rows = []
    for a in earlier_ids:
        if not parts[a]:
            rows.append(row("gone", [a], []))
        elif len(parts[a]) >= 2:
            rows.append(row("split", [a], list(parts[a])))
    for b in later_ids:
        if not sources[b]:
            rows.append(row("new", [], [b]))
        elif len(sources[b]) >= 2:
            rows.append(row("merged", list(sources[b]), [b]))
        else:
            a = next(iter(sources[b]))
            if parts[a] == {b}:
                rec = row(_size_change(size_earlier[a], size_later[b]), [a], [b])
                union = _shared_union(real, a, b)
                rec["jaccard"] = rec["n_shared"] / union if union else np.nan
                rows.append(rec)
    out = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    order = out["change"].map({c: i for i, c in enumerate(CHANGES)})
    size = out[["n_earlier", "n_later"]].max(axis=1)
    return (
        out.assign(_order=order, _size=size)
        .sort_values(["_order", "_size"], ascending=[True, False], kind="stable")
        .drop(columns=["_order", "_size"])
        .reset_index(drop=True)
    )


def _linked(flows: pd.DataFrame, side: str, other: str) -> dict[int, set[int]]:
    """{cluster on `side`: the clusters on the `other` side its flows link it to}."""
    out: dict[int, set[int]] = {}
    for left, right in zip(flows[side], flows[other], strict=True):
        out.setdefault(int(left), set()).add(int(right))
    return out


def _size_change(n_earlier: int, n_later: int) -> str:
    """grown, shrunk or stable: see GROWN_SHARE and MIN_CHANGE."""
    needed = max(MIN_CHANGE, GROWN_SHARE * n_earlier)
    if n_later - n_earlier >= needed:
        return "grown"
    if n_earlier - n_later >= needed:
        return "shrunk"
    return "stable"


def _shared_union(real: pd.DataFrame, a: int, b: int) -> int:
    """Papers shared by both runs in earlier cluster `a` or later cluster `b` (their union)."""
    pair = real[(real[EARLIER] == a) & (real[LATER] == b)]
    if pair.empty:
        return 0
    rec = pair.iloc[0]
    return int(rec["shared_earlier"] + rec["shared_later"] - rec["n_papers"])


def change_counts(changes: pd.DataFrame) -> dict[str, int]:
    """How many rows of each change (every change in CHANGES, 0 when none)."""
    counts = changes["change"].value_counts()
    return {c: int(counts.get(c, 0)) for c in CHANGES}


def theme_counts(
    earlier: pd.DataFrame,
    later: pd.DataFrame,
    earlier_themes: pd.DataFrame,
    later_themes: pd.DataFrame,
) -> pd.DataFrame:
    """Papers per theme in both runs, themes matched by theme_id (the later run's name wins).

    Columns: theme_id, name, n_earlier, n_later, change (n_later - n_earlier); every theme of
    either run, largest in the later run first."""
    names = {
        **dict(zip(earlier_themes["theme_id"], earlier_themes["name"], strict=True)),
        **dict(zip(later_themes["theme_id"], later_themes["name"], strict=True)),
    }
    out = pd.DataFrame({"theme_id": list(names)})
    out["name"] = out["theme_id"].map(names).astype(str)
    for col, papers in (("n_earlier", earlier), ("n_later", later)):
        counts = papers["theme_id"].value_counts()
        out[col] = out["theme_id"].map(counts).fillna(0).astype(np.int64)
    out["change"] = out["n_later"] - out["n_earlier"]
    return out.sort_values(["n_later", "n_earlier"], ascending=False).reset_index(drop=True)


def new_papers(earlier: pd.DataFrame, later: pd.DataFrame) -> pd.DataFrame:
    """The later run's papers whose paper_id the earlier run does not hold, newest first."""
    fresh = later[~later["paper_id"].isin(set(earlier["paper_id"])).to_numpy()]
    return fresh.sort_values("published", ascending=False, na_position="last")


def flow_labels(flows: pd.DataFrame, labels: dict[int, str], side: str) -> pd.Series:
    """A readable name for each flow's cluster on one side (EARLIER or LATER): "#id label",
    "unassigned", or "not in this run"."""

    def name(cluster) -> str:
        if pd.isna(cluster):
            return "not in this run"
        if int(cluster) == UNASSIGNED:
            return "unassigned"
        return f"#{int(cluster)} {labels.get(int(cluster), '')}".strip()

    return flows[side].map(name)
