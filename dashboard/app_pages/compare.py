"""Compare page: two runs side by side: how papers flowed between their clusters (Sankey), what
became of each cluster (new, grown, shrunk, split, merged, gone), theme counts in both runs and
the papers new in the later run. Rules and tables come from dashboard/compare.py."""

import dataclasses

import streamlit as st

from dashboard import compare, data_access, figures, frame, state, widgets
from dashboard.transforms import escape_markdown

ctx = frame.view()

st.title("Compare runs")
st.caption(
    "How the papers of an earlier run moved between clusters in a later one (papers matched by "
    "id). Read the flow chart from left (earlier) to right (later): each band is a group of "
    "papers, its width their number; green bands are papers new in the later run, red ones "
    "papers it no longer holds."
)
widgets.filter_banner(ctx)

runs = {e.run_id: e.manifest for e in data_access.available_runs() if e.manifest is not None}
ids = list(runs)  # newest first
if len(ids) < 2:
    st.info("There is only one run: build another (the New run page) to compare the two.")
    st.page_link("app_pages/new_run.py", label="Start a new run", icon=":material/add_circle:")
    st.stop()

latest = data_access.latest_run_id()
default_later = latest if latest in runs else ids[0]
default_earlier = next((r for r in ids[ids.index(default_later) + 1 :]), ids[-1])
if default_earlier == default_later:
    default_earlier = ids[1]


def _label(run_id: str) -> str:
    m = runs[run_id]
    return f"{run_id} · {m.created_at[:16].replace('T', ' ')} · {m.counts.n_papers:,} papers"


c1, c2 = st.columns(2)
earlier_id = c1.selectbox(
    "Earlier run",
    ids,
    key=state.bind(state.COMPARE_EARLIER, lambda v: v if v in runs else default_earlier),
    format_func=_label,
    help="The run to compare from (left of the flow chart); default: the one before the latest.",
)
later_id = c2.selectbox(
    "Later run",
    ids,
    key=state.bind(state.COMPARE_LATER, lambda v: v if v in runs else default_later),
    format_func=_label,
    help="The run to compare to (right of the flow chart); default: the latest run.",
)
if earlier_id == later_id:
    st.warning("Choose two different runs.")
    st.stop()

# The sidebar's search, themes and dates apply to both runs; its clusters belong to one run.
filters = dataclasses.replace(ctx.filters, clusters=())
earlier_tables = data_access.view_tables(earlier_id)
later_tables = data_access.view_tables(later_id)
earlier, later = compare.restrict(
    earlier_tables["papers"],
    later_tables["papers"],
    data_access.filter_mask(earlier_id, filters),
    data_access.filter_mask(later_id, filters),
)
if filters.is_active:
    st.caption(
        "The sidebar's search, themes and dates apply to both runs (a paper counts when it "
        "passes in either); its cluster filter does not, as cluster ids differ between runs."
    )
earlier_clusters, later_clusters = earlier_tables["clusters"], later_tables["clusters"]
earlier_labels = dict(zip(earlier_clusters["cluster_id"], earlier_clusters["label"], strict=True))
later_labels = dict(zip(later_clusters["cluster_id"], later_clusters["label"], strict=True))
flows = compare.flow_table(earlier, later)
changes = compare.cluster_changes(flows, earlier_labels, later_labels)
fresh = compare.new_papers(earlier, later)
n_dropped = int(len(set(earlier["paper_id"]) - set(later["paper_id"])))

m = st.columns(4)
m[0].metric("Papers in both", f"{len(earlier) - n_dropped:,}")
m[1].metric("New in the later run", f"{len(fresh):,}")
m[2].metric("Not in the later run", f"{n_dropped:,}")
counted = compare.change_counts(changes)
m[3].metric(
    "Clusters changed",
    f"{sum(v for k, v in counted.items() if k != 'stable'):,}",
    help=", ".join(f"{k}: {v}" for k, v in counted.items()),
)

st.subheader("How papers moved between clusters")
min_flow = st.slider(
    "Hide flows of fewer papers than",
    1,
    max(2, int(flows["n_papers"].max()) if len(flows) else 2),
    key=state.bind(state.COMPARE_MIN_FLOW, lambda v: max(1, int(v))),
    help="Thin bands clutter the chart of a large run; the tables below count every paper.",
)
named = flows.assign(
    source=compare.flow_labels(flows, earlier_labels, compare.EARLIER),
    target=compare.flow_labels(flows, later_labels, compare.LATER),
)
drawn = named[named["n_papers"] >= min_flow]
if drawn.empty:
    st.info("No flow holds that many papers: lower the threshold.")
else:
    widgets.chart(
        figures.flow_figure(drawn),
        title=f"Paper flow between clusters: {earlier_id} → {later_id}",
        data=named[["source", "target", "n_papers"]],
        ctx=ctx,
        key=state.COMPARE_FLOW_CHART,
    )

st.subheader("What changed")
st.caption(
    "Over the papers both runs hold: a cluster **split** when two or more later clusters took "
    f"at least {compare.MAIN_SHARE:.0%} of its papers each (or came mainly from it), clusters "
    f"**merged** when two or more brought at least {compare.MAIN_SHARE:.0%} of a later "
    "cluster's papers each; **gone**: no later cluster took that share; **new**: no earlier "
    "cluster brought it. A cluster continued one to one **grew** or **shrank** when its size "
    f"changed by at least {compare.GROWN_SHARE:.0%} (and {compare.MIN_CHANGE} papers), else "
    "it is **stable**."
)
st.dataframe(
    changes.drop(columns=["earlier_ids", "later_ids"]),
    hide_index=True,
    key=state.COMPARE_CHANGES,
    column_config={
        "earlier": st.column_config.TextColumn(f"earlier ({earlier_id})", width="large"),
        "later": st.column_config.TextColumn(f"later ({later_id})", width="large"),
        "n_earlier": "papers before",
        "n_later": "papers after",
        "n_shared": st.column_config.NumberColumn(
            "papers moved", help="papers flowing from the earlier to the later clusters of the row"
        ),
        "jaccard": st.column_config.NumberColumn(
            "overlap", format="%.2f", help="Jaccard overlap of a continued cluster, 0 to 1"
        ),
    },
)

st.subheader("Themes in both runs")
themes = compare.theme_counts(earlier, later, earlier_tables["themes"], later_tables["themes"])
left, right = st.columns([3, 2])
with left:
    widgets.chart(
        figures.theme_compare_figure(themes, earlier_id, later_id),
        title=f"Papers per theme: {earlier_id} and {later_id}",
        data=themes,
        ctx=ctx,
        key=state.COMPARE_THEMES_CHART,
    )
with right:
    st.dataframe(
        themes[["name", "n_earlier", "n_later", "change"]],
        hide_index=True,
        column_config={
            "name": "theme",
            "n_earlier": "earlier",
            "n_later": "later",
            "change": st.column_config.NumberColumn("change", format="%+d"),
        },
    )

st.subheader(escape_markdown(f"Papers new in the later run ({len(fresh):,})"))
if fresh.empty:
    st.caption("None: every paper of the later run is in the earlier one.")
else:
    widgets.paper_list(fresh, key=state.COMPARE_NEW_PAPERS)
