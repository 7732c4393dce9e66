"""Review page: per cluster status, name, theme and notes; merge, split (preview, accept), move
papers, the unassigned-papers queue, the filterable decision log and undo; or theme triage
(answer the themes of the papers the model is least sure about). Every decision goes
to the review store (pipeline.review) and is refused when someone else changed the state
since this page was drawn. An unreadable store gets what to do instead; a read-only one is
shown with its decision buttons disabled; decisions replay skipped are listed."""

import streamlit as st

from dashboard import data_access, frame, review_ui, state, transforms, triage_ui
from dashboard.transforms import escape_markdown
from pipeline.contract import UNASSIGNED
from pipeline.review import (
    STATUSES,
    accept_split,
    add_note,
    describe,
    effective_decisions,
    merge,
    merged_status,
    move,
    rename,
    set_status,
    set_theme,
    undo,
)

ctx = frame.view()
st.title("Review")
st.caption(
    "Check each cluster with your group: set its status, name and theme, add notes, merge, "
    "split or move papers. Decisions are logged with your name, shown on every page and "
    "carried to the next run; the log below can undo them."
)
if ctx.review.unreadable:
    review_ui.unreadable_help(ctx.review)
    st.stop()
review = data_access.review_state(ctx.run_id)
seen = review_ui.begin(review)  # the version this browser last saw (stale check)
clusters = review.clusters
labels = dict(zip(clusters["cluster_id"], clusters["label"], strict=True))
themes = dict(zip(ctx.tables["themes"]["theme_id"], ctx.tables["themes"]["name"], strict=True))
sizes = dict(zip(clusters["cluster_id"], clusters["n_papers"], strict=True))
edited = dict(zip(clusters["cluster_id"], clusters["is_edited"], strict=True))
statuses = dict(zip(clusters["cluster_id"], clusters["status"], strict=True))
n_unassigned = int((review.assignments["cluster_id"] == UNASSIGNED).sum())

review_ui.flash()
if review.skipped:
    review_ui.skipped_warning(review.skipped)
reviewer = review_ui.reviewer_input()
can_decide = bool(reviewer) and ctx.review.can_save  # a read-only store takes no decision
mode = triage_ui.mode_choice("Review")
if mode == "triage":
    st.caption(
        "Theme triage: answer the theme of the paper the model is least sure about (a click, or "
        "the key shown); every answer teaches the model and updates every page."
    )
    triage_ui.triage(ctx, review, reviewer, can_decide)
    st.stop()
st.caption(
    f"Review version {review.version} · {len(review.log)} decisions logged · decisions are saved "
    "at once and shown on every page (edited items are marked ✎). The global filters do not "
    "apply here."
)


def _cluster_name(c):
    if c == UNASSIGNED:
        return f"Unassigned papers — queue to place ({n_unassigned})"
    return f"{labels[c]}{' ✎' if edited[c] else ''} (#{c}, {transforms.n_papers_text(sizes[c])})"


ordered = sorted(labels, key=lambda c: (c != UNASSIGNED, c))
if UNASSIGNED not in labels:
    ordered = [UNASSIGNED, *ordered]
review_ui.select_cluster(
    state.REVIEW_CLUSTER, ordered, ordered[1] if len(ordered) > 1 else ordered[0]
)
cluster_id = st.selectbox(
    "Cluster",
    ordered,
    format_func=_cluster_name,
    key=state.REVIEW_CLUSTER,
    help="The cluster to review (✎: changed in review), or the unassigned papers to place.",
)
decide = review_ui.Decider(review, seen, reviewer)


def _input(key: str) -> str:
    """Inputs are keyed by cluster and review version: after any decision (or a refresh on
    stale state) they show the current state instead of what was typed before."""
    return state.versioned(key, cluster_id, review.version)


def _button(key: str) -> str:
    """Buttons are keyed by cluster."""
    return state.keyed(key, cluster_id)


if cluster_id == UNASSIGNED:
    st.subheader("Unassigned papers")
    st.caption("Papers no cluster took. Select some and place them in a cluster.")
