"""Reusable screen pieces of the pages: the filter banner, charts with their export menu, paper
lists and the paper detail panel (abstract, link, nearest papers). The frame around the pages
(sidebar, run picker, ViewContext) is in frame.py.

Paper text is shown only through st.dataframe, st.text or st.markdown of escaped text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import data_access, exports, state, transforms
from dashboard.frame import ViewContext
from dashboard.transforms import escape_markdown


def filter_banner(ctx: ViewContext) -> None:
    """A line saying how many papers the filters keep."""
    n_shown, n_all = int(ctx.mask.sum()), len(ctx.papers)
    if ctx.filters.is_active:
        st.caption(escape_markdown(f"Showing {n_shown:,} of {n_all:,} papers · {ctx.filter_text}"))


def chart(
    fig: go.Figure,
    *,
    title: str,
    data: pd.DataFrame | Callable[[], pd.DataFrame],
    ctx: ViewContext,
    key: str,
    select: bool | tuple[str, ...] = False,
):
    """Show a figure with an Export menu (PNG, SVG, HTML, CSV). Export files carry `title`
    and the active filters as subtitle; they are built only when a button is clicked (`data`
    may be a callable returning the chart's data, so large tables are built only then).
    Returns the selection event when `select` is true (or a tuple of selection modes)."""
    modes = select if isinstance(select, tuple) else ("points", "box", "lasso")
    kwargs = {"on_select": "rerun", "selection_mode": modes} if select else {}
    event = st.plotly_chart(fig, key=key, config={"displaylogo": False}, **kwargs)
    subtitle = f"{ctx.filter_text} · run {ctx.run_id}"
    stem = exports.file_stem(title)
    with st.popover("Export chart", icon=":material/download:"):
        st.caption("Files carry the chart title and the active filters.")
        if exports.chromium_path():
            st.download_button(
                "PNG (1600×900, 2×)",
                key=state.keyed(key, "png"),
                file_name=f"{stem}.png",
                mime="image/png",
                data=lambda: exports.figure_image(exports.titled(fig, title, subtitle), "png"),
            )
            st.download_button(
                "SVG",
                key=state.keyed(key, "svg"),
                file_name=f"{stem}.svg",
                mime="image/svg+xml",
                data=lambda: exports.figure_image(exports.titled(fig, title, subtitle), "svg"),
            )
        else:
            st.info(exports.INSTALL_HINT)
        st.download_button(
            "Interactive HTML",
            key=state.keyed(key, "html"),
            file_name=f"{stem}.html",
            mime="text/html",
            data=lambda: exports.figure_html(exports.titled(fig, title, subtitle)),
        )
        st.download_button(
            "Data (CSV)",
            key=state.keyed(key, "csv"),
            file_name=f"{stem}.csv",
            mime="text/csv",
            data=lambda: exports.safe_csv(data() if callable(data) else data),
        )
    return event


def paper_list(papers: pd.DataFrame, key: str, height: int | str = "auto") -> None:
    """A table of papers (plain text cells, link column)."""
    st.dataframe(
        transforms.paper_table(papers),
        key=key,
        hide_index=True,
        height=height,
        column_config={
            "paper_id": st.column_config.TextColumn("id", width="small"),
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
    if url:
        st.link_button("Open the paper", url)
    st.markdown("**Nearest papers by embedding**")
    nearest = data_access.nearest_papers(ctx.run_id, row, k=8)
    table = transforms.paper_table(nearest)
    table.insert(2, "similarity", nearest["similarity"].round(3).to_numpy())
    st.dataframe(
        table,
        hide_index=True,
        key=state.keyed(state.NEAREST, row),
        column_config={"link": st.column_config.LinkColumn("link", display_text="open")},
    )
