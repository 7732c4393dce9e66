"""Clusters page: a sortable, searchable table of all clusters; choosing one opens its page
(theme mix, keywords, timeline, zoomed map, representative then all papers, downloads)."""

import streamlit as st

from dashboard import exports, figures, frame, layers, state, transforms, widgets
from dashboard.transforms import escape_markdown

ctx = frame.view()
shown = ctx.shown
clusters = ctx.tables["clusters"]
labels = dict(zip(clusters["cluster_id"], clusters["label"], strict=True))
marks = {c: " ✎" for c in clusters.loc[clusters["is_changed"], "cluster_id"]}
key_cluster = state.bind(state.CLUSTER, lambda v: v if v is None or int(v) in labels else None)


def _open(cluster_id):
    state.set_value(state.CLUSTER, cluster_id)


st.title("Clusters")
st.caption(
    "The groups of similar papers the pipeline found, with their theme, size, dates and growth. "
    "Open one to read its papers, keywords and timeline, and to download its papers."
)
widgets.filter_banner(ctx)
cluster_id = st.selectbox(
    "Open a cluster",
    sorted(labels, key=lambda c: (c < 0, c)),
    key=key_cluster,
    format_func=lambda c: transforms.cluster_name(c, labels[c] + marks.get(c, "")),
    placeholder="Choose a cluster, or pick a row below",
    help="A cluster's page: theme mix, keywords, papers over time, map, and its papers.",
)

if cluster_id is None:
    data_end = ctx.data_end  # the run's, or the date filter's end
    summary = transforms.cluster_summary(shown, clusters, "quarter", data_end, ctx.span("quarter"))
    growth_text = transforms.growth_periods_text(summary, data_end)
    find = st.text_input(
        "Find clusters by label, theme or keyword",
        key=state.bind(state.CLUSTER_SEARCH),
        help="Keep the rows whose label, theme or keywords contain this text (any case).",
    )
    if find.strip():
        text = (
            summary["label"] + " " + summary["theme_name"] + " " + summary["keywords_text"]
        ).str.lower()
        summary = summary[text.str.contains(find.strip().lower(), regex=False)]
    n_groups = int((summary["cluster_id"] >= 0).sum())
    unassigned = " + the unassigned papers" if (summary["cluster_id"] < 0).any() else ""
    st.caption(
        f"{transforms.n_papers_text(n_groups, 'cluster')}{unassigned} · click a row to open it "
        "· click a header to sort"
    )
    if ctx.filters.themes:
        st.caption(
            "Theme filter: the clusters holding papers of the chosen themes, counting only those "
            "papers. A cluster's theme (that of most of its papers) may be another one."
        )
    if growth_text:
        st.caption(f"Growth: {growth_text}.")  # period labels and a date: nothing to escape
    table = summary.assign(growth=transforms.growth_percent(summary["growth"]))
    table.loc[table["cluster_id"] < 0, "growth"] = float("nan")

    def _open_row() -> None:
        rows = st.session_state[state.CLUSTERS_TABLE]["selection"]["rows"]
        if rows:
            _open(int(table.iloc[rows[0]]["cluster_id"]))

    st.dataframe(
        table[
            [
                "cluster_id",
                "label",
                "status",
                "is_changed",
                "theme_name",
                "n_papers",
                "first",
                "last",
                "growth",
                "keywords_text",
            ]
        ],
        hide_index=True,
        key=state.CLUSTERS_TABLE,
        on_select=_open_row,
        selection_mode="single-row",
        column_config={
            "cluster_id": st.column_config.NumberColumn("#", width="small"),
            "label": "cluster",
            "status": st.column_config.TextColumn(
                "status", help="Review status: unreviewed, accepted, needs work or rejected."
            ),
            "theme_name": "theme",
            "n_papers": "papers",
            "first": st.column_config.DateColumn("first paper"),
            "last": st.column_config.DateColumn("last paper"),
            "growth": st.column_config.NumberColumn(
                "growth",
                format=transforms.GROWTH_FORMAT,
                help="Last complete quarter against the one before; empty when either holds "
                f"fewer than {transforms.GROWTH_MIN_PAPERS} of the cluster's papers.",
            ),
            "keywords_text": st.column_config.TextColumn("top keywords", width="large"),
            "is_changed": st.column_config.CheckboxColumn(
                "edited", help="A reviewer renamed, merged, split or moved papers of it (✎)."
            ),
        },
    )
