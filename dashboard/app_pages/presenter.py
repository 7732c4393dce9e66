"""Presenter page: full width for a projector, one cluster at a time in large type (label, size,
theme, keywords, small timeline, top papers) with the decision controls, next / previous, the
progress ("7 of 18") and an agenda that can be narrowed to the clusters still undecided; or
theme triage in large type."""

import streamlit as st

from dashboard import data_access, figures, frame, review_ui, state, transforms, triage_ui
from dashboard.meeting_pack import cluster_order
from dashboard.transforms import escape_markdown
from pipeline import derive
from pipeline.review import add_note, rename, set_status

ctx = frame.view()
review = data_access.review_state(ctx.run_id)
seen = review_ui.begin(review)
themes = dict(zip(ctx.tables["themes"]["theme_id"], ctx.tables["themes"]["name"], strict=True))

st.markdown(  # static CSS only: large type for a projector, no sidebar
    "<style>[data-testid='stMain'] .block-container{max-width:100%;padding-top:1.5rem}"
    "[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl']{display:none}"
    "[data-testid='stMain'] h1{font-size:3.2rem !important}"
    "[data-testid='stMain'] .stMarkdown p,[data-testid='stMain'] .stMarkdown li"
    "{font-size:1.45rem}</style>",
    unsafe_allow_html=True,
)
st.caption(
    "For a meeting on a projector: one cluster at a time in large type, with its top papers "
    "and timeline; decide its status in one click, then go to the next (← and → keys). The "
    "sidebar is hidden; the whole run is shown."
)
if ctx.filters.is_active:
    st.info(
        escape_markdown(
            f"The sidebar filters ({ctx.filter_text}) do not apply here: the agenda is every "
            "cluster of the run."
        ),
        icon=":material/filter_alt_off:",
    )
st.page_link(
    "app_pages/review.py",
    label="Leave the presenter (Review page)",
    icon=":material/arrow_back:",
    help="Back to the Review page, with the sidebar.",
)
review_ui.flash()
with st.expander("Reviewer", expanded=not review_ui.known_reviewer()):
    reviewer = review_ui.reviewer_input()
can_decide = bool(reviewer) and ctx.review.can_save  # the frame's banner says why not
if triage_ui.mode_choice("Present") == "triage":
    triage_ui.triage(ctx, review, reviewer, can_decide, big=True)
    st.stop()
undecided_only = st.toggle(
    "Agenda: only clusters still needing a decision (unreviewed)",
    key=state.PRESENTER_UNDECIDED,
    help="Skip the clusters that already have a status.",
)
agenda = cluster_order(review.clusters)
if undecided_only:
    agenda = agenda[agenda["status"] == "unreviewed"]
if agenda.empty:
    st.title("Nothing left on the agenda")
    st.markdown(
        "Every cluster has a decision. Switch the agenda filter off to go through them again."
    )
    st.stop()

keys = agenda["cluster_key"].tolist()
ids = [int(c) for c in agenda["cluster_id"]]


def _in_agenda(value):
    """A cluster id of the agenda, else ValueError (the link's id is then ignored)."""
    if value is not None and int(value) not in ids:
        raise ValueError(value)
    return None if value is None else int(value)


# The cluster on screen is in the URL (`showing`); a link's cluster opens at once.
wanted = st.session_state[state.bind(state.PRESENTER_CLUSTER, _in_agenda)]
current = st.session_state.get(state.PRESENTER_AT)
index = (
    ids.index(int(wanted))
    if wanted is not None
    else keys.index(current)
    if current in keys
    else min(st.session_state.get(state.PRESENTER_AT_INDEX, 0), len(keys) - 1)
)


def _show(i: int) -> None:
    """Put agenda item `i` on screen: its cluster key, and its position for when the key goes,
    and its id in the URL."""
    st.session_state[state.PRESENTER_AT] = keys[i]
    st.session_state[state.PRESENTER_AT_INDEX] = i
    state.set_value(state.PRESENTER_CLUSTER, ids[i])


def _go(step: int) -> None:
    _show((index + step) % len(keys))


_show(index)

