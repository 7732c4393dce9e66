"""Timelines page: papers per theme (or per cluster inside one theme) by month, quarter or year,
as counts or shares, lines or stacked areas, optionally with expected counts (sum of theme
probabilities) and their 95% band; sparse periods marked; papers dated far from the others named
in a caption; a theme and a period list their papers."""

import numpy as np
import streamlit as st

from dashboard import figures, frame, state, transforms, widgets
from dashboard.palette import cluster_color
from dashboard.transforms import escape_markdown
from pipeline import derive
from pipeline.contract import OTHER, PERIOD_KINDS

MEASURES = {"n_papers": "papers", "share": "share of all"}  # value: button text
STYLES = {"lines": "lines", "area": "stacked areas"}
COUNTS = {"papers": "papers with the theme", "expected": "+ expected (95% band)"}

ctx = frame.view()
shown = ctx.shown
themes = ctx.tables["themes"]
theme_names = dict(zip(themes["theme_id"], themes["name"], strict=True))

st.title("Timelines")
st.caption(
    "Papers per theme (or per cluster inside one theme) in each period. Grey bands mark periods "
    "with too few papers to read a trend; an orange band marks a period the data stops inside. "
    "Click a point to list its papers."
)
widgets.filter_banner(ctx)

c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 3, 3])
period = widgets.choice(
    "Period",
    PERIOD_KINDS,
    state.TL_PERIOD,
    where=c1,
    help="Count papers by month, quarter or year.",
)
measure = widgets.choice(
    "Measure",
    list(MEASURES),
    state.TL_MEASURE,
    labels=MEASURES,
    where=c2,
    help="Paper counts, or each line's share of all the filtered papers of the period.",
)
style = widgets.choice(
    "Style",
    list(STYLES),
    state.TL_STYLE,
    labels=STYLES,
    where=c3,
    help="Separate lines, or areas stacked to the period's total.",
)
count_kind = widgets.choice(
    "Counts",
    list(COUNTS),
    state.TL_COUNTS,
    labels=COUNTS,
    where=c5,
    help="Hard counts (each paper in its most likely theme), or expected papers: the sum of "
    "every paper's theme probabilities, with a 95% band.",
)
within = (
    c4.selectbox(
        "Show",
        ["", *theme_names],
        format_func=lambda t: "Themes" if not t else f"Clusters inside: {theme_names[t]}",
        key=state.bind(state.TL_WITHIN, lambda v: v if v in theme_names else ""),
        help="One line per theme, or one per cluster of a chosen theme.",
    )
    or None
)

named_shown = bool(shown["theme_id"].ne(OTHER).any())
# Always drawn (disabled where it does not apply), so the choice stays in the URL.
show_other = (
    st.toggle(
        "Show 'other'",
        key=state.bind(state.TL_OTHER, bool),
        disabled=within is not None or not named_shown,
        help="Papers that fit no named theme: usually many, so their line dwarfs the named "
        "themes; off by default while named themes have papers.",
    )
    or not named_shown
)

if shown["published"].notna().sum() == 0:
    st.info("No dated paper matches the filters. Clear or widen them in the sidebar.")
else:
    if within is None:
        by, names, colors = "theme_id", theme_names, ctx.colors
        subset = shown if show_other else shown[shown["theme_id"] != OTHER]
        title = "Share of papers per theme" if measure == "share" else "Papers per theme"
    else:
        by, subset = "cluster_id", shown[shown["theme_id"] == within]
        names = dict(zip(subset["cluster_id"], subset["cluster_label"], strict=False))
        # explicit colours: an exported chart (another template) keeps the screen's
        colors = dict(zip(names, cluster_color(np.array(list(names), dtype=np.int64)), strict=True))
        title = ("Share of papers: " if measure == "share" else "Papers: ") + (
            f"clusters inside {theme_names[within]}"
        )
    # shares are relative to all filtered papers of the period, whatever the grouping
    data_end = ctx.data_end  # the whole run's, or the date filter's end
    span = ctx.span(period)  # the run's periods inside the date filter, bounded
    counts = transforms.timeline_counts(
        subset, period, by, totals_from=shown, data_end=data_end, span=span
    )
    with_expected = count_kind == "expected" and within is None and style == "lines"
    if with_expected:
        counts = transforms.with_expected(counts, shown, ctx.shown_probabilities, period)
        title += ", with expected papers (95% band)"
    fig = figures.timeline_figure(counts, measure=measure, style=style, names=names, colors=colors)
    st.subheader(escape_markdown(f"{title} by {period}"))
    event = widgets.chart(
        fig,
        title=f"{title} by {period}",
        data=counts.assign(name=counts["group"].map(names)),
        ctx=ctx,
        key=state.keyed(state.TIMELINE_CHART, by),
        select=("points",),
    )
    if with_expected:
        st.caption(
            "Solid: papers whose most likely theme it is. Dashed: expected papers, the sum of "
            "every paper's probability of the theme (a paper at 60% counts 0.6), with its 95% "
            "band. Where they differ, many papers are uncertain: Review → Theme triage fixes it."
        )
    elif count_kind == "expected":
        st.caption("Expected counts are drawn for themes as lines (not for clusters or areas).")
    n_sparse = counts.loc[counts["is_sparse"], "period"].nunique()
    if n_sparse:
        st.caption(
            f"{n_sparse} period(s) hold fewer than {derive.SPARSE_MIN_PAPERS} papers: shaded "
            "grey with hollow points. Do not read a trend from them."
        )
    partial_text = transforms.partial_periods_text(counts, data_end)
    if partial_text:
        st.caption(partial_text)  # period labels and a date: nothing to escape
    outside_text = transforms.outside_span_text(span)
    if outside_text:
        st.caption(outside_text)  # counts, period labels and dates: nothing to escape

    st.subheader("Papers in a period")
    groups = counts["group"].drop_duplicates().tolist()  # = trace order of the figure
    periods = counts["period"].drop_duplicates().tolist()[::-1]
    # A click on a point picks its line and period (once per new click, so the boxes below
    # stay free to change afterwards).
    clicked = [
        (p["curve_number"], p["x"])
        for p in (event.selection.points if event else [])
        if p.get("curve_number", len(groups)) < len(groups) and "x" in p
    ]
    if clicked and st.session_state.get(state.TIMELINE_CLICKED) != repr(clicked):
        st.session_state[state.TIMELINE_CLICKED] = repr(clicked)
        state.set_value(state.TL_GROUP, str(groups[clicked[0][0]]))
        state.set_value(state.TL_AT, str(clicked[0][1]))
    g1, g2 = st.columns(2)
    group_key = state.bind(
        state.TL_GROUP, lambda v: v if v is None or str(v) in {str(g) for g in groups} else None
    )
    group = g1.selectbox(
        "Theme" if within is None else "Cluster",
        [str(g) for g in groups],
        key=group_key,
        placeholder="Choose one",
        format_func=lambda g: str(names.get(g if by == "theme_id" else int(g), g)),
        help="The line whose papers to list (clicking a point chooses it).",
    )
    at = g2.selectbox(
        "Period",
        periods,
        key=state.bind(state.TL_AT, lambda v: v if v is None or v in periods else None),
        placeholder="Choose a period",
        help="The period whose papers to list (clicking a point chooses it).",
    )
    if group is not None and at is not None:
        value = group if by == "theme_id" else int(group)
        listed = transforms.period_papers(subset, period, at, by, value)
        st.caption(transforms.n_papers_text(len(listed)))
        widgets.paper_list(listed, key=state.TIMELINE_PAPERS)
    else:
        st.caption("Click a point on the chart, or choose a line and a period, to list papers.")
