"""Carry-over: a previous run's review applied to a new run. Clusters are matched by paper
overlap; what carries (names, themes, statuses, notes, moves, notes on unclear matches) is
logged for the new run in one transaction, and a `CarryOverReport` says what happened.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.contract import OTHER, UNASSIGNED, ContractError, Run, read_run
from pipeline.review.actions import check_run_exists
from pipeline.review.errors import ReviewError, StoreNotWritable
from pipeline.review.state import ReviewState, load_state
from pipeline.review.store import ReviewStore, default_store_path
from pipeline.review.vocabulary import NewDecision

CARRY_OVER_REVIEWER = "carry-over"
# Carry-over thresholds on paper overlap, computed over the papers both runs share.
CLEAR_JACCARD = 0.6  # a clear match: mutual best and Jaccard at or above this (a half is not)
UNCLEAR_OVERLAP = 0.3  # below a clear match, Jaccard or containment at or above this is flagged


@dataclass(frozen=True)
class ClusterMatch:
    """How one new cluster relates to the previous run's reviewed clusters.

    outcome: carried (clear match, review carried), matched (clear match, nothing to carry),
    unclear (overlap too weak or ambiguous: flagged with a note), new (no counterpart).
    """

    new_cluster_id: int
    new_label: str
    previous_cluster_id: int | None
    previous_label: str | None
    jaccard: float
    containment: float
    outcome: str
    carried: tuple[str, ...] = ()


@dataclass(frozen=True)
class CarryOverReport:
    """What carried over from one run's review to the next (`to_text()` for the CLI)."""

    previous_run_id: str
    new_run_id: str
    matches: tuple[ClusterMatch, ...] = ()
    gone: tuple[tuple[int, str], ...] = ()  # previous reviewed clusters with no clear successor
    n_moves_kept: int = 0
    moves_flagged: tuple[str, ...] = ()  # moved papers whose destination has no clear successor
    n_decisions: int = 0
    skipped: str | None = None

    def count(self, outcome: str) -> int:
        return sum(m.outcome == outcome for m in self.matches)

    def to_text(self) -> str:
        head = f"review carry-over from {self.previous_run_id} to {self.new_run_id}"
        if self.skipped:
            return f"{head}: {self.skipped}"
        lines = [
            f"{head}: {self.count('carried')} clusters carried, {self.count('unclear')} unclear "
            f"(flagged for review), {self.count('new')} new, {len(self.gone)} reviewed clusters "
            f"without a clear successor; {self.n_moves_kept} moved papers kept moved"
            + (f", {len(self.moves_flagged)} not placed" if self.moves_flagged else "")
            + f"; {self.n_decisions} decisions logged",
        ]
        for m in self.matches:
            if m.outcome == "carried":
                lines.append(
                    f"  carried  {m.new_cluster_id:>4} '{m.new_label}' <- "
                    f"'{m.previous_label}' (Jaccard {m.jaccard:.2f}): {', '.join(m.carried)}"
                )
            elif m.outcome == "unclear":
                lines.append(
                    f"  unclear  {m.new_cluster_id:>4} '{m.new_label}' ~ "
                    f"'{m.previous_label}' (Jaccard {m.jaccard:.2f}, containment "
                    f"{m.containment:.2f})"
                )
        for cid, label in self.gone:
            lines.append(f"  no successor: previous cluster {cid} '{label}'")
        return "\n".join(lines)


def _has_review(row: pd.Series) -> bool:
    return bool(row["is_edited"] or row["status"] != "unreviewed" or len(row["notes"]))


