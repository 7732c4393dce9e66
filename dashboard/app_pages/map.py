"""Map page: every paper a WebGL point, coloured by theme or cluster, cluster labels at their
centres; clicking a point opens its paper; a box/lasso selection fills a table that survives
opening a paper and can be stepped through (previous / next). A large run (`density.is_dense`)
shows every paper as a density under a capped set of points; its box/lasso selects every
paper inside, and *Zoom to selection* redraws the map for that region."""

import numpy as np
import streamlit as st

from dashboard import data_access, density, frame, layers, state, transforms, widgets

MAX_LABELS = 40  # cluster labels drawn on the map (largest clusters first)
MAX_CHOICES = 500  # papers offered in the "open a paper" list

ctx = frame.view()
papers = ctx.papers

is_dense = density.is_dense(len(papers))
st.title("Paper map")
if is_dense:
    st.caption(
        "Nearby papers are similar. The blue shading counts every paper; points are the papers "
        "passing the filters (a sample stratified by cluster when there are many). Click a point "
        "to open its paper; to list every paper of a region, pick *Box select* or *Lasso "
        "select* in the chart's toolbar and drag, then *Zoom to selection* to draw its papers."
    )
else:
    st.caption(
        "Each point is a paper; nearby papers are similar. Papers outside the filters stay "
        "faint for context. Click a point to open its paper; to list a group, pick *Box select* "
        "or *Lasso select* in the chart's toolbar and drag. Hover for details."
    )
widgets.filter_banner(ctx)
color_by = widgets.choice(
    "Colour by",
    ["theme", "cluster"],
    state.MAP_COLOR,
    help="Colour the papers by their theme (legend) or by their cluster.",
)

# Paper ids as an array: one vectorised comparison finds a paper (a set or dict of every id
# would be rebuilt on each rerun: seconds at a million papers).
all_ids = papers["paper_id"].to_numpy()
key_paper = state.bind(state.MAP_PAPER, lambda v: v if v is None or (all_ids == v).any() else None)


def _open(paper_id: str | None) -> None:
    st.session_state[key_paper] = paper_id


zoom = None
if is_dense:
    zoom = state.zoom_window(st.session_state[state.bind(state.MAP_ZOOM, state.valid_zoom)])


def _on_map_select() -> None:
    """A click on one point opens its paper; a box or lasso replaces the kept selection (the
    chart forgets it when the figure changes, e.g. to ring the paper opened from it). On a
    dense map the box or lasso takes every filtered paper inside it, drawn or not."""
    event = st.session_state.get(state.MAP_CHART) or {}
    if is_dense:
        xy = papers["map_x"].to_numpy(), papers["map_y"].to_numpy()
        inside = density.region_mask(*xy, event.get("selection", {}))
        if inside is not None:
            rows = np.flatnonzero(inside & ctx.mask).tolist()
            st.session_state[state.MAP_SELECTION] = (ctx.run_id, rows)
            return
    rows = [r for r in widgets.chart_rows(event) if ctx.mask[r]]
    if len(rows) == 1:
        _open(papers.at[rows[0], "paper_id"])
    else:
        st.session_state[state.MAP_SELECTION] = (ctx.run_id, rows)


kept = st.session_state.get(state.MAP_SELECTION)
kept_rows = np.asarray(kept[1] if kept and kept[0] == ctx.run_id else [], dtype=np.int64)
selected_rows = kept_rows[ctx.mask[kept_rows]].tolist()
chosen_row = None
if st.session_state[key_paper] is not None:
    chosen_row = int(np.flatnonzero(all_ids == st.session_state[key_paper])[0])

if not ctx.mask.any():
    st.info(
        "No paper matches the filters: the map shows every paper faint. Clear or widen the "
        "filters in the sidebar.",
        icon=":material/search_off:",
    )
