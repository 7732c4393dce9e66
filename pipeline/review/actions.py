"""Decision commands: rename, set_theme, set_status, note, merge, move and undo, each checked
against a `ReviewState` and appended to the store as one `Decision` (splits are in `split`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.contract import MANIFEST, OTHER, UNASSIGNED
from pipeline.review.errors import ReviewError, UnknownRun
from pipeline.review.state import ReviewState
from pipeline.review.store import ReviewStore
from pipeline.review.vocabulary import (
    STATUSES,
    Decision,
    cluster_key,
    describe,
    effective_decisions,
)


def check_run_exists(run_id: str, run_path: Path) -> None:
    """Raise UnknownRun unless the run's folder still holds a complete run (its manifest)."""
    if not (Path(run_path) / MANIFEST).is_file():
        raise UnknownRun(
            f"run {run_id} is not in the runs folder {Path(run_path).parent} (any more); "
            "the decision was not saved"
        )


def append_decision(
    store: ReviewStore,
    state: ReviewState,
    action: str,
    target: dict[str, Any],
    after: Any,
    *,
    reviewer: str,
    before: Any = None,
    note: str = "",
) -> Decision:
    """Log one decision made on `state`: every command ends here. Refused with UnknownRun when
    the state's run is no longer in its runs folder, StaleStateError when the store has moved
    on since `state`."""
    check_run_exists(state.run_id, state.run_path)
    return store.append(
        state.run_id,
        action,
        target,
        after,
        reviewer=reviewer,
        base_version=state.version,
        before=before,
        note=note,
    )


def _set_field(
    store: ReviewStore,
    state: ReviewState,
    cluster_id: int,
    action: str,
    name: str,
    value: str,
    *,
    reviewer: str,
    note: str,
) -> Decision:
    """Log a decision that sets one field of a cluster, with the value it replaces as `before`."""
    before = {name: str(state.cluster(cluster_id)[name])}
    target = state.cluster_target(cluster_id)
    return append_decision(
        store, state, action, target, {name: value}, reviewer=reviewer, before=before, note=note
    )


def rename(
    store: ReviewStore,
    state: ReviewState,
    cluster_id: int,
    label: str,
    *,
    reviewer: str,
    note: str = "",
) -> Decision:
    """Rename a cluster (made on `state`; StaleStateError when the store moved on)."""
    label = " ".join((label or "").split())
    if not label:
        raise ReviewError("a cluster name cannot be empty")
    return _set_field(
        store, state, cluster_id, "rename", "label", label, reviewer=reviewer, note=note
    )


def set_theme(
    store: ReviewStore,
    state: ReviewState,
    cluster_id: int,
    theme_id: str,
    *,
    reviewer: str,
    note: str = "",
) -> Decision:
    """Give a cluster (and so its papers) a theme."""
    themes = set(state.tables["themes"]["theme_id"]) | {OTHER}
    if theme_id not in themes:
        raise ReviewError(f"unknown theme {theme_id!r}; known: {', '.join(sorted(themes))}")
    return _set_field(
        store, state, cluster_id, "set_theme", "theme_id", theme_id, reviewer=reviewer, note=note
    )


def set_status(
    store: ReviewStore,
    state: ReviewState,
    cluster_id: int,
    status: str,
    *,
    reviewer: str,
    note: str = "",
) -> Decision:
    """Mark a cluster unreviewed, accepted, needs work or rejected."""
    if status not in STATUSES:
        raise ReviewError(f"unknown status {status!r}; allowed: {', '.join(STATUSES)}")
    return _set_field(
        store, state, cluster_id, "set_status", "status", status, reviewer=reviewer, note=note
    )


def add_note(
    store: ReviewStore, state: ReviewState, cluster_id: int, text: str, *, reviewer: str
) -> Decision:
    """Attach a note to a cluster."""
    text = (text or "").strip()
    if not text:
        raise ReviewError("a note cannot be empty")
    target = state.cluster_target(cluster_id)
    after = {"text": text}
    return append_decision(store, state, "note", target, after, reviewer=reviewer, note=text)