else:
    row = review.cluster(cluster_id)
    st.subheader(escape_markdown(row["label"]) + (" ✎" if row["is_edited"] else ""))
    st.caption(
        escape_markdown(
            f"{transforms.n_papers_text(row['n_papers'])} · "
            f"theme {themes.get(row['theme_id'], row['theme_id'])} · "
            f"status {row['status']} · keywords: {', '.join(row['keywords'][:8])}"
            + (
                f" · originally '{row['original_label']}'"
                if row["label"] != row["original_label"]
                else ""
            )
        )
    )
    left, right = st.columns(2)
    with left:
        status_key = _input(state.REVIEW_STATUS)

        def _status_picked(cluster_id=cluster_id, key=status_key):
            if st.session_state.get(key) is None:  # a click on the chosen segment clears it:
                del st.session_state[key]  # drawn again from its default, the current status
            else:
                st.session_state[state.REVIEW_STATUS_PICKED] = cluster_id

        st.segmented_control(
            "Status",
            list(STATUSES),
            default=row["status"],
            key=status_key,
            on_change=_status_picked,
            disabled=not can_decide,
            help="Where the review of this cluster stands; a click saves it at once.",
        )
        if st.session_state.pop(state.REVIEW_STATUS_PICKED, None) == cluster_id:
            if st.session_state[status_key] != row["status"]:
                decide(set_status, cluster_id, st.session_state[status_key])
        name = st.text_input(
            "Name",
            key=review_ui.kept_input(state.REVIEW_LABEL, cluster_id, review.version, row["label"]),
            help="The cluster's label on every page and in the meeting pack.",
        )
        if st.button(
            "Rename",
            key=_button(state.REVIEW_RENAME),
            disabled=not can_decide,
            help="Log the new name.",
        ):
            decide(rename, cluster_id, name)
        theme_ids = list(themes) + ([] if "other" in themes else ["other"])
        theme = st.selectbox(
            "Theme",
            theme_ids,
            format_func=lambda t: themes.get(t, t),
            index=theme_ids.index(row["theme_id"]) if row["theme_id"] in theme_ids else 0,
            key=_input(state.REVIEW_THEME),
            help="The theme of the whole cluster; its papers take it as a label.",
        )
        if st.button(
            "Set theme",
            key=_button(state.REVIEW_THEME_GO),
            disabled=not can_decide,
            help="Log the chosen theme for this cluster.",
        ):
            decide(set_theme, cluster_id, theme)
    with right:
        for note in row["notes"]:
            st.text(f"• {note}")
        text = st.text_area(
            "Add a note",
            key=review_ui.kept_input(state.REVIEW_NOTE, cluster_id, review.version),
            height=90,
            help="A remark for the group, kept with the cluster and shown in the meeting pack.",
        )
        if st.button(
            "Add note",
            key=_button(state.REVIEW_NOTE_GO),
            disabled=not can_decide,
            help="Log the note.",
        ):
            decide(add_note, cluster_id, text)

    with st.expander("Merge with other clusters"):
        others = [c for c in ordered if c not in (cluster_id, UNASSIGNED)]
        chosen = st.multiselect(
            "Merge into this cluster",
            others,
            format_func=_cluster_name,
            key=_input(state.REVIEW_MERGE),
            help="Clusters whose papers join this one; the smallest id is kept.",
        )
        if chosen:
            after = merged_status([row["status"], *(statuses[c] for c in chosen)])
            st.caption(
                f"The merged cluster's status will be **{after}**: the status the reviewed "
                "clusters agree on; unreviewed when none is reviewed or they disagree."
            )
        merged_name = st.text_input(
            "Name of the merged cluster (optional)",
            key=review_ui.kept_input(state.REVIEW_MERGE_NAME, cluster_id, review.version),
            help="Empty: a name made from the merged clusters' labels.",
        )
        if st.button(
            "Merge",
            key=_button(state.REVIEW_MERGE_GO),
            disabled=not (can_decide and chosen),
            help="Log the merge (undo can take it back).",
        ):
            decide(
                merge,
                [cluster_id, *chosen],
                label=merged_name or None,
                goto=lambda d: d.after["cluster_id"],
            )

    with st.expander("Split into sub-clusters", expanded=review_ui.has_preview(cluster_id)):
        k = st.number_input(
            "Number of parts",
            min_value=2,
            max_value=max(2, min(8, int(row["n_papers"]))),
            value=2,
            key=_input(state.REVIEW_SPLIT_K),
            help="How many sub-clusters to cut this cluster into (k-means on the embeddings).",
        )
        if st.button(
            "Preview split",
            key=_button(state.REVIEW_SPLIT_PREVIEW),
            help="Show the parts and their papers before deciding; nothing is saved yet.",
        ):
            review_ui.make_split_preview(ctx.run_id, review, cluster_id, int(k))
        preview = review_ui.current_preview(cluster_id, review)
        if preview is not None:
            names = []
            for i, part in enumerate(preview.parts):
                st.markdown(
                    f"**Part {i + 1}** · {len(part['paper_ids'])} papers · "
                    + escape_markdown(", ".join(part["keywords"][:6]))
                )
                names.append(
                    st.text_input(
                        f"Name of part {i + 1}",
                        value=part["label"],
                        key=state.keyed(_input(state.REVIEW_SPLIT_NAME), i),
                        help="The label this part will have.",
                    )
                )
            st.dataframe(
                preview.papers.assign(part=preview.papers["part"] + 1),
                hide_index=True,
                key=_button(state.REVIEW_SPLIT_TABLE),
                column_config={"paper_id": st.column_config.TextColumn("id", width="medium")},
            )
            a, b = st.columns(2)
            if a.button(
                "Accept split",
                type="primary",
                key=_button(state.REVIEW_SPLIT_ACCEPT),
                disabled=not can_decide,
                help="Log the split: the parts become clusters.",
            ):
                review_ui.drop_preview()
                decide(accept_split, preview, labels=names)
            if b.button(
                "Discard preview",
                key=_button(state.REVIEW_SPLIT_CANCEL),
                help="Forget this preview; nothing was saved.",
            ):
                review_ui.drop_preview()
                st.rerun()

