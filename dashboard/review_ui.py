"""Screen pieces shared by the Review and Presenter pages: the reviewer name, the stale-state
check around every decision, messages after a decision (escaped: they quote reviewers' text),
what to do about an unreadable log, skipped decisions, split previews, the paper table of a
cluster and the log filters. Their session-state and widget keys are named in state.py."""

from __future__ import annotations

import shlex
from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboard import data_access, state
from dashboard.data_access import ReviewHealth
from dashboard.transforms import escape_markdown
from pipeline.review import (
    ReviewError,
    ReviewState,
    SkippedDecision,
    SplitPreview,
    StaleStateError,
    describe,
    preview_split,
)


def begin(review: ReviewState) -> int:
    """Record that this run of the page draws `review`; return the version drawn last time
    (a decision made now was made on that version)."""
    key = state.REVIEW_SEEN + review.run_id
    seen = st.session_state.get(key, review.version)
    st.session_state[key] = review.version
    return seen


def reviewer_input() -> str:
    """The reviewer's name, remembered for the session; '' until given."""
    if state.REVIEWER not in st.session_state:
        st.session_state[state.REVIEWER] = st.session_state.get(state.REVIEWER_KEPT, "")
    name = st.text_input(
        "Your name (saved with each decision)",
        key=state.REVIEWER,
        placeholder="e.g. Ada",
        help="Every decision is logged with who made it; kept for this browser session.",
    )
    st.session_state[state.REVIEWER_KEPT] = name
    if not name.strip():
        st.info("Enter your name to make decisions.")
    return name.strip()


def known_reviewer() -> str:
    """The reviewer name given earlier in this session ('' when none)."""
    return str(st.session_state.get(state.REVIEWER_KEPT, "")).strip()


def flash() -> None:
    """Show the message left by the last decision (once)."""
    kind, text = st.session_state.pop(state.REVIEW_FLASH, (None, None))
    text = escape_markdown(text or "")  # labels and notes are reviewers' text: never markup
    if kind == "ok":
        st.success(text, icon=":material/check:")
    elif kind == "stale":
        st.warning(
            text + " The page now shows the current state; what you typed is kept.",
            icon=":material/sync_problem:",
        )
        st.button("Refresh", key=state.REVIEW_REFRESH, help="Redraw with the current state.")
    elif kind == "error":
        st.error(text)


def changes_since(review: ReviewState, seen: int) -> str:
    """What other reviewers logged after version `seen` ("Ada: rename #0 'a' → 'b'; …")."""
    log = review.log
    if log.empty or "seq" not in log.columns:
        return ""
    newer = log[log["seq"] > seen]
    return "; ".join(f"{r.reviewer}: {r.summary}" for r in newer.itertuples(index=False))


def keep_typed_text(seen: int) -> None:
    """Keep what this browser typed into the review inputs drawn on version `seen` (a decision
    refused as stale): `kept_input` gives it back to the inputs drawn on the new version."""
    suffix = f"_v{seen}"
    st.session_state[state.REVIEW_KEPT_TEXT] = {
        key[: -len(suffix)]: value
        for key, value in st.session_state.items()
        if isinstance(key, str) and key.endswith(suffix) and isinstance(value, str) and value
    }


def kept_input(key: str, owner: object, version: int, default: str = "") -> str:
    """The key of a text input about `owner` drawn on review `version`, holding the text typed
    before a refused decision (see `keep_typed_text`), else `default`. Create the widget with
    this key and no `value`."""
    versioned = state.versioned(key, owner, version)
    kept = st.session_state.get(state.REVIEW_KEPT_TEXT, {})
    base = versioned[: -len(f"_v{version}")]
    if base in kept:
        st.session_state[versioned] = kept.pop(base)
    elif versioned not in st.session_state:
        st.session_state[versioned] = default
    return versioned


