"""Overview page: headline numbers, theme sizes with growth, the largest and the fastest-growing
clusters, each linking into the other pages."""

import streamlit as st

from dashboard import data_access, figures, frame, state, transforms, widgets
from dashboard.transforms import escape_markdown
from pipeline.contract import OTHER, PERIOD_KINDS, UNASSIGNED

ctx = frame.view()
shown = ctx.shown
clusters = ctx.tables["clusters"]

st.title("Overview")
st.caption(
    "The run at a glance: how many papers, clusters and themes, how each theme grew between "
    "the last two complete periods, and the largest and fastest-growing clusters. Numbers "
    "follow the sidebar filters; every name links to its page."
)
widgets.filter_banner(ctx)
if not len(data_access.review_state(ctx.run_id).log):
    widgets.first_steps()

n_unassigned = int((shown["cluster_id"] == UNASSIGNED).sum())
n_clusters = int(shown.loc[shown["cluster_id"] != UNASSIGNED, "cluster_id"].nunique())
dates = shown["published"].dropna()
cols = st.columns(4)
cols[0].metric("Papers", f"{len(shown):,}")
cols[1].metric("Clusters", f"{n_clusters:,}")
cols[2].metric("Themes", f"{shown.loc[shown['theme_id'] != 'other', 'theme_id'].nunique()}")
cols[3].metric("Unassigned", f"{n_unassigned / max(len(shown), 1):.0%}")
if len(dates):
    st.caption(f"Papers published from {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}.")

if shown.empty:
    st.info("No paper matches the filters. Clear or widen them in the sidebar.")
else:
    period = widgets.choice(
        "Growth: last complete period against the one before",
        PERIOD_KINDS,
        state.OVERVIEW_PERIOD,
        help="Growth compares the last complete month, quarter or year with the one before; a "
        "period the data stops inside is left out.",
    )
    data_end, span = ctx.data_end, ctx.span(period)  # the run's, inside the date filter
    summary = transforms.theme_summary(shown, ctx.tables["themes"], period, data_end, span)
    if len(summary):  # period labels and a date only: nothing to escape
        st.caption(f"Growth: {transforms.growth_periods_text(summary, data_end)}.")
    left, right = st.columns([1, 1])
    with left:
        st.subheader("Themes")
        widgets.chart(
            figures.theme_sizes_figure(summary, ctx.colors),
            title="Papers per theme",
            data=summary,
            ctx=ctx,
            key=state.OVERVIEW_THEMES_CHART,
        )
    with right:
        st.subheader(" ")
        expected = transforms.expected_papers(ctx.shown_probabilities).set_index("theme_id")
        table = summary.assign(
            growth=transforms.growth_percent(summary["growth"]),
            expected=summary["theme_id"].map(
                lambda t: (
                    f"{expected.at[t, 'expected']:.0f} "
                    f"({expected.at[t, 'low']:.0f}–{expected.at[t, 'high']:.0f})"
                )
            ),
        )
        st.dataframe(
            table[["name", "n_papers", "expected", "n_previous", "n_last", "growth"]],
            hide_index=True,
            column_config={
                "name": "theme",
                "n_papers": "papers",
                "expected": st.column_config.TextColumn(
                    "expected (95% band)",
                    help="Sum of every paper's probability of the theme: a paper at 60% counts "
                    "0.6. Far from the paper count means many uncertain papers.",
                ),
                "n_previous": next(iter(summary["previous_period"]), "") or "previous period",
                "n_last": next(iter(summary["last_period"]), "") or "last complete period",
                "growth": st.column_config.NumberColumn(
                    "growth",
                    format=transforms.GROWTH_FORMAT,
                    help=f"Shown when both periods hold at least {transforms.GROWTH_MIN_PAPERS} "
                    "papers of the theme, else empty.",
                ),
            },
        )
        st.page_link(
            "app_pages/timelines.py",
            label="See the theme timelines",
            icon=":material/timeline:",
            help="Papers per theme over time.",
        )
        for rec in summary[summary["theme_id"] != OTHER].itertuples():
            st.page_link(
                "app_pages/timelines.py",
                label=escape_markdown(f"Clusters inside {rec.name} over time"),
                query_params={state.TL_WITHIN.name: rec.theme_id},
                icon=":material/stacked_line_chart:",
                help="The timelines of this theme's clusters.",
            )

    summary_c = transforms.cluster_summary(
        shown[shown["cluster_id"] != UNASSIGNED], clusters, period, data_end, span
    )
    largest = summary_c.head(5)
    fastest = (  # growth is NaN from few papers: never listed, nor a cluster that did not grow
        summary_c[summary_c["growth"] > 0]
        .sort_values(["growth", "n_papers"], ascending=False)
        .head(5)
    )
    c1, c2 = st.columns(2)
    for column, title, frame, fmt in (
        (c1, "Largest clusters", largest, lambda r: transforms.n_papers_text(r.n_papers)),
        (
            c2,
            "Fastest-growing clusters",
            fastest,
            lambda r: f"{transforms.growth_text(r.growth)} ({r.n_previous} → {r.n_last})",
        ),
    ):
        with column:
            st.subheader(title)
            if frame.empty:
                st.caption(
                    "None: no cluster grew from at least "
                    f"{transforms.GROWTH_MIN_PAPERS} papers in both periods."
                    if title.startswith("Fastest")
                    else "None yet."
                )
            for rec in frame.itertuples(index=False):
                st.page_link(
                    "app_pages/clusters.py",
                    label=escape_markdown(f"{rec.label} · {rec.theme_name} · {fmt(rec)}"),
                    query_params={state.CLUSTER.name: str(rec.cluster_id)},
                    icon=":material/workspaces:",
                    help="Open this cluster's page: its papers, keywords and timeline.",
                )
    st.page_link(
        "app_pages/map.py",
        label="Explore the paper map",
        icon=":material/scatter_plot:",
        help="Every paper as a point; similar papers lie close together.",
    )