st.subheader("Papers" + (" to place" if cluster_id == UNASSIGNED else " in this cluster"))
members = review_ui.member_table(review, cluster_id)
picked = st.dataframe(
    members,
    hide_index=True,
    key=_input(state.REVIEW_PAPERS),
    on_select="rerun",
    selection_mode="multi-row",
    column_config={
        "paper_id": st.column_config.TextColumn("id", width="medium"),
        "moved": st.column_config.CheckboxColumn("moved ✎"),
    },
)
rows = picked.selection.rows if picked else []
selected = st.multiselect(
    "Papers to move",
    members["paper_id"].tolist(),
    default=members["paper_id"].iloc[rows].tolist(),
    format_func=dict(zip(members["paper_id"], members["title"], strict=True)).get,
    key=_input(state.REVIEW_MOVE_PAPERS),
    help="Papers to move (ticking rows in the table above chooses them too).",
)
destinations = [c for c in ordered if c != cluster_id]
destination = st.selectbox(
    "Move them to",
    destinations,
    format_func=_cluster_name,
    key=_input(state.REVIEW_MOVE_TO),
    help="The cluster the chosen papers join (or the unassigned papers).",
)
if st.button(
    "Move papers",
    key=_button(state.REVIEW_MOVE_GO),
    disabled=not (can_decide and selected),
    help="Log the move; moved papers are marked ✎.",
):
    decide(move, selected, destination)

st.divider()
st.subheader("Decision log")
log_view = review_ui.log_filters(review.log)
st.dataframe(
    log_view,
    hide_index=True,
    key=state.REVIEW_LOG,
    column_config={
        "time": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "decision_id": st.column_config.NumberColumn("#", width="small"),
        "base_version": "made on version",
        "is_undone": st.column_config.CheckboxColumn("undone"),
    },
)
effective = effective_decisions(review.log)
if st.button(
    "Undo last decision" + (f": {escape_markdown(describe(effective[-1]))}" if effective else ""),
    key=state.REVIEW_UNDO,
    disabled=not (can_decide and effective),
    help="Take back the latest decision still in effect (the undo is logged too).",
):
    decide(undo)

st.divider()
st.subheader("Meeting pack")
st.caption(
    "An offline HTML report, a PowerPoint deck and the decision log (CSV) of the reviewed state; "
    "also `python -m dashboard pack`."
)
if st.button(
    "Build meeting pack",
    key=state.REVIEW_PACK,
    icon=":material/slideshow:",
    help="An offline HTML report, a PowerPoint deck and the decision log of this review.",
):
    with st.spinner("Building the meeting pack…"):
        review_ui.build_pack(ctx.run_id, review)
review_ui.pack_downloads(review)