class Decider:
    """Makes one decision on the state this browser saw, then reruns the page.

    `decide(rename, cluster_id, "name")` calls `rename(store, review, cluster_id, "name",
    reviewer=...)` (`rename` from pipeline.review). A state that changed since the page was drawn
    is refused (StaleStateError), and so is one that changes between this check and the write
    (the store checks again)."""

    def __init__(self, review: ReviewState, seen: int, reviewer: str):
        self.review, self.seen, self.reviewer = review, seen, reviewer

    def __call__(self, action: Callable, *args, goto: Callable | None = None, **kwargs) -> None:
        """`goto(decision)` may name the cluster to show next (e.g. the result of a merge)."""
        try:
            if self.seen != self.review.version:
                raise StaleStateError(self.review.run_id, self.seen, self.review.version)
            decision = action(
                data_access.review_store(), self.review, *args, reviewer=self.reviewer, **kwargs
            )
        except StaleStateError as exc:
            changed = changes_since(self.review, self.seen)
            keep_typed_text(self.seen)
            st.session_state[state.REVIEW_FLASH] = (
                "stale",
                str(exc) + (f" Meanwhile: {changed}." if changed else ""),
            )
        except ReviewError as exc:
            st.session_state[state.REVIEW_FLASH] = ("error", str(exc))
        else:
            st.session_state[state.REVIEW_FLASH] = ("ok", f"Saved: {describe(decision)}")
            if goto is not None:
                st.session_state[state.REVIEW_GOTO] = goto(decision)
        st.rerun()


def unreadable_help(health: ReviewHealth) -> None:
    """What to do when the review log cannot be read: move the file aside or restore a backup."""
    path = str(health.path)
    st.error(
        escape_markdown(
            f"The review log cannot be read ({health.unreadable}), so its decisions can be "
            "neither shown nor added. The file was left untouched."
        ),
        icon=":material/report:",
    )
    st.markdown(
        "To review again, either:\n"
        "- **move the file aside** (keep it: it may be recoverable); reload and a new, empty "
        "log starts at the same place:"
    )
    st.code(f"mv {shlex.quote(path)} {shlex.quote(path + '.damaged')}", language="bash")
    st.markdown("- or **restore a backup** of the file to the same place, then reload.")
    st.caption(
        "Meanwhile the other pages work and show the run without review decisions, and "
        "`python -m dashboard pack` builds a meeting pack without reviews."
    )


def skipped_warning(skipped: tuple[SkippedDecision, ...], most: int = 8) -> None:
    """A small warning listing the logged decisions replay could not apply (id, action, why)."""
    lines = [escape_markdown(f"#{s.decision_id} {s.action}: {s.reason}") for s in skipped[:most]]
    if len(skipped) > most:
        lines.append(f"and {len(skipped) - most} more")
    st.warning(
        f"{len(skipped)} logged decision(s) could not be applied and are skipped (written by an "
        "older version or another program; the log is kept as it is):  \n" + "  \n".join(lines),
        icon=":material/warning:",
    )


def select_cluster(key: str, options: list[int], default: int) -> None:
    """Before the cluster picker is drawn: show the cluster a decision asked for, else keep the
    current choice while it exists (a merge elsewhere may have removed it), else `default`.

    The choice is written back on every run on purpose. A keyed selectbox keeps its widget id
    when only its labels change (a rename), and the browser then keeps showing the label it
    last held; a value set through session state is sent with its current label."""
    chosen = st.session_state.pop(state.REVIEW_GOTO, st.session_state.get(key))
    st.session_state[key] = chosen if chosen in options else default


def make_split_preview(run_id: str, review: ReviewState, cluster_id: int, k: int) -> None:
    """Compute a split preview (seeded KMeans on the stored embeddings) and keep it."""
    try:
        preview = preview_split(data_access.load_run(run_id), review, cluster_id, k)
    except ReviewError as exc:
        st.error(escape_markdown(str(exc)))
        return
    st.session_state[state.SPLIT_PREVIEW] = preview


def current_preview(cluster_id: int, review: ReviewState) -> SplitPreview | None:
    """The kept preview when it belongs to this cluster and state."""
    preview = st.session_state.get(state.SPLIT_PREVIEW)
    if (
        preview is None
        or preview.cluster_id != cluster_id
        or preview.run_id != review.run_id
        or preview.version != review.version
    ):
        return None
    return preview


