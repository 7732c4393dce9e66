"""Pure pandas views over a run's tables for the dashboard pages (no Streamlit, no I/O).

Input: the DataFrames of `pipeline.contract.Run.tables`. Output: the joined paper view, filter
masks, counts by period, growth, cluster summaries, nearest papers and text helpers.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dashboard.word_index import WordIndex
from pipeline import derive
from pipeline.contract import OTHER, PERIOD_KINDS, UNASSIGNED

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~^=:&])")


@dataclass(frozen=True)
class Filters:
    """The global filters of the sidebar; empty tuples / None mean "no restriction"."""

    themes: tuple[str, ...] = ()
    clusters: tuple[int, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    query: str = ""

    @property
    def is_active(self) -> bool:
        return bool(self.themes or self.clusters or self.date_from or self.date_to or self.query)


@dataclass(frozen=True)
class ViewFacts:
    """Names used to describe a view: theme names and cluster labels by id, and how to name
    the search when its text is not what to show (a "papers like this" search)."""

    theme_names: dict[str, str] = field(default_factory=dict)
    cluster_labels: dict[int, str] = field(default_factory=dict)
    query_label: str = ""


def escape_markdown(text: str) -> str:
    """Escape every Markdown/HTML/LaTeX-significant character so st.markdown shows `text` as is."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def paper_view(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per paper (papers order; `row` indexes the embeddings) with its assignment,
    cluster label, theme name, period labels, a lower-case `search_text` and a `hover` string.
    """
    papers = tables["papers"].reset_index(drop=True)
    assign = tables["assignments"].reset_index(drop=True)
    labels = tables["clusters"].set_index("cluster_id")["label"]
    names = tables["themes"].set_index("theme_id")["name"]
    view = pd.DataFrame(
        {
            "row": np.arange(len(papers)),
            "paper_id": papers["paper_id"].astype(str),
            "title": papers["title"].astype(str),
            "abstract": papers["abstract"].astype(str),
            "published": pd.to_datetime(papers["published"]),
            "authors": papers["authors"],
            "url": papers["url"],
            "arxiv_id": papers["arxiv_id"],
            "doi": papers["doi"],
        }
    )
    for col in (
        "cluster_id",
        "theme_id",
        "theme_probability",
        "secondary_theme_id",
        "cluster_probability",
        "is_reassigned",
        "map_x",
        "map_y",
    ):
        view[col] = assign[col].to_numpy()
    view["cluster_id"] = view["cluster_id"].astype(np.int64)
    view["cluster_label"] = view["cluster_id"].map(labels).fillna("Unassigned").astype(str)
    view.loc[view["cluster_id"] == UNASSIGNED, "cluster_label"] = "Unassigned"
    view["theme_name"] = view["theme_id"].map(names).fillna(view["theme_id"]).astype(str)
    view["authors_text"] = _authors_text(view["authors"])
    view["date"] = view["published"].dt.strftime("%Y-%m-%d").fillna("")
    for kind in PERIOD_KINDS:
        view[kind] = derive.period_labels(view["published"], kind)
    view["search_text"] = (
        view["title"] + " \n " + view["abstract"] + " \n " + view["authors_text"]
    ).str.lower()
    view["is_changed"] = False  # set by review decisions (a person changed something)
    view["hover"] = hover_text(view)
    view["hover_theme"] = view["hover"] + "<br>" + escape_names(view["theme_name"])
    # Text as Python objects: a filtered row selection then copies pointers, not string data
    # (10x faster at 75k papers). search_text stays Arrow-backed for fast substring search.
    for col in view.columns:
        if (
            col != "search_text"
            and view[col].dtype != object
            and pd.api.types.is_string_dtype(view[col])
        ):
            view[col] = view[col].astype(object)
    return view


def without_search_text(papers: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """The rows of `papers` selected by `mask`, every column but the (large) search_text."""
    return papers.loc[mask, [c for c in papers.columns if c != "search_text"]]


# What `html.escape` replaces, in its order (the ampersand first).
_HTML_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;"))


def _arrow_text(text: pd.Series) -> pa.Array:
    return pa.array(text.astype(str).to_numpy(dtype=object), type=pa.large_string())


def _text_series(values: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(values.to_numpy(zero_copy_only=False), index=index, dtype=object)


def escape_html(text: pd.Series) -> pd.Series:
    """`html.escape` of every string of `text` (quotes too), a column at a time (Arrow): a
    million titles in well under a second instead of seconds."""
    values = _arrow_text(text)
    for char, entity in _HTML_ESCAPES:
        values = pc.replace_substring(values, char, entity)
    return _text_series(values, text.index)


def cut_text(text: pd.Series, limit: int, tail: str) -> pd.Series:
    """Each string of `text` longer than `limit` characters cut to end with `tail`, `limit`
    characters in all (code points, as Python counts them); a column at a time (Arrow)."""
    values = _arrow_text(text)
    head = pc.utf8_slice_codeunits(values, 0, limit - len(tail))
    empty = pa.scalar("", pa.large_string())
    cut = pc.binary_join_element_wise(head, pa.scalar(tail, pa.large_string()), empty)
    is_long = pc.greater(pc.utf8_length(values), limit)
    return _text_series(pc.if_else(is_long, cut, values), text.index)


def hover_text(view: pd.DataFrame) -> pd.Series:
    """HTML-escaped hover text for map points: title (shortened), date and cluster label (the
    theme is added from the trace name; kept short because it travels once per point)."""
    title = escape_html(cut_text(view["title"], 70, "..."))
    return title + "<br>" + view["date"] + " · " + escape_names(view["cluster_label"])


def escape_names(names: pd.Series) -> pd.Series:
    """`html.escape` of a column of few distinct strings (labels, theme names): each once."""
    escaped = {name: html.escape(str(name)) for name in pd.unique(names)}
    return names.map(escaped)


def _authors_text(authors: pd.Series) -> pd.Series:
    """Each paper's authors as one "; "-joined string ("" for none), a column at a time when
    Arrow reads them as lists of strings, else paper by paper."""
    try:
        lists = pa.array(authors.to_numpy(dtype=object), type=pa.list_(pa.large_string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return authors.map(lambda a: "; ".join(map(str, a)) if len(a) else "")
    joined = pc.binary_join(lists, pa.scalar("; ", pa.large_string()))
    return _text_series(joined.fill_null(""), authors.index)


def cluster_view(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Clusters with their theme name, keywords as text, a review `status` and a `is_changed`
    marker."""
    clusters = tables["clusters"].copy()
    names = tables["themes"].set_index("theme_id")["name"]
    clusters["theme_name"] = clusters["theme_id"].map(names).fillna(clusters["theme_id"])
    clusters["keywords_text"] = clusters["keywords"].map(", ".join)
    if "status" not in clusters.columns:  # a run without a review store
        clusters["status"] = "unreviewed"
    clusters["is_changed"] = False
    return clusters.sort_values("cluster_id").reset_index(drop=True)


