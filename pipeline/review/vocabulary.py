"""The words of the decision log: actions, statuses, the `Decision` record, cluster keys, which
decisions are in effect after undos, a one-line description of each, and the log as a frame.

Identity: a cluster is named by a `cluster_key`, derived from its member paper ids when it comes
into being (a run cluster, a merge, a split part); every decision also records the paper ids it
concerns. Cluster numbers alone never identify anything across decisions or runs.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from pipeline.review.errors import InvalidDecision

ACTIONS = (
    "rename",
    "set_theme",
    "set_status",
    "note",
    "merge",
    "split",
    "move",
    "theme_answer",
    "undo",
)
STATUSES = ("unreviewed", "accepted", "needs work", "rejected")
UNASSIGNED_KEY = "unassigned"  # cluster_key of the unassigned papers


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


DECISION_FIELDS = tuple(f.name for f in fields(Decision))  # the store's columns, in order
LOG_COLUMNS = (*DECISION_FIELDS, "summary", "is_undone")  # the log frame (`ReviewStore.log`)


@dataclass(frozen=True)
class NewDecision:
    """A decision not yet stored: what `ReviewStore.append_many` takes."""

    action: str
    target: dict[str, Any]
    after: Any
    before: Any = None
    note: str = ""


# ------------------------------------------------------------------------------------------
# What each action's target and payload (`after`) hold. A check returns the problem in words,
# or None. Extra keys are allowed (older and newer versions may add some); `before` is free.

Check = Callable[[Any], "str | None"]


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be text, not {_kind(value)}"
    return None if value.strip() else "must not be empty"


def _integer(value: Any) -> str | None:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return None if ok else f"must be an integer, not {_kind(value)}"


def _one_of(allowed: tuple[str, ...]) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)}"

    return check


def _list_of(item: Check, min_len: int = 0) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"must be a list, not {_kind(value)}"
        if len(value) < min_len:
            return f"must hold at least {min_len} entries"
        for i, entry in enumerate(value):
            if (problem := item(entry)) is not None:
                return f"[{i}] {problem}"
        return None

    return check


def _record(**fields: Check) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"must be an object, not {_kind(value)}"
        for name, field_check in fields.items():
            if name not in value:
                return f"lacks {name}"
            if (problem := field_check(value[name])) is not None:
                return f".{name} {problem}"
        return None

    return check


_PAPERS = _list_of(_text)
_PLACE = {"cluster_key": _text, "cluster_id": _integer, "label": _text}
_CLUSTER = _record(**_PLACE, paper_ids=_PAPERS)
_NEW_CLUSTER = {**_PLACE, "keywords": _list_of(_text), "representative_paper_ids": _PAPERS}
SCHEMAS: dict[str, tuple[Check, Check]] = {  # action -> (target check, after check)
    "rename": (_CLUSTER, _record(label=_text)),
    "set_theme": (_CLUSTER, _record(theme_id=_text)),
    "set_status": (_CLUSTER, _record(status=_one_of(STATUSES))),
    "note": (_CLUSTER, _record(text=_text)),
    "merge": (_record(clusters=_list_of(_CLUSTER, 2)), _record(**_NEW_CLUSTER)),
    "split": (
        _CLUSTER,
        _record(
            parts=_list_of(_record(**_NEW_CLUSTER, paper_ids=_PAPERS), 2),
            k=_integer,
            seed=_integer,
        ),
    ),
    "move": (_record(paper_ids=_list_of(_text, 1)), _record(**_PLACE)),
    # A reviewer's answer about one paper's theme: one or two themes, "other", or [] (skipped).
    "theme_answer": (_record(paper_id=_text), _record(theme_ids=_list_of(_text))),
    "undo": (_record(decision_id=_integer, seq=_integer, action=_text), _record(summary=_text)),
}


def decision_problem(action: str, target: Any, after: Any) -> str | None:
    """Why a decision does not fit its action's schema, in words (None when it fits)."""
    if action not in SCHEMAS:
        return f"unknown action {action!r}; allowed: {', '.join(ACTIONS)}"
    check_target, check_after = SCHEMAS[action]
    for name, value, check in (("target", target, check_target), ("after", after, check_after)):
        if isinstance(value, _Unparsed):
            return f"{name} is not valid JSON ({str(value)[:40]!r})"
        if (problem := check(value)) is not None:
            return f"{name}{'' if problem.startswith(('.', '[')) else ' '}{problem}"
    return None


def check_decision(new: NewDecision) -> None:
    """Raise InvalidDecision when a decision does not fit its action's schema or is not JSON."""
    problem = decision_problem(new.action, new.target, new.after)
    if problem is None:
        try:
            for value in (new.target, new.before, new.after):
                to_json(value)
        except (TypeError, ValueError) as exc:
            problem = f"a value is not JSON ({exc})"
    if problem is not None:
        raise InvalidDecision(f"decision {new.action} refused: {problem}")


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


class _Unparsed(str):
    """Stored text that is not valid JSON (an old or foreign row); replay skips its decision."""


def from_json(value: Any) -> Any:
    """A stored decision field back as data; text that is not JSON stays text (marked)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return _Unparsed(value)


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
                    from_json(row.target),
                    from_json(row.before),
                    from_json(row.after),
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
    frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601", errors="coerce")
    return frame.astype(
        {"decision_id": "int64", "seq": "int64", "base_version": "int64", "is_undone": "bool"}
    )


def describe(d: Decision) -> str:
    """One readable line for a decision (used in the log view and the meeting pack); a decision
    that does not fit its action says so instead."""
    if d.action == "undo":
        t = d.target if isinstance(d.target, dict) else {}
        return f"undid decision #{t.get('seq', '?')} ({t.get('action', '?')})"
    problem = decision_problem(d.action, d.target, d.after)
    if problem is not None:
        return f"{d.action}: not applied ({problem})"
    t, a = d.target, d.after
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
    if d.action == "theme_answer":
        title = str(t.get("title") or t.get("paper_id"))
        title = title if len(title) <= 60 else title[:57] + "..."
        answer = " + ".join(a.get("theme_ids", [])) or "skipped"
        return f"theme of '{title}': {answer}"
    return d.action