def has_preview(cluster_id: int) -> bool:
    preview = st.session_state.get(state.SPLIT_PREVIEW)
    return preview is not None and preview.cluster_id == cluster_id


def drop_preview() -> None:
    st.session_state.pop(state.SPLIT_PREVIEW, None)


def member_table(review: ReviewState, cluster_id: int) -> pd.DataFrame:
    """The papers of a reviewed cluster: paper_id, title, date, moved (plain text cells)."""
    a = review.assignments
    members = a[a["cluster_id"] == cluster_id]
    papers = review.tables["papers"].set_index("paper_id").loc[members["paper_id"]]
    return pd.DataFrame(
        {
            "paper_id": members["paper_id"].to_numpy(),
            "title": papers["title"].astype(str).to_numpy(),
            "date": pd.to_datetime(papers["published"])
            .dt.strftime("%Y-%m-%d")
            .fillna("")
            .to_numpy(),
            "moved": members["is_moved"].to_numpy(),
        }
    )


def log_filters(log: pd.DataFrame) -> pd.DataFrame:
    """Filter widgets over the decision log; returns the rows to show, newest first."""
    c1, c2, c3, c4 = st.columns([2, 2, 3, 1])
    actions = c1.multiselect(
        "Actions",
        sorted(log["action"].unique()),
        key=state.REVIEW_LOG_ACTIONS,
        placeholder="All actions",
        help="Show only decisions of these kinds.",
    )
    reviewers = c2.multiselect(
        "Reviewers",
        sorted(log["reviewer"].unique()),
        key=state.REVIEW_LOG_REVIEWERS,
        placeholder="All reviewers",
        help="Show only decisions by these reviewers.",
    )
    text = c3.text_input(
        "Search the log",
        key=state.REVIEW_LOG_SEARCH,
        help="Decisions whose summary, note or reviewer contains this text.",
    )
    undone = c4.checkbox(
        "Show undone",
        value=True,
        key=state.REVIEW_LOG_UNDONE,
        help="Also list decisions that were undone later.",
    )
    view = log
    if actions:
        view = view[view["action"].isin(actions)]
    if reviewers:
        view = view[view["reviewer"].isin(reviewers)]
    if text.strip():
        hay = (view["summary"] + " " + view["note"] + " " + view["reviewer"]).str.lower()
        view = view[hay.str.contains(text.strip().lower(), regex=False)]
    if not undone:
        view = view[~view["is_undone"]]
    cols = ["seq", "time", "reviewer", "action", "summary", "note", "is_undone"]
    return view[cols].sort_values("seq", ascending=False)


def build_pack(run_id: str, review: ReviewState) -> None:
    """Build the meeting pack of the reviewed state and keep its files for download."""
    import tempfile

    from dashboard.meeting_pack import build_meeting_pack

    with tempfile.TemporaryDirectory() as folder:
        pack = build_meeting_pack(data_access.load_run(run_id), review.tables, review.log, folder)
        files = {p.name: p.read_bytes() for p in (pack.html, pack.pptx, pack.decisions_csv)}
    st.session_state[state.MEETING_PACK] = (run_id, review.version, files, pack.has_images)


def pack_downloads(review: ReviewState) -> None:
    """Download buttons for the last pack built for this run (says when it is outdated)."""
    kept = st.session_state.get(state.MEETING_PACK)
    if not kept or kept[0] != review.run_id:
        return
    run_id, version, files, has_images = kept
    if version != review.version:
        st.caption(f"Built at review version {version}; build again to include later decisions.")
    if not has_images:
        st.caption("The deck has no chart images (Chromium is missing); the HTML has the charts.")
    mimes = {
        ".html": "text/html",
        ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ".csv": "text/csv",
    }
    for column, (name, data) in zip(st.columns(len(files)), files.items(), strict=True):
        mime = next(m for ext, m in mimes.items() if name.endswith(ext))
        column.download_button(
            name,
            data=data,
            file_name=name,
            mime=mime,
            key=state.keyed(state.REVIEW_DOWNLOAD, name),
            help="Download this file of the meeting pack.",
        )