def merge(
    store: ReviewStore,
    state: ReviewState,
    cluster_ids: Sequence[int],
    *,
    reviewer: str,
    label: str | None = None,
    note: str = "",
) -> Decision:
    """Merge two or more clusters into one, which keeps the smallest cluster id."""
    ids = list(dict.fromkeys(int(c) for c in cluster_ids))
    if len(ids) < 2:
        raise ReviewError("choose at least two clusters to merge")
    if UNASSIGNED in ids:
        raise ReviewError("the unassigned papers cannot be merged; move them instead")
    targets = [state.cluster_target(c) for c in ids]
    rows = [state.cluster(c) for c in ids]
    paper_ids = [p for t in targets for p in t["paper_ids"]]
    by_size = sorted(rows, key=lambda r: -int(r["n_papers"]))
    label = " ".join((label or "").split()) or " / ".join(str(r["label"]) for r in by_size)
    keywords = _interleave([list(r["keywords"]) for r in by_size], 10)
    reps = _interleave([list(r["representative_paper_ids"]) for r in by_size], 5)
    after = {
        "cluster_key": cluster_key(paper_ids, f"merge@{state.version + 1}"),
        "cluster_id": min(ids),
        "label": label,
        "keywords": keywords,
        "representative_paper_ids": reps,
    }
    return append_decision(
        store, state, "merge", {"clusters": targets}, after, reviewer=reviewer, note=note
    )


def _interleave(lists: list[list[str]], limit: int) -> list[str]:
    out: list[str] = []
    for i in range(max((len(x) for x in lists), default=0)):
        for x in lists:
            if i < len(x) and x[i] not in out:
                out.append(x[i])
    return out[:limit]


def move(
    store: ReviewStore,
    state: ReviewState,
    paper_ids: Sequence[str],
    to_cluster_id: int,
    *,
    reviewer: str,
    note: str = "",
) -> Decision:
    """Move papers to another cluster or, with UNASSIGNED (-1), to the unassigned papers."""
    paper_ids = list(dict.fromkeys(paper_ids))
    if not paper_ids:
        raise ReviewError("select at least one paper to move")
    known = set(state.assignments["paper_id"])
    unknown = [p for p in paper_ids if p not in known]
    if unknown:
        raise ReviewError(f"papers not in run {state.run_id}: {', '.join(unknown[:5])}")
    return append_decision(
        store,
        state,
        "move",
        {"paper_ids": paper_ids},
        state.move_destination(to_cluster_id),
        reviewer=reviewer,
        before=state.paper_places(paper_ids),
        note=note,
    )


def undo(store: ReviewStore, state: ReviewState, *, reviewer: str) -> Decision:
    """Take back the latest decision still in effect (itself logged, so the log stays whole)."""
    effective = effective_decisions(state.log)
    if not effective:
        raise ReviewError("there is nothing to undo")
    last = effective[-1]
    target = {"decision_id": last.decision_id, "seq": last.seq, "action": last.action}
    return append_decision(
        store, state, "undo", target, {"summary": describe(last)}, reviewer=reviewer
    )


def answer_theme(
    store: ReviewStore,
    state: ReviewState,
    paper_id: str,
    theme_ids: Sequence[str],
    *,
    reviewer: str,
    is_audit: bool = False,
    note: str = "",
) -> Decision:
    """Log a reviewer's answer about one paper's theme: one or two themes, ["other"], or []
    (skipped). Recorded with the model's guess before it (and whether the paper was asked at
    random, for the accuracy estimate). Answers are keyed by paper id: they apply in every run
    holding the paper, and a later answer wins. Not refused because someone else decided
    something meanwhile: answers do not depend on each other."""
    a = state.assignments
    match = a[a["paper_id"] == paper_id]
    if match.empty:
        raise ReviewError(f"paper {paper_id} is not in run {state.run_id}")
    themes = set(state.tables["themes"]["theme_id"])
    theme_ids = list(dict.fromkeys(theme_ids))
    unknown = [t for t in theme_ids if t not in themes]
    if unknown or len(theme_ids) > 2 or (OTHER in theme_ids and len(theme_ids) > 1):
        raise ReviewError(
            f"an answer is one or two themes of the run, or `{OTHER}` alone; got {theme_ids}"
        )
    row = match.iloc[0]
    title = state.tables["papers"].set_index("paper_id").at[paper_id, "title"]
    check_run_exists(state.run_id, state.run_path)
    return store.append(
        state.run_id,
        "theme_answer",
        {"paper_id": paper_id, "title": str(title)},
        {"theme_ids": theme_ids},
        reviewer=reviewer,
        base_version=store.version(state.run_id),
        before={
            "theme_id": row["theme_id"],
            "probability": float(row["theme_probability"]),
            "is_audit": bool(is_audit),
        },
        note=note,
    )
