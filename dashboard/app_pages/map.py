"""Map page: every paper a WebGL point, coloured by theme or cluster, cluster labels at their
centres; clicking a point opens its paper; a box/lasso selection fills a table that survives
opening a paper and can be stepped through (previous / next)."""

import streamlit as st

from dashboard import data_access, frame, state, transforms, widgets

MAX_LABELS = 40  # cluster labels drawn on the map (largest clusters first)
MAX_CHOICES = 500  # papers offered in the "open a paper" list

ctx = frame.view()
papers = ctx.papers

st.title("Paper map")
st.caption(
    "Each point is a paper; nearby papers are similar. Papers outside the filters stay faint "
    "for context. Click a point to open its paper; to list a group, pick *Box select* or "
    "*Lasso select* in the chart's toolbar and drag. Hover for details."
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


def _open(paper_id: str | None) -> None:
    st.session_state[key_paper] = paper_id


def _on_map_select() -> None:
    """A click on one point opens its paper; a box or lasso replaces the kept selection (the
    chart forgets it when the figure changes, e.g. to ring the paper opened from it)."""
    rows = [r for r in widgets.chart_rows(st.session_state.get(state.MAP_CHART)) if ctx.mask[r]]
    if len(rows) == 1:
        _open(papers.at[rows[0], "paper_id"])
    else:
        st.session_state[state.MAP_SELECTION] = (ctx.run_id, rows)


kept = st.session_state.get(state.MAP_SELECTION)
selected_rows = [r for r in (kept[1] if kept and kept[0] == ctx.run_id else []) if ctx.mask[r]]
chosen_row = None
if st.session_state[key_paper] is not None:
    chosen_row = int(papers.index[papers["paper_id"] == st.session_state[key_paper]][0])

if not ctx.mask.any():
    st.info(
        "No paper matches the filters: the map shows every paper faint. Clear or widen the "
        "filters in the sidebar.",
        icon=":material/search_off:",
    )
fig = data_access.paper_map(ctx.run_id, ctx.filters, color_by, chosen_row, MAX_LABELS)
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

if selected_rows:
    title, clear = st.columns([5, 1], vertical_alignment="bottom")
    title.subheader(transforms.n_papers_text(len(selected_rows), "selected paper"))
    clear.button(
        "Clear selection",
        key=state.MAP_CLEAR,
        on_click=st.session_state.pop,
        args=(state.MAP_SELECTION, None),
        help="Forget the box/lasso selection: the list below offers the filtered papers again.",
    )
    selected_ids = papers["paper_id"].iloc[selected_rows].tolist()

    def _on_row_pick() -> None:
        picked = st.session_state[state.MAP_SELECTED]["selection"]["rows"]
        if picked:
            _open(selected_ids[picked[0]])

    st.caption("Click a row to open its paper; Previous / Next step through the selection.")
    widgets.paper_list(papers.iloc[selected_rows], key=state.MAP_SELECTED, on_select=_on_row_pick)
    sequence = selected_ids
else:
    st.caption("No selection: choose a paper from the filtered papers below, or select on the map.")
    sequence = papers["paper_id"].to_numpy()[ctx.mask].tolist()

# Previous / Next walk the whole selection (else every filtered paper); the picker offers the
# first MAX_CHOICES of them.
options = sequence[:MAX_CHOICES]
current = st.session_state[key_paper]
if current is not None and current not in options:
    options.insert(0, current)
position = {pid: i for i, pid in enumerate(sequence)}


def _step(step: int) -> None:
    """Open the previous (-1) or next (+1) paper of the sequence, wrapping around."""
    at = position.get(current, -1 if step > 0 else 0)
    _open(sequence[(at + step) % len(sequence)])


titles = dict(zip(papers["paper_id"], papers["title"], strict=True))
back, pick, forward = st.columns([1, 8, 1], vertical_alignment="bottom")
back.button(
    "← Previous",
    key=state.MAP_PREV,
    on_click=_step,
    args=(-1,),
    disabled=not sequence,
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
    disabled=not sequence,
    width="stretch",
    help="Open the next paper of the selection (else of the filtered papers).",
)
if current in position:
    st.caption(f"Paper {position[current] + 1:,} of {len(sequence):,} in this list.")
if st.session_state[key_paper] is not None:
    row = int(papers.index[papers["paper_id"] == st.session_state[key_paper]][0])
    with st.container(border=True):
        widgets.paper_detail(ctx, row)