def search_mask(search_text: pd.Series, query: str, index: WordIndex | None = None) -> np.ndarray:
    """Papers whose title, abstract or authors contain every word of `query` (case-insensitive).
    With the `index` of these texts (`dashboard.word_index`, large runs) it answers alike without
    reading them; else each word after the first is looked for only in the papers that matched
    so far."""
    words = query.lower().split()
    if not words:
        return np.ones(len(search_text), dtype=bool)
    if index is not None:
        return index.mask(words)
    rows = np.flatnonzero(search_text.str.contains(words[0], regex=False).to_numpy(dtype=bool))
    for word in words[1:]:
        rows = rows[search_text.iloc[rows].str.contains(word, regex=False).to_numpy(dtype=bool)]
    mask = np.zeros(len(search_text), dtype=bool)
    mask[rows] = True
    return mask


def filter_mask(
    papers: pd.DataFrame, filters: Filters, searched: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of the papers that pass every filter; `searched` may pass a precomputed
    search mask (the search is the costly part)."""
    mask = np.ones(len(papers), dtype=bool)
    if filters.themes:
        mask &= papers["theme_id"].isin(filters.themes).to_numpy()
    if filters.clusters:
        mask &= papers["cluster_id"].isin(filters.clusters).to_numpy()
    if filters.date_from:
        mask &= (papers["published"] >= pd.Timestamp(filters.date_from)).to_numpy()
    if filters.date_to:
        mask &= (papers["published"] <= pd.Timestamp(filters.date_to)).to_numpy()
    if filters.query.strip():
        mask &= (
            searched if searched is not None else search_mask(papers["search_text"], filters.query)
        )
    return mask


def describe_filters(filters: Filters, facts: ViewFacts) -> str:
    """One line naming the active filters, used as the subtitle of exported charts."""
    parts = []
    if filters.themes:
        parts.append("themes: " + ", ".join(facts.theme_names.get(t, t) for t in filters.themes))
    if filters.clusters:
        parts.append(
            "clusters: " + ", ".join(facts.cluster_labels.get(c, str(c)) for c in filters.clusters)
        )
    if filters.date_from or filters.date_to:
        parts.append(f"dates: {filters.date_from or '…'} to {filters.date_to or '…'}")
    if filters.query.strip():
        parts.append(facts.query_label or f'search: "{filters.query.strip()}"')
    return "; ".join(parts) if parts else "all papers"


def timeline_counts(
    papers: pd.DataFrame,
    period_kind: str,
    by: str = "theme_id",
    totals_from: pd.DataFrame | None = None,
    data_end: pd.Timestamp | None = None,
    span: derive.PeriodSpan | None = None,
) -> pd.DataFrame:
    """`derive.counts_by_period` over paper-view rows: papers per period and group (`by` =
    theme_id or cluster_id), every period x group filled, over `span` (default
    `derive.timeline_span` of `totals_from`, which is `papers` by default: the periods where the
    papers are, bounded whatever the dates; papers dated outside it are not counted). The
    papers of `totals_from` also make each period's total. `data_end` should be the whole run's
    `derive.latest_date` (default: that of `totals_from`). Columns: period, group, n_papers,
    n_period_total, share, is_sparse, is_partial."""
    totals = papers if totals_from is None else totals_from
    end = derive.latest_date(totals["published"]) if data_end is None else data_end
    if span is None:
        span = derive.timeline_span(totals["published"], period_kind)
    return derive.counts_by_period(
        papers[period_kind],
        papers[by],
        span.periods,
        totals[period_kind],
        kind=period_kind,
        data_end=end,
    )


def expected_papers(probabilities: pd.DataFrame, z: float = 1.96) -> pd.DataFrame:
    """Per theme (the columns of `probabilities`, one row per paper): expected papers (the sum
    of the probabilities) and a `z`-sigma band: theme_id, expected, low, high."""
    p = probabilities.to_numpy(dtype=np.float64)
    expected = p.sum(axis=0)
    half = z * np.sqrt((p * (1 - p)).sum(axis=0))
    return pd.DataFrame(
        {
            "theme_id": probabilities.columns,
            "expected": expected,
            "low": np.clip(expected - half, 0, None),
            "high": expected + half,
        }
    )


def with_expected(
    counts: pd.DataFrame, papers: pd.DataFrame, probabilities: pd.DataFrame, period_kind: str
) -> pd.DataFrame:
    """`counts` (from `timeline_counts` by theme) with the expected papers per period and theme
    and their 95% band (`derive.expected_by_period`), as counts (`expected`, `low`, `high`) and
    as shares of the period's papers (`expected_share`, `low_share`, `high_share`)."""
    periods = counts["period"].drop_duplicates().tolist()
    expected = derive.expected_by_period(papers[period_kind], probabilities, periods)
    out = counts.merge(expected, on=["period", "group"], how="left")
    total = out["n_period_total"].clip(lower=1)
    for col in ("expected", "low", "high"):
        out[col] = out[col].fillna(0.0)
        out[f"{col}_share"] = out[col] / total
    return out


def view_counts(tables: dict[str, pd.DataFrame]) -> tuple[int, int]:
    """(clusters, named themes) of a run's (reviewed) tables: the unassigned papers are not a
    cluster and "other" is not a theme, as the run's manifest counts them; after a merge the
    reviewed tables count one cluster less."""
    clusters, themes = tables["clusters"], tables["themes"]
    return (
        int((clusters["cluster_id"] != UNASSIGNED).sum()),
        int((themes["theme_id"] != OTHER).sum()),
    )


def n_papers_text(n: int, noun: str = "paper") -> str:
    """`n` and `noun`, plural unless n is 1: "1 paper", "2,300 papers", "5 selected papers"."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def outside_span_text(span: derive.PeriodSpan) -> str:
    """A caption naming the dated papers a timeline leaves out (see `derive.timeline_span`),
    e.g. "Not on the chart: 3 papers before 2022-Q1 (earliest 1948-06-01) ...", else ""."""
    if not span.n_outside or not span.periods:
        return ""
    parts = []
    if span.n_before:
        parts.append(
            f"{n_papers_text(span.n_before)} before {span.periods[0]} "
            f"(earliest {span.earliest.date().isoformat()})"
        )
    if span.n_after:
        parts.append(
            f"{n_papers_text(span.n_after)} after {span.periods[-1]} "
            f"(latest {span.latest.date().isoformat()})"
        )
    longer = " or a longer period" if span.is_capped and span.kind != "year" else ""
    return (
        "Not on the chart: " + " and ".join(parts) + ", dated far from the others; "
        f"the sidebar's date filter{longer} shows them."
    )


def compared_periods(
    periods: list[str], kind: str, data_end: pd.Timestamp | None
) -> tuple[str, str, str]:
    """(previous, last, partial) periods for growth: the last complete period, the one before
    it ("" when missing) and the partial period left out ("" when none). `periods` run in order
    without gaps, as from `timeline_counts`."""
    is_partial = bool(periods) and derive.is_partial_period(periods[-1], kind, data_end)
    partial = periods[-1] if is_partial else ""
    complete = periods[:-1] if partial else list(periods)
    last = complete[-1] if complete else ""
    previous = complete[-2] if len(complete) >= 2 else ""
    return previous, last, partial


def growth_periods_text(growth: pd.DataFrame, data_end: pd.Timestamp | None = None) -> str:
    """One line naming the periods a growth table (from `growth_by_group`) compares, e.g.
    "2026-Q2 vs 2026-Q1; 2026-Q3 is partial (data ends 2026-08-20)"."""
    if growth.empty:
        return ""
    rec = growth.iloc[0]
    last, previous, partial = rec["last_period"], rec["previous_period"], rec["partial_period"]
    text = f"{last} vs {previous}" if previous else "fewer than two complete periods to compare"
    if partial:
        ends = f" (data ends {pd.Timestamp(data_end):%Y-%m-%d})" if data_end is not None else ""
        text += f"; {partial} is partial{ends}"
    return text


def partial_periods_text(counts: pd.DataFrame, data_end: pd.Timestamp | None = None) -> str:
    """A caption for a timeline (from `counts_by_period`) with a partial period, else ""."""
    partial = counts.loc[counts["is_partial"], "period"].drop_duplicates().tolist()
    if not partial:
        return ""
    ends = f" (data ends {pd.Timestamp(data_end):%Y-%m-%d})" if data_end is not None else ""
    return (
        f"{', '.join(partial)} is a partial period{ends}: orange dotted band, hollow points. "
        "Its lower count is not a decline."
    )


UNASSIGNED_LABEL = "Unassigned papers"  # the row of papers no cluster took, in tables
GROWTH_MIN_PAPERS = derive.SPARSE_MIN_PAPERS  # growth needs this many papers in both periods
FEW_PAPERS = "few papers"  # shown instead of a growth computed from fewer papers


def growth_by_group(
    papers: pd.DataFrame,
    by: str,
    period_kind: str = "quarter",
    totals_from: pd.DataFrame | None = None,
    data_end: pd.Timestamp | None = None,
    span: derive.PeriodSpan | None = None,
) -> pd.DataFrame:
    """Per group: n_papers, papers in the last complete period and in the one before, growth.

    The periods are those of `span` (default: where `totals_from` papers are, see
    `timeline_counts`); pass the view's span so a filter never moves the compared periods. A
    partial last period (the data stops inside it, see `derive.is_partial_period`) is left out,
    so it is never compared as if complete. Columns: `by`, n_papers, last_period,
    previous_period, partial_period ("" when none), n_last, n_previous, growth, is_sparse.
    `growth` = (n_last - n_previous) / n_previous, NaN (shown as FEW_PAPERS) when `is_sparse`:
    fewer than GROWTH_MIN_PAPERS papers in either period, or not two periods to compare.
    """
    counts = timeline_counts(papers, period_kind, by, totals_from, data_end, span)
    size = papers.groupby(by).size().rename("n_papers")
    periods = counts["period"].drop_duplicates().tolist()
    end = derive.latest_date((papers if totals_from is None else totals_from)["published"])
    previous, last, partial = compared_periods(
        periods, period_kind, end if data_end is None else data_end
    )
    out = pd.DataFrame({"n_papers": size})
    pivot = counts.pivot(index="group", columns="period", values="n_papers")
    out["last_period"] = last
    out["previous_period"] = previous
    out["partial_period"] = partial
    for col, period in (("n_last", last), ("n_previous", previous)):
        if period:
            out[col] = pivot[period].reindex(out.index).fillna(0).astype(int)
        else:
            out[col] = 0
    sparse = (out["n_last"] < GROWTH_MIN_PAPERS) | (out["n_previous"] < GROWTH_MIN_PAPERS)
    if not previous:
        sparse[:] = True
    growth = (out["n_last"] - out["n_previous"]) / out["n_previous"].clip(lower=1)
    out["growth"] = growth.where(~sparse)
    out["is_sparse"] = sparse
    return out.reset_index().rename(columns={"index": by})


GROWTH_FORMAT = "%+.0f%%"  # a growth column's display: percent points, e.g. "+35%"


def growth_percent(growth: pd.Series) -> pd.Series:
    """Growths (from `growth_by_group`) in percent, NaN (shown blank) where papers are few: a
    number column, so a table sorts by growth rather than by its text."""
    return growth.astype("float64") * 100


def growth_text(growth: float) -> str:
    """A growth (from `growth_by_group`) as text: "+35%", or FEW_PAPERS when it is NaN."""
    return FEW_PAPERS if pd.isna(growth) else f"{growth:+.0%}"


def theme_summary(
    papers: pd.DataFrame,
    themes: pd.DataFrame,
    period_kind: str = "quarter",
    data_end: pd.Timestamp | None = None,
    span: derive.PeriodSpan | None = None,
) -> pd.DataFrame:
    """Theme sizes with growth over the last two complete periods (see `growth_by_group`):
    theme_id, name, n_papers, the compared periods, n_last, n_previous, growth, is_sparse."""
    growth = growth_by_group(papers, "theme_id", period_kind, data_end=data_end, span=span)
    out = themes[["theme_id", "name"]].merge(growth, on="theme_id", how="inner")
    return out.sort_values("n_papers", ascending=False).reset_index(drop=True)


CLUSTER_SUMMARY_COLUMNS = (
    "cluster_id",
    "label",
    "theme_name",
    "n_papers",
    "first",
    "last",
    "n_last",
    "n_previous",
    "growth",
    "last_period",
    "previous_period",
    "partial_period",
    "keywords_text",
    "is_sparse",
    "status",
    "is_changed",
)


def cluster_summary(
    papers: pd.DataFrame,
    clusters: pd.DataFrame,
    period_kind: str = "quarter",
    data_end: pd.Timestamp | None = None,
    span: derive.PeriodSpan | None = None,
) -> pd.DataFrame:
    """One row per cluster present in `papers`: label, theme, size, date span, growth over the
    last two complete periods (named in last_period / previous_period / partial_period, see
    `growth_by_group`; `data_end` = the whole run's `derive.latest_date`, `span` the view's
    periods), keywords. The unassigned papers' row has no theme and no growth."""
    if papers.empty:
        return pd.DataFrame(columns=list(CLUSTER_SUMMARY_COLUMNS))
    growth = growth_by_group(
        papers, "cluster_id", period_kind, totals_from=papers, data_end=data_end, span=span
    )
    span = papers.groupby("cluster_id")["published"].agg(first="min", last="max").reset_index()
    out = (
        clusters[["cluster_id", "label", "theme_name", "keywords_text", "status", "is_changed"]]
        .merge(growth, on="cluster_id", how="inner")
        .merge(span, on="cluster_id", how="left")
    )
    out = out[list(CLUSTER_SUMMARY_COLUMNS)]
    unassigned = out["cluster_id"] == UNASSIGNED
    out.loc[unassigned, ["theme_name", "status"]] = ""
    out.loc[unassigned, "label"] = UNASSIGNED_LABEL
    out.loc[unassigned, "growth"] = np.nan
    return out.sort_values("n_papers", ascending=False).reset_index(drop=True)


def theme_shares(papers: pd.DataFrame) -> pd.DataFrame:
    """`derive.theme_mix` of some papers taken as one group, with theme names: theme_id,
    theme_name, n_papers, share."""
    mix = derive.theme_mix(np.zeros(len(papers), dtype=np.int64), papers["theme_id"])
    names = dict(zip(papers["theme_id"], papers["theme_name"], strict=False))
    mix["theme_name"] = mix["theme_id"].map(names)
    return mix[["theme_id", "theme_name", "n_papers", "share"]]


def keyword_counts(papers: pd.DataFrame, keywords: list[str]) -> pd.DataFrame:
    """How many of `papers` mention each keyword in title or abstract (keyword order kept)."""
    text = (papers["title"] + " " + papers["abstract"]).str.lower()
    rows = [
        {"keyword": kw, "n_papers": int(text.str.contains(kw.lower(), regex=False).sum())}
        for kw in keywords
    ]
    return pd.DataFrame(rows, columns=["keyword", "n_papers"])


def sorted_cluster_members(
    papers: pd.DataFrame, cluster_id: int, representative_ids: list[str], sort: str = "relevance"
) -> pd.DataFrame:
    """The papers of one cluster, representative papers first when sorting by relevance.

    `sort` = "relevance" (representative rank, then membership strength) or "date" (newest first).
    Adds `is_representative`.
    """
    members = papers[papers["cluster_id"] == cluster_id].copy()
    rank = {pid: i for i, pid in enumerate(representative_ids)}
    members["is_representative"] = members["paper_id"].isin(rank)
    if sort == "date":
        return members.sort_values("published", ascending=False, na_position="last")
    members["_rank"] = members["paper_id"].map(rank).fillna(len(rank))
    members = members.sort_values(["_rank", "cluster_probability"], ascending=[True, False])
    return members.drop(columns="_rank")


def period_papers(
    papers: pd.DataFrame, period_kind: str, period: str, by: str, group
) -> pd.DataFrame:
    """Papers of one group (theme or cluster) published in one period, newest first."""
    chosen = papers[(papers[period_kind] == period) & (papers[by] == group)]
    return chosen.sort_values("published", ascending=False)


def nearest_rows(
    embeddings: np.ndarray, row: int, k: int = 10, candidates: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the `k` papers most similar (cosine) to paper `row`, and their similarities.

    `embeddings` should be unit-length rows (see `unit_rows`); `candidates` optionally limits
    the search to some rows. The paper itself is never returned.
    """
    query = np.asarray(embeddings[row], dtype=np.float32)
    pool = np.arange(len(embeddings)) if candidates is None else np.asarray(candidates)
    sims = np.asarray(embeddings[pool] @ query if candidates is not None else embeddings @ query)
    sims = np.where(pool == row, -np.inf, sims)
    k = min(k, max(len(pool) - 1, 0))
    if k <= 0:
        return np.array([], dtype=int), np.array([], dtype=np.float32)
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top])]
    return pool[top], sims[top]


def cluster_name(cluster_id: int, label: str) -> str:
    """How pickers name a cluster: "label (#3)"; the unassigned papers without their -1."""
    return label if cluster_id == UNASSIGNED else f"{label} (#{cluster_id})"


def paper_table(papers: pd.DataFrame, abstracts: bool = False) -> pd.DataFrame:
    """The columns a paper list shows (plain text; rendered by st.dataframe, never as HTML);
    with `abstracts`, the abstract last (downloads)."""
    table = pd.DataFrame(
        {
            "paper_id": papers["paper_id"],
            "title": papers["title"],
            "date": papers["date"],
            "authors": papers["authors_text"],
            "cluster": papers["cluster_label"],
            "theme": papers["theme_name"],
            "link": papers["url"].where(papers["url"].fillna("").str.match(r"^https?://"), None),
        }
    ).reset_index(drop=True)
    if abstracts:
        table["abstract"] = papers["abstract"].to_numpy()
    return table
