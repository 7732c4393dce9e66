"""Reusable screen pieces of the pages: the filter banner, charts with their export menu, paper
lists and the paper detail panel (abstract, link, nearest papers). The frame around the pages
(sidebar, run picker, ViewContext) is in frame.py.

Paper text is shown only through st.dataframe, st.text or st.markdown of escaped text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import data_access, exports, search, state, transforms
from dashboard.frame import ViewContext
from dashboard.transforms import escape_markdown


def filter_banner(ctx: ViewContext) -> None:
    """A line saying how many papers the filters keep, and the search's ranked matches."""
    n_shown, n_all = int(ctx.mask.sum()), len(ctx.papers)
    if ctx.filters.is_active:
        st.caption(escape_markdown(f"Showing {n_shown:,} of {n_all:,} papers · {ctx.filter_text}"))
    if ctx.search is not None:
        search_results(ctx)


FIRST_STEPS = (
    (
        "app_pages/map.py",
        "Map",
        "every paper a point, similar papers close; lasso a group or open a paper to read it",
    ),
    ("app_pages/clusters.py", "Clusters", "each cluster's label, keywords and most typical papers"),
    ("app_pages/timelines.py", "Timelines", "which themes and clusters grow"),
    (
        "app_pages/review.py",
        "Review",
        "rename, merge or split clusters and set their status; "
        "decisions carry over to the next run",
    ),
    ("app_pages/compare.py", "Compare runs", "what changed since an earlier run"),
)


def _hide_first_steps() -> None:
    st.session_state[state.FIRST_STEPS_HIDDEN] = True


def first_steps() -> None:
    """A short guide for a run nobody has reviewed yet (Overview); hidden for the session
    once dismissed."""
    if st.session_state.get(state.FIRST_STEPS_HIDDEN):
        return
    with st.container(border=True):
        st.markdown("**First steps with this run**")
        st.caption(
            "Search the sidebar by meaning (e.g. 'robots learning from video'); any paper's "
            "'Papers like this' finds its neighbours. Then:"
        )
        for page, title, what in FIRST_STEPS:
            st.page_link(page, label=f"{title}: {what}", help=f"Open the {title} page.")
        st.button(
            "Got it, hide this",
            key=state.FIRST_STEPS_HIDE,
            on_click=_hide_first_steps,
            help="Hide these first steps until the next session (they show while nobody has "
            "reviewed this run).",
        )


def search_results(ctx: ViewContext) -> None:
    """The search's matches that pass the other filters, best first, in a folded list."""
    table, n_matches = search.result_table(
        ctx.papers, ctx.search, ctx.mask, limit=search.RESULTS_LISTED
    )
    if table["similarity"].isna().all():  # searched by words only: no similarity to show
        table = table.drop(columns="similarity")
    by = {search.MEANING: "by meaning and words", search.LIKE: "by embedding"}
    with st.expander(
        f"Search results, best first ({n_matches:,}, {by.get(ctx.search.mode, 'by words')})"
    ):
        st.caption(escape_markdown(ctx.search.note))
        if n_matches > len(table):
            st.caption(
                f"The first {len(table):,} are listed; the map and the other pages show all "
                f"{n_matches:,}. More words narrow the list."
            )
        st.dataframe(
            table,
            hide_index=True,
            key=state.SEARCH_RESULTS,
            column_config={
                "rank": st.column_config.NumberColumn("#", width="small"),
                "similarity": st.column_config.NumberColumn(
                    "similarity", format="%.2f", help="cosine similarity to the query, -1 to 1"
                ),
                "has_words": st.column_config.CheckboxColumn(
                    "has the words", help="the paper holds every word of the query"
                ),
                "title": st.column_config.TextColumn("title", width="large"),
                "paper_id": st.column_config.TextColumn("id", width="small"),
            },
        )


def choice(
    label: str,
    options: list[str] | tuple[str, ...],
    param: state.Param,
    *,
    labels: dict[str, str] | None = None,
    where=st,
    help: str | None = None,
) -> str:
    """A segmented control for the shareable setting `param`, drawn in `where` (a column),
    with tooltip `help`; a value that is not an option (an old link) or an emptied control
    gives the default."""
    options = list(options)
    key = state.bind(param, lambda v: v if v in options else param.default)
    shown = {"format_func": lambda o: labels.get(o, o)} if labels else {}
    return where.segmented_control(label, options, key=key, help=help, **shown) or param.default


