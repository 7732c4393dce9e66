"""The words of the decision log: actions, statuses, the `Decision` record, cluster keys, which
decisions are in effect after undos, a one-line description of each, and the log as a frame.

Identity: a cluster is named by a `cluster_key`, derived from its member paper ids when it comes
into being (a run cluster, a merge, a split part); every decision also records the paper ids it
concerns. Cluster numbers alone never identify anything across decisions or runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

ACTIONS = ("rename", "set_theme", "set_status", "note", "merge", "split", "move", "undo")
STATUSES = ("unreviewed", "accepted", "needs work", "rejected")
UNASSIGNED_KEY = "unassigned"  # cluster_key of the unassigned papers

# Columns of the log frame (`ReviewStore.log`), in order.
LOG_COLUMNS = (
    "decision_id",
    "run_id",
    "seq",
    "time",
    "reviewer",
    "action",
    "target",
    "before",
    "after",
    "note",
    "base_version",
    "summary",
    "is_undone",
)


@dataclass(frozen=True)
class Decision:
    """One entry of the log. `seq` is the run's review version right after this decision."""

    decision_id: int
    run_id: str
    seq: int
    time: str
    reviewer: str
    action: str
    target: dict[str, Any]
    before: Any
    after: Any
    note: str
    base_version: int


@dataclass(frozen=True)
class NewDecision:
    """A decision not yet stored: what `ReviewStore.append_many` takes."""

    action: str
    target: dict[str, Any]
    after: Any
    before: Any = None
    note: str = ""


def cluster_key(paper_ids: Iterable[str], salt: str = "") -> str:
    """A stable cluster identity from member paper ids (plus a salt for clusters made later)."""
    digest = hashlib.sha1("\n".join([salt, *sorted(paper_ids)]).encode("utf-8")).hexdigest()
    return f"k{digest[:12]}"


def to_json(value: Any) -> str:
    """JSON text of a decision field as stored (numpy numbers and arrays become plain JSON)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def as_decisions(log: pd.DataFrame | Iterable[Decision] | None) -> list[Decision]:
    """Decisions from a log frame or any iterable of them, oldest (lowest seq) first."""
    if log is None:
        return []
    if isinstance(log, pd.DataFrame):
        out = []
        for row in log.itertuples(index=False):
            out.append(
                Decision(
                    int(row.decision_id),
                    row.run_id,
                    int(row.seq),
                    pd.Timestamp(row.time).isoformat(),
                    row.reviewer,
                    row.action,
                    _loads(row.target),
                    _loads(row.before),
                    _loads(row.after),
                    row.note,
                    int(row.base_version),
                )
            )
        return sorted(out, key=lambda d: d.seq)
    return sorted(log, key=lambda d: d.seq)


def effective_decisions(log: pd.DataFrame | Iterable[Decision] | None) -> list[Decision]:
    """The decisions still in effect, oldest first: undo takes back the latest one in effect."""
    stack: list[Decision] = []
    for decision in as_decisions(log):
        if decision.action == "undo":
            if stack:
                stack.pop()
        else:
            stack.append(decision)
    return stack


def log_frame(decisions: Iterable[Decision]) -> pd.DataFrame:
    """Decisions as the filterable log frame (see `ReviewStore.log`)."""
    decisions = list(decisions)
    effective = {d.decision_id for d in effective_decisions(decisions)}
    rows = [
        {
            "decision_id": d.decision_id,
            "run_id": d.run_id,
            "seq": d.seq,
            "time": d.time,
            "reviewer": d.reviewer,
            "action": d.action,
            "target": to_json(d.target),
            "before": to_json(d.before),
            "after": to_json(d.after),
            "note": d.note,
            "base_version": d.base_version,
            "summary": describe(d),
            "is_undone": d.action != "undo" and d.decision_id not in effective,
        }
        for d in decisions
    ]
    frame = pd.DataFrame(rows, columns=list(LOG_COLUMNS))
    frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
    return frame.astype(
        {"decision_id": "int64", "seq": "int64", "base_version": "int64", "is_undone": "bool"}
    )


def describe(d: Decision) -> str:
    """One readable line for a decision (used in the log view and the meeting pack)."""
    t, a = d.target or {}, d.after
    name = t.get("label") or t.get("cluster_key", "")
    if d.action == "rename":
        return f"renamed '{name}' to '{a.get('label')}'"
    if d.action == "set_theme":
        return f"set the theme of '{name}' to {a.get('theme_id')}"
    if d.action == "set_status":
        return f"marked '{name}' as {a.get('status')}"
    if d.action == "note":
        return f"note on '{name}': {a.get('text')}"
    if d.action == "merge":
        names = ", ".join(f"'{c.get('label')}'" for c in t.get("clusters", []))
        return f"merged {names} into '{a.get('label')}'"
    if d.action == "split":
        parts = ", ".join(f"'{p.get('label')}'" for p in a.get("parts", []))
        return f"split '{name}' into {parts}"
    if d.action == "move":
        n = len(t.get("paper_ids", []))
        return f"moved {n} paper{'s' if n != 1 else ''} to '{a.get('label')}'"
    if d.action == "undo":
        return f"undid decision #{t.get('seq')} ({t.get('action')})"
    return d.action