row = agenda.iloc[index]
cluster_id = int(row["cluster_id"])
nav_prev, progress, nav_next = st.columns([1, 4, 1])
nav_prev.button(
    "← Previous",
    on_click=_go,
    args=(-1,),
    key=state.PRESENTER_PREV,
    shortcut="left",
    width="stretch",
    help="The previous cluster of the agenda (key ←).",
)
progress.progress((index + 1) / len(keys), text=f"{index + 1} of {len(keys)}")
nav_next.button(
    "Next →",
    on_click=_go,
    args=(1,),
    key=state.PRESENTER_NEXT,
    shortcut="right",
    width="stretch",
    help="The next cluster of the agenda (key →).",
)

st.title(escape_markdown(row["label"]) + (" ✎" if row["is_edited"] else ""))
st.markdown(
    escape_markdown(
        f"{transforms.n_papers_text(row['n_papers'])} · "
        f"theme: {themes.get(row['theme_id'], row['theme_id'])} · "
        f"status: {row['status']}"
    )
)
st.markdown("**Keywords:** " + escape_markdown(", ".join(row["keywords"][:8])))
decide = review_ui.Decider(review, seen, reviewer)

left, right = st.columns([3, 2])
with left:
    st.markdown("**Top papers**")
    members = ctx.papers[ctx.papers["cluster_id"] == cluster_id]
    top = transforms.sorted_cluster_members(
        members, cluster_id, list(row["representative_paper_ids"]), "relevance"
    )
    for rec in top.head(6).itertuples(index=False):
        st.markdown("- " + escape_markdown(f"{rec.title} ({rec.date})"))
    for note in row["notes"]:
        st.markdown("📝 " + escape_markdown(note))
with right:
    counts = transforms.timeline_counts(members, "quarter", "cluster_id", totals_from=ctx.papers)
    if len(counts):
        st.plotly_chart(
            figures.timeline_figure(counts, names={cluster_id: row["label"]}, height=260),
            key=state.PRESENTER_TIMELINE,
            config={"displaylogo": False},
        )
        partial_text = transforms.partial_periods_text(
            counts, derive.latest_date(ctx.papers["published"])
        )
        if partial_text:
            st.caption(partial_text)  # period labels and a date: nothing to escape

st.markdown("**Decision**")
b1, b2, b3, b4 = st.columns(4)
for col, status in zip(
    (b1, b2, b3, b4), ("accepted", "needs work", "rejected", "unreviewed"), strict=True
):
    if col.button(
        status.capitalize(),
        key=state.PRESENTER_STATUS[status],
        width="stretch",
        disabled=not can_decide,
        # the current status stands out, except "unreviewed": nothing decided, not an alarm
        type="primary" if row["status"] == status != "unreviewed" else "secondary",
        help=f"Set this cluster's status to {status} (logged at once).",
    ):
        decide(set_status, cluster_id, status)
r1, r2 = st.columns(2)
with r1:
    name = st.text_input(
        "Rename",
        key=review_ui.kept_input(
            state.PRESENTER_LABEL, row["cluster_key"], review.version, row["label"]
        ),
        help="A new label for this cluster.",
    )
    if st.button(
        "Save name", key=state.PRESENTER_RENAME, disabled=not can_decide, help="Log the new name."
    ):
        decide(rename, cluster_id, name)
with r2:
    note = st.text_input(
        "Note",
        key=review_ui.kept_input(state.PRESENTER_NOTE, row["cluster_key"], review.version),
        help="A remark for the group, kept with the cluster.",
    )
    if st.button(
        "Add note", key=state.PRESENTER_NOTE_GO, disabled=not can_decide, help="Log the note."
    ):
        decide(add_note, cluster_id, note)

with st.expander(f"Agenda ({len(keys)} clusters)"):
    table = agenda[["cluster_id", "label", "n_papers", "status"]].reset_index(drop=True)
    table.insert(0, "#", range(1, len(table) + 1))
    picked = st.dataframe(
        table,
        hide_index=True,
        column_config={
            "cluster_id": st.column_config.NumberColumn("cluster #", width="small"),
            "label": "cluster",
            "n_papers": "papers",
        },
        key=state.PRESENTER_AGENDA,
        on_select="rerun",
        selection_mode="single-row",
    )
    rows = picked.selection.rows if picked else []
    if rows and rows[0] != index:
        st.button(
            f"Go to #{rows[0] + 1}",
            on_click=_go,
            args=(rows[0] - index,),
            key=state.PRESENTER_JUMP,
            help="Show the cluster chosen in the agenda.",
        )