def chart(
    fig: go.Figure,
    *,
    title: str,
    data: pd.DataFrame | Callable[[], pd.DataFrame],
    ctx: ViewContext,
    key: str,
    select: bool | tuple[str, ...] = False,
    on_select: Callable[[], None] | None = None,
):
    """Show a figure with an Export menu (PNG, SVG, HTML, CSV). Export files carry `title`
    and the active filters as subtitle; they are built only when a button is clicked (`data`
    may be a callable returning the chart's data, so large tables are built only then).
    Returns the selection event when `select` is true (or a tuple of selection modes);
    `on_select` is called (before the rerun) when the user changes the selection."""
    modes = select if isinstance(select, tuple) else ("points", "box", "lasso")
    kwargs = {"on_select": on_select or "rerun", "selection_mode": modes} if select else {}
    event = st.plotly_chart(fig, key=key, config={"displaylogo": False}, **kwargs)
    subtitle = f"{ctx.filter_text} · run {ctx.run_id}"
    stem = exports.file_stem(title)

    def titled() -> go.Figure:
        return exports.titled(fig, title, subtitle)

    def table() -> pd.DataFrame:
        return data() if callable(data) else data

    files = [  # (button, file extension, MIME type, the bytes: built only when clicked)
        ("PNG (1600×900, 2×)", "png", "image/png", lambda: exports.figure_image(titled(), "png")),
        ("SVG", "svg", "image/svg+xml", lambda: exports.figure_image(titled(), "svg")),
        ("Interactive HTML", "html", "text/html", lambda: exports.figure_html(titled())),
        ("Data (CSV)", "csv", "text/csv", lambda: exports.safe_csv(table())),
    ]
    with st.popover(
        "Export chart",
        icon=":material/download:",
        help="Download this chart as PNG or SVG (slides), interactive HTML, or its data as CSV.",
    ):
        st.caption("Files carry the chart title and the active filters.")
        if not exports.chromium_path():
            st.info(exports.INSTALL_HINT)
            files = files[2:]  # PNG and SVG need Chromium
        for label, extension, mime, make in files:
            st.download_button(
                label,
                key=state.keyed(key, extension),
                file_name=f"{stem}.{extension}",
                mime=mime,
                data=make,
                help=f"Save the chart as {extension.upper()}, titled, with the active filters.",
            )
    return event


def chart_rows(event) -> list[int]:
    """The paper rows (customdata) of the points a chart selection event holds, sorted."""
    points = (event or {}).get("selection", {}).get("points", [])
    return sorted(
        {
            int(p["customdata"] if np.isscalar(p["customdata"]) else p["customdata"][0])
            for p in points
            if p.get("customdata") is not None
        }
    )


def paper_list(
    papers: pd.DataFrame,
    key: str,
    height: int | str = "auto",
    on_select: Callable[[], None] | None = None,
) -> None:
    """A table of papers (plain text cells, link column); with `on_select`, a row can be
    clicked (one at a time) and `on_select` runs when it is."""
    picking = {"on_select": on_select, "selection_mode": "single-row"} if on_select else {}
    st.dataframe(
        transforms.paper_table(papers),
        key=key,
        hide_index=True,
        height=height,
        **picking,
        column_config={
            "paper_id": st.column_config.TextColumn("id", width="medium"),  # ids whole
            "title": st.column_config.TextColumn("title", width="large"),
            "link": st.column_config.LinkColumn("link", display_text="open"),
        },
    )


def paper_detail(ctx: ViewContext, row: int) -> None:
    """One paper: title, date, authors, cluster, theme, abstract, link, nearest papers."""
    paper = ctx.papers.iloc[row]
    st.markdown("#### " + escape_markdown(paper["title"]))
    st.caption(
        escape_markdown(
            f"{paper['date'] or 'no date'} · {paper['authors_text'] or 'unknown authors'} · "
            f"cluster: {paper['cluster_label']} · theme: {paper['theme_name']}"
        )
    )
    st.markdown(escape_markdown(paper["abstract"]))
    url = paper["url"]
    if not (isinstance(url, str) and re.match(r"^https?://", url)):
        doi, arxiv = paper.get("doi"), paper.get("arxiv_id")
        url = (
            f"https://doi.org/{doi}"
            if isinstance(doi, str) and doi
            else f"https://arxiv.org/abs/{arxiv}"
            if isinstance(arxiv, str) and arxiv
            else None
        )
    left, right = st.columns(2)
    if url:
        left.link_button("Open the paper", url, help="The paper's page (arXiv or DOI), new tab.")
    right.button(
        "Papers like this",
        key=state.keyed(state.LIKE_THIS, row),
        icon=":material/travel_explore:",
        on_click=state.set_value,
        args=(state.QUERY, search.like_query(str(paper["paper_id"]))),
        help="Search for this paper and its nearest papers by embedding: every page, and the "
        "map, then show just them (Clear filters undoes it).",
    )
    st.markdown("**Nearest papers by embedding**")
    nearest = data_access.nearest_papers(ctx.run_id, row, k=8)
    table = transforms.paper_table(nearest)
    table.insert(2, "similarity", nearest["similarity"].round(3).to_numpy())
    st.dataframe(
        table,
        hide_index=True,
        key=state.keyed(state.NEAREST, row),
        column_config={
            "paper_id": st.column_config.TextColumn("id", width="medium"),
            "similarity": st.column_config.NumberColumn(
                "similarity", format="%.3f", help="cosine similarity of the embeddings, -1 to 1"
            ),
            "link": st.column_config.LinkColumn("link", display_text="open"),
        },
    )