def carry_over(
    store: ReviewStore, previous: Run, new: Run, *, reviewer: str = CARRY_OVER_REVIEWER
) -> CarryOverReport:
    """Match the new run's clusters to the previous run's reviewed clusters by paper overlap and
    log, for the new run, the review that carries: names, themes, statuses and notes where the
    match is clear (mutual best, Jaccard >= CLEAR_JACCARD over the papers both runs share), moves
    of papers a reviewer moved, and a note on each unclear match. All in one transaction; a new
    run that already has decisions is left alone.
    """
    prev_state = load_state(store, previous)
    if (
        prev_state.version == 0
        or not prev_state.clusters.apply(_has_review, axis=1).any()
        and not prev_state.assignments["is_moved"].any()
    ):
        return CarryOverReport(
            previous.run_id, new.run_id, skipped="the previous run has no review to carry"
        )
    new_state = load_state(store, new)
    if new_state.version:
        return CarryOverReport(
            previous.run_id,
            new.run_id,
            skipped=f"run {new.run_id} already has review decisions; nothing changed",
        )
    shared = set(previous.papers["paper_id"]) & set(new.papers["paper_id"])
    overlap = _overlap(
        _members(new_state.assignments, shared), _members(prev_state.assignments, shared)
    )
    best_prev = {
        n: max((p for (n2, p) in overlap if n2 == n), key=lambda p: overlap[n, p])
        for n in {n for n, _ in overlap}
    }
    best_new = {
        p: max((n for (n, p2) in overlap if p2 == p), key=lambda n: overlap[n, p])
        for p in {p for _, p in overlap}
    }
    clear = {
        n: p
        for n, p in best_prev.items()
        if best_new.get(p) == n and overlap[n, p][0] >= CLEAR_JACCARD
    }

    decisions: list[NewDecision] = []
    matches: list[ClusterMatch] = []
    note = f"carried over from run {previous.run_id}"
    prev_rows = prev_state.clusters.set_index("cluster_id", drop=False)
    for n in sorted(new_state.clusters["cluster_id"]):
        if n == UNASSIGNED:
            continue
        label = new_state.cluster(n)["label"]
        if n not in best_prev:
            matches.append(ClusterMatch(int(n), label, None, None, 0.0, 0.0, "new"))
            continue
        p = best_prev[n]
        jac, cont = overlap[n, p]
        prev = prev_rows.loc[p]
        if n in clear:
            carrying, carried = _carry_cluster(new_state, int(n), prev, note)
            decisions += carrying
            outcome = "carried" if carried else "matched"
        elif max(jac, cont) >= UNCLEAR_OVERLAP and _has_review(prev):
            text = (
                f"Check this cluster: it overlaps the reviewed cluster '{prev['label']}' of run "
                f"{previous.run_id} (Jaccard {jac:.2f}, containment {cont:.2f}), too unclearly "
                "to carry its review."
            )
            target = new_state.cluster_target(n)
            decisions.append(NewDecision("note", target, {"text": text}, None, text))
            carried, outcome = (), "unclear"
        else:
            carried, outcome = (), "new"
        matches.append(
            ClusterMatch(int(n), label, int(p), prev["label"], jac, cont, outcome, tuple(carried))
        )
    successors = set(clear.values())
    gone = tuple(
        (int(p), str(prev_rows.loc[p, "label"]))
        for p in prev_rows.index
        if p != UNASSIGNED and p not in successors and _has_review(prev_rows.loc[p])
    )
    moves, n_kept, flagged = _carry_moves(prev_state, new_state, clear, note)
    decisions += moves
    if decisions:
        check_run_exists(new.run_id, new.path)
        store.append_many(new.run_id, decisions, reviewer=reviewer, base_version=0)
    return CarryOverReport(
        previous.run_id, new.run_id, tuple(matches), gone, n_kept, tuple(flagged), len(decisions)
    )


def _overlap(
    new_members: dict[int, set[str]], prev_members: dict[int, set[str]]
) -> dict[tuple[int, int], tuple[float, float]]:
    """(Jaccard, containment) of every (new, previous) cluster pair that shares a paper."""
    overlap = {}
    for n, n_set in new_members.items():
        for p, p_set in prev_members.items():
            inter = len(n_set & p_set)
            if inter:
                overlap[n, p] = (inter / len(n_set | p_set), inter / min(len(n_set), len(p_set)))
    return overlap


