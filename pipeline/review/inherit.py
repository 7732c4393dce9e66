"""Inheritance of a review by a run made with `pipeline add`: reads the parent run's decision log
and both runs; logs the parent's decisions in effect for the child, one for one. The child holds
the parent's clusters (same ids, same papers, plus the added ones), so nothing is matched by
overlap as in `carry_over`: each run cluster's key is translated, merges, splits and moves keep
their own keys, and the reviewed child looks like the reviewed parent with the new papers in it.
"""

from __future__ import annotations

import copy
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.contract import UNASSIGNED, ContractError, Run, read_run
from pipeline.review.actions import check_run_exists
from pipeline.review.carry_over import CARRY_OVER_REVIEWER
from pipeline.review.errors import ReviewError, StoreNotWritable
from pipeline.review.store import ReviewStore, default_store_path
from pipeline.review.vocabulary import NewDecision, cluster_key, effective_decisions


@dataclass(frozen=True)
class InheritReport:
    """What the child run kept of its parent's review (`to_text()` for the CLI)."""

    parent_run_id: str
    new_run_id: str
    n_decisions: int = 0
    skipped: str | None = None

    def to_text(self) -> str:
        head = f"review of run {self.parent_run_id} kept on run {self.new_run_id}"
        if self.skipped:
            return f"{head}: {self.skipped}"
        return f"{head}: {self.n_decisions} decisions copied"


def _run_cluster_keys(run: Run) -> dict[int, str]:
    """Each run cluster's key as replay derives it (members' ids, salted with the cluster id)."""
    members: dict[int, list[str]] = {}
    for pid, cid in zip(run.assignments["paper_id"], run.assignments["cluster_id"], strict=True):
        members.setdefault(int(cid), []).append(pid)
    return {
        int(cid): cluster_key(members.get(int(cid), []), str(int(cid)))
        for cid in run.clusters["cluster_id"]
        if int(cid) != UNASSIGNED
    }


def inherit_review(
    store: ReviewStore, parent: Run, child: Run, *, reviewer: str = CARRY_OVER_REVIEWER
) -> InheritReport:
    """Log, for `child`, every decision of `parent` still in effect (undone ones and undos left
    out; theme answers too, as they apply by paper id in every run), with the parent's run
    cluster keys replaced by the child's. One transaction; a child that already has decisions
    is left alone."""
    if store.version(child.run_id):
        return InheritReport(
            parent.run_id, child.run_id, skipped="it already has review decisions; nothing changed"
        )
    decisions = [
        d for d in effective_decisions(store.decisions(parent.run_id)) if d.action != "theme_answer"
    ]
    if not decisions:
        return InheritReport(parent.run_id, child.run_id, skipped="the parent has no review")
    child_keys = _run_cluster_keys(child)
    key_of = {
        key: child_keys[cid] for cid, key in _run_cluster_keys(parent).items() if cid in child_keys
    }

    def translated(place: Any) -> Any:
        if isinstance(place, dict) and place.get("cluster_key") in key_of:
            return {**place, "cluster_key": key_of[place["cluster_key"]]}
        return place

    copied = []
    for d in decisions:
        target, after = copy.deepcopy(d.target), copy.deepcopy(d.after)
        if d.action == "merge" and isinstance(target, dict):
            target["clusters"] = [translated(c) for c in target.get("clusters", [])]
        elif d.action == "move":
            after = translated(after)
        else:
            target = translated(target)
        note = f"kept from run {parent.run_id} ({d.reviewer}" + (f": {d.note})" if d.note else ")")
        copied.append(NewDecision(d.action, target, after, d.before, note))
    check_run_exists(child.run_id, child.path)
    store.append_many(child.run_id, copied, reviewer=reviewer, base_version=0)
    return InheritReport(parent.run_id, child.run_id, len(copied))


def inherit_review_runs(
    runs_dir: str | Path, parent_run_id: str, new_run_id: str, store_path: str | Path | None = None
) -> InheritReport:
    """`inherit_review` between two runs of `runs_dir` (what `python -m pipeline add` calls after
    publishing). Never raises: a missing, unreadable or read-only store or an unreadable run is
    reported ("not kept: ...")."""
    path = Path(store_path) if store_path else default_store_path(runs_dir)
    if not path.is_file():
        return InheritReport(parent_run_id, new_run_id, skipped=f"no review store yet ({path})")
    try:
        store = ReviewStore.open(path)
        if not store.is_writable:
            raise StoreNotWritable(path, store.read_only_reason)
        return inherit_review(
            store, read_run(runs_dir, parent_run_id), read_run(runs_dir, new_run_id)
        )
    except (ContractError, ReviewError, sqlite3.Error, OSError) as exc:
        return InheritReport(parent_run_id, new_run_id, skipped=f"not kept: {exc}")