else:
    info = clusters.set_index("cluster_id").loc[cluster_id]
    members_all = ctx.papers[ctx.papers["cluster_id"] == cluster_id]
    members = shown[shown["cluster_id"] == cluster_id]
    st.button("← All clusters", on_click=_open, args=(None,), help="Back to the table of clusters.")
    st.header(escape_markdown(info["label"]))
    st.caption(
        escape_markdown(
            f"Theme: {info['theme_name']} · {transforms.n_papers_text(len(members_all))}"
            + (f" ({len(members)} match the filters)" if ctx.filters.is_active else "")
            + f" · keywords: {info['keywords_text']}"
        )
    )
    if members.empty:
        st.info("None of this cluster's papers match the filters.")
    else:
        c1, c2 = st.columns(2)
        with c1:
            st.subheader("Theme mix")
            mix = transforms.theme_shares(members)
            widgets.chart(
                figures.theme_mix_figure(mix, ctx.colors),
                title=f"Theme mix: {info['label']}",
                data=mix,
                ctx=ctx,
                key=state.CLUSTER_MIX_CHART,
            )
        with c2:
            st.subheader("Keywords")
            kw = transforms.keyword_counts(members, list(info["keywords"]))
            widgets.chart(
                figures.keyword_figure(kw),
                title=f"Keywords: {info['label']}",
                data=kw,
                ctx=ctx,
                key=state.CLUSTER_KEYWORDS_CHART,
            )
        c3, c4 = st.columns(2)
        with c3:
            st.subheader("Over time")
            data_end = ctx.data_end
            counts = transforms.timeline_counts(
                members,
                "quarter",
                "cluster_id",
                totals_from=shown,
                data_end=data_end,
                span=ctx.span("quarter"),
            )
            widgets.chart(
                figures.timeline_figure(counts, names={cluster_id: info["label"]}, height=320),
                title=f"Papers per quarter: {info['label']}",
                data=counts,
                ctx=ctx,
                key=state.CLUSTER_TIMELINE_CHART,
            )
            partial_text = transforms.partial_periods_text(counts, data_end)
            if partial_text:
                st.caption(partial_text)  # period labels and a date: nothing to escape
        with c4:
            st.subheader("On the map")
            zoomed = layers.map_layers(
                ctx.papers, shown=ctx.mask, colors=ctx.colors, highlight_cluster=cluster_id
            )
            widgets.chart(
                figures.map_figure(zoomed, height=320),
                title=f"Map: {info['label']}",
                data=transforms.paper_table(members),
                ctx=ctx,
                key=state.CLUSTER_MAP_CHART,
            )

        sort = widgets.choice(
            "Sort papers by",
            ["relevance", "date"],
            state.CLUSTER_SORT,
            help="Relevance: the most typical papers first; date: the newest first.",
        )
        ordered = transforms.sorted_cluster_members(
            members, cluster_id, list(info["representative_paper_ids"]), sort
        )
        reps = ordered[ordered["is_representative"]]
        if len(reps):
            st.subheader("Representative papers")
            for rec in reps.itertuples(index=False):
                with st.expander(escape_markdown(f"{rec.title} ({rec.date})")):
                    st.caption(escape_markdown(rec.authors_text))
                    st.markdown(escape_markdown(rec.abstract))
        st.subheader("All " + transforms.n_papers_text(len(ordered)))
        widgets.paper_list(ordered, key=state.CLUSTER_PAPER_LIST)
        stem = exports.file_stem(info["label"])
        d1, d2, d3 = st.columns(3)
        d1.download_button(
            "Papers (CSV)",
            data=lambda: exports.safe_csv(transforms.paper_table(ordered, abstracts=True)),
            file_name=f"{stem}.csv",
            mime="text/csv",
            key=state.CLUSTER_CSV,
            help="This cluster's filtered papers as a spreadsheet (CSV), with abstracts.",
        )
        d2.download_button(
            "Papers (BibTeX)",
            data=lambda: exports.bibtex(ordered).encode(),
            file_name=f"{stem}.bib",
            mime="application/x-bibtex",
            key=state.CLUSTER_BIBTEX,
            help="This cluster's filtered papers as BibTeX (reference managers).",
        )
        d3.download_button(
            "Papers (Markdown)",
            data=lambda: exports.markdown_list(ordered, str(info["label"])).encode(),
            file_name=f"{stem}.md",
            mime="text/markdown",
            key=state.CLUSTER_MARKDOWN,
            help="This cluster's filtered papers as a Markdown list with links.",
        )
        titles = dict(zip(ordered["paper_id"], ordered["title"], strict=True))
        pid = st.selectbox(
            "Read a paper",
            ordered["paper_id"].tolist(),
            index=None,
            placeholder="Choose a paper to read its abstract",
            format_func=lambda p: titles[p][:120],
            key=state.CLUSTER_READ,
            help="Its abstract, a link, its nearest papers and 'Papers like this'.",
        )
        if pid is not None:
            row = int(ctx.papers.index[ctx.papers["paper_id"] == pid][0])
            with st.container(border=True):
                widgets.paper_detail(ctx, row)