def _carry_cluster(
    new_state: ReviewState, n: int, prev: pd.Series, note: str
) -> tuple[list[NewDecision], list[str]]:
    """The decisions that carry a clearly matched previous cluster's review (name, theme,
    status, notes) to new cluster `n`, and what carried, in words."""
    row = new_state.cluster(n)
    target = new_state.cluster_target(n)
    decisions: list[NewDecision] = []
    carried = []
    if prev["is_renamed"] or prev["is_merged"] or prev["is_split"]:
        decisions.append(
            NewDecision("rename", target, {"label": prev["label"]}, {"label": row["label"]}, note)
        )
        target = {**target, "label": prev["label"]}
        carried.append("name")
    if prev["is_theme_set"] and prev["theme_id"] in {
        *new_state.tables["themes"]["theme_id"],
        OTHER,
    }:
        decisions.append(
            NewDecision(
                "set_theme",
                target,
                {"theme_id": prev["theme_id"]},
                {"theme_id": row["theme_id"]},
                note,
            )
        )
        carried.append("theme")
    if prev["status"] != "unreviewed":
        decisions.append(
            NewDecision(
                "set_status", target, {"status": prev["status"]}, {"status": "unreviewed"}, note
            )
        )
        carried.append("status")
    for text in prev["notes"]:
        decisions.append(NewDecision("note", target, {"text": text}, None, text))
    if len(prev["notes"]):
        carried.append(f"{len(prev['notes'])} notes")
    return decisions, carried


def _carry_moves(
    prev_state: ReviewState,
    new_state: ReviewState,
    clear: dict[int, int],
    note: str,
) -> tuple[list[NewDecision], int, list[str]]:
    """Moved papers stay moved: to the unassigned papers, or to the clear successor of their
    destination. Returns the move decisions, the papers kept moved and those not placed."""
    successor_of = {p: n for n, p in clear.items()}
    new_cluster = new_state.assignments.set_index("paper_id")["cluster_id"]
    prev_a = prev_state.assignments
    moved = prev_a[prev_a["is_moved"] & prev_a["paper_id"].isin(new_cluster.index)]
    by_dest: dict[int, list[str]] = {}
    flagged = []
    for pid, dest in zip(moved["paper_id"], moved["cluster_id"], strict=True):
        dest = int(dest)
        new_dest = UNASSIGNED if dest == UNASSIGNED else successor_of.get(dest)
        if new_dest is None:
            flagged.append(pid)
        elif int(new_cluster[pid]) != new_dest:
            by_dest.setdefault(new_dest, []).append(pid)
    decisions = [
        NewDecision(
            "move",
            {"paper_ids": pids},
            new_state.move_destination(dest),
            new_state.paper_places(pids),
            note,
        )
        for dest, pids in sorted(by_dest.items())
    ]
    return decisions, len(moved) - len(flagged), flagged


def _members(assignments: pd.DataFrame, shared: set[str]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for pid, cid in zip(assignments["paper_id"], assignments["cluster_id"], strict=True):
        if pid in shared and int(cid) != UNASSIGNED:
            out.setdefault(int(cid), set()).add(pid)
    return out


def carry_over_runs(
    runs_dir: str | Path,
    previous_run_id: str,
    new_run_id: str,
    store_path: str | Path | None = None,
) -> CarryOverReport:
    """Carry the review of one run in `runs_dir` over to another (what `python -m pipeline run`
    calls after publishing). Never raises for an unreadable previous run or an unreadable or
    read-only store: the report says why nothing carried ("not carried: ...")."""
    path = Path(store_path) if store_path else default_store_path(runs_dir)
    if not path.is_file():
        return CarryOverReport(previous_run_id, new_run_id, skipped=f"no review store yet ({path})")
    try:
        store = ReviewStore.open(path)
        if not store.is_writable:
            raise StoreNotWritable(path, store.read_only_reason)
        previous = read_run(runs_dir, previous_run_id)
        new = read_run(runs_dir, new_run_id)
        return carry_over(store, previous, new)
    except (ContractError, ReviewError, sqlite3.Error, OSError) as exc:
        # sqlite3 and OS errors should not get here (the store turns them into ReviewErrors);
        # a publish that succeeded must not fail because its review could not carry.
        return CarryOverReport(previous_run_id, new_run_id, skipped=f"not carried: {exc}")
