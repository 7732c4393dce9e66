"""Map page: every paper a WebGL point, coloured by theme or cluster, cluster labels at their
centres; box/lasso selection fills a table; a chosen paper opens its detail and nearest papers."""

import numpy as np
import streamlit as st

from dashboard import data_access, frame, state, transforms, widgets

MAX_LABELS = 40  # cluster labels drawn on the map (largest clusters first)
MAX_CHOICES = 500  # papers offered in the "open a paper" list

ctx = frame.view()
papers = ctx.papers

st.title("Paper map")
st.caption(
    "Each point is a paper; nearby papers are similar. Papers outside the filters stay faint "
    "for context. Drag a box or lasso to list papers; hover for details."
)
widgets.filter_banner(ctx)
color_by = widgets.choice(
    "Colour by",
    ["theme", "cluster"],
    state.MAP_COLOR,
    help="Colour the papers by their theme (legend) or by their cluster.",
)

paper_ids = set(papers["paper_id"])
key_paper = state.bind(state.MAP_PAPER, lambda v: v if v is None or v in paper_ids else None)
chosen_row = None
if st.session_state[key_paper] is not None:
    chosen_row = int(papers.index[papers["paper_id"] == st.session_state[key_paper]][0])

fig = data_access.paper_map(ctx.run_id, ctx.filters, color_by, chosen_row, MAX_LABELS)
event = widgets.chart(
    fig,
    title=f"Paper map by {color_by}",
    ctx=ctx,
    key=state.MAP_CHART,
    select=True,
    data=lambda: transforms.paper_table(ctx.shown).assign(
        map_x=ctx.shown["map_x"].to_numpy(), map_y=ctx.shown["map_y"].to_numpy()
    ),
)

selected_rows = sorted(
    {
        int(p["customdata"] if np.isscalar(p["customdata"]) else p["customdata"][0])
        for p in (event.selection.points if event else [])
        if p.get("customdata") is not None
    }
)
selected_rows = [r for r in selected_rows if ctx.mask[r]]
if selected_rows:
    st.subheader(f"{len(selected_rows):,} selected papers")
    widgets.paper_list(papers.iloc[selected_rows], key=state.MAP_SELECTED)
    choices = papers.iloc[selected_rows[:MAX_CHOICES]]
else:
    st.caption("No selection: choose a paper from the filtered papers below, or select on the map.")
    choices = papers.iloc[np.flatnonzero(ctx.mask)[:MAX_CHOICES]]

options = choices["paper_id"].tolist()
if st.session_state[key_paper] is not None and st.session_state[key_paper] not in options:
    options.insert(0, st.session_state[key_paper])
titles = dict(zip(papers["paper_id"], papers["title"], strict=True))
st.selectbox(
    "Open a paper",
    options,
    key=key_paper,
    placeholder="Choose a paper",
    format_func=lambda pid: titles[pid][:120],
    help="Its abstract, a link, its nearest papers and 'Papers like this'; ringed red on the "
    "map. Lists the selected papers, else the filtered ones (first 500).",
)
if st.session_state[key_paper] is not None:
    row = int(papers.index[papers["paper_id"] == st.session_state[key_paper]][0])
    with st.container(border=True):
        widgets.paper_detail(ctx, row)