fig = data_access.paper_map(ctx.run_id, ctx.filters, color_by, chosen_row, MAX_LABELS, zoom)
widgets.chart(
    fig,
    title=f"Paper map by {color_by}",
    ctx=ctx,
    key=state.MAP_CHART,
    select=True,
    on_select=_on_map_select,
    data=lambda: transforms.paper_table(ctx.shown).assign(
        map_x=ctx.shown["map_x"].to_numpy(), map_y=ctx.shown["map_y"].to_numpy()
    ),
)
if zoom is not None:  # the note (what the shading and the points show) is inside the chart
    st.button(
        "Whole map",
        key=state.MAP_ZOOM_OUT,
        icon=":material/zoom_out_map:",
        on_click=state.set_value,
        args=(state.MAP_ZOOM, ""),
        help="Draw the whole map again: the density of every paper, points for the filtered.",
    )

if selected_rows:
    columns = st.columns([4, 1, 1] if is_dense else [5, 1], vertical_alignment="bottom")
    title, clear = columns[0], columns[-1]
    title.subheader(transforms.n_papers_text(len(selected_rows), "selected paper"))
    if is_dense:
        region = layers.zoom_window(papers.iloc[selected_rows])
        columns[1].button(
            "Zoom to selection",
            key=state.MAP_ZOOM_IN,
            on_click=state.set_value,
            args=(state.MAP_ZOOM, state.zoom_text(region)),
            help="Draw the selected region: the density of its papers and its filtered papers "
            "as points (all of them, up to the cap).",
        )
    clear.button(
        "Clear selection",
        key=state.MAP_CLEAR,
        on_click=st.session_state.pop,
        args=(state.MAP_SELECTION, None),
        help="Forget the box/lasso selection: the list below offers the filtered papers again.",
    )
    sequence_rows = np.asarray(selected_rows)

    def _on_row_pick() -> None:
        picked = st.session_state[state.MAP_SELECTED]["selection"]["rows"]
        if picked:
            _open(all_ids[sequence_rows[picked[0]]])

    st.caption("Click a row to open its paper; Previous / Next step through the selection.")
    widgets.paper_list(papers.iloc[selected_rows], key=state.MAP_SELECTED, on_select=_on_row_pick)
else:
    st.caption("No selection: choose a paper from the filtered papers below, or select on the map.")
    sequence_rows = np.flatnonzero(ctx.mask)

# Previous / Next walk the whole selection (else every filtered paper); the picker offers the
# first MAX_CHOICES of them.
sequence = all_ids[sequence_rows]
option_rows = sequence_rows[:MAX_CHOICES].tolist()
current = st.session_state[key_paper]
found = np.flatnonzero(sequence == current) if current is not None else []
position = int(found[0]) if len(found) else None  # of the open paper in the sequence
if chosen_row is not None and (position is None or position >= MAX_CHOICES):
    option_rows.insert(0, chosen_row)
options = all_ids[option_rows].tolist()
titles = dict(zip(options, papers["title"].to_numpy()[option_rows], strict=True))


def _step(step: int) -> None:
    """Open the previous (-1) or next (+1) paper of the sequence, wrapping around."""
    at = (-1 if step > 0 else 0) if position is None else position
    _open(sequence[(at + step) % len(sequence)])


back, pick, forward = st.columns([1, 8, 1], vertical_alignment="bottom")
back.button(
    "← Previous",
    key=state.MAP_PREV,
    on_click=_step,
    args=(-1,),
    disabled=not len(sequence),
    width="stretch",
    help="Open the previous paper of the selection (else of the filtered papers).",
)
pick.selectbox(
    "Open a paper",
    options,
    key=key_paper,
    placeholder="Choose a paper",
    format_func=lambda pid: titles[pid][:120],
    help="Its abstract, a link, its nearest papers and 'Papers like this'; ringed red on the "
    "map. Lists the selected papers, else the filtered ones (first 500).",
)
forward.button(
    "Next →",
    key=state.MAP_NEXT,
    on_click=_step,
    args=(1,),
    disabled=not len(sequence),
    width="stretch",
    help="Open the next paper of the selection (else of the filtered papers).",
)
if position is not None:
    st.caption(f"Paper {position + 1:,} of {len(sequence):,} in this list.")
if chosen_row is not None:
    with st.container(border=True):
        widgets.paper_detail(ctx, chosen_row)
