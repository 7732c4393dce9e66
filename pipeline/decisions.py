"""Cluster review: an append-only SQLite decision log per run (kept outside the run folders), the
reviewed state derived by replaying that log over a run, split previews, and carry-over of a
previous run's review to a new run.

Imports only the standard library, numpy, pandas, scikit-learn and `pipeline.contract`, so the
dashboard can use it without torch, UMAP or BERTopic.

Identity: a cluster is named by a `cluster_key`, derived from its member paper ids when it comes
into being (a run cluster, a merge, a split part); every decision also records the paper ids it
concerns. Cluster numbers alone never identify anything across decisions or runs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import derive
from pipeline.contract import OTHER, UNASSIGNED, Run

ACTIONS = ("rename", "set_theme", "set_status", "note", "merge", "split", "move", "undo")
STATUSES = ("unreviewed", "accepted", "needs work", "rejected")
UNASSIGNED_KEY = "unassigned"
DEFAULT_STORE = Path("data/review.sqlite")
CARRY_OVER_REVIEWER = "carry-over"
# Carry-over thresholds on paper overlap, computed over the papers both runs share.
CLEAR_JACCARD = 0.6  # a clear match: mutual best and Jaccard at or above this (a half is not)
UNCLEAR_OVERLAP = 0.3  # below a clear match, Jaccard or containment at or above this is flagged

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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    decision_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT NOT NULL,
    note TEXT NOT NULL,
    base_version INTEGER NOT NULL,
    UNIQUE (run_id, seq)
);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
"""


class ReviewError(ValueError):
    """A decision that cannot be made: unknown cluster, bad status, empty name, ..."""


class StaleStateError(ReviewError):
    """A decision made on a state that another reviewer has changed since; refresh and retry."""

    def __init__(self, run_id: str, base_version: int, current_version: int):
        self.run_id = run_id
        self.base_version = base_version
        self.current_version = current_version
        super().__init__(
            f"someone else changed the review of run {run_id} (you saw version {base_version}, "
            f"it is now {current_version}); your decision was not saved: refresh and try again"
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


def default_store_path(runs_dir: str | Path | None = None) -> Path:
    """Where the review store lives: `review.sqlite` beside the runs folder (data/ by default)."""
    if runs_dir is None:
        return DEFAULT_STORE
    return Path(runs_dir).resolve().parent / "review.sqlite"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class ReviewStore:
    """The decision log in one SQLite file (WAL, synchronous=FULL).

    A decision is acknowledged only after its transaction committed with a full sync, so a killed
    process loses nothing that was acknowledged. Each call opens its own connection, so one
    store object may be shared by threads (Streamlit sessions) and each process opens its own.
    Writes use `BEGIN IMMEDIATE`: the version check and the insert happen under the write lock,
    which makes optimistic concurrency exact (no lost and no duplicated decision).
    """

    def __init__(self, path: str | Path = DEFAULT_STORE, timeout_s: float = 30.0):
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
        return conn

    def version(self, run_id: str) -> int:
        """The run's review version: the number of decisions logged for it (0 = none)."""
        with closing(self._connect()) as conn:
            return _version(conn, run_id)

    def append(
        self,
        run_id: str,
        action: str,
        target: dict[str, Any],
        after: Any,
        *,
        reviewer: str,
        base_version: int,
        before: Any = None,
        note: str = "",
    ) -> Decision:
        """Log one decision made on state `base_version`; raise StaleStateError when stale."""
        new = NewDecision(action=action, target=target, after=after, before=before, note=note)
        return self.append_many(run_id, [new], reviewer=reviewer, base_version=base_version)[0]

    def append_many(
        self, run_id: str, decisions: Sequence[NewDecision], *, reviewer: str, base_version: int
    ) -> list[Decision]:
        """Log several decisions in one transaction (all or none), made on `base_version`."""
        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise ReviewError("a reviewer name is required")
        for new in decisions:
            if new.action not in ACTIONS:
                raise ReviewError(f"unknown action {new.action!r}; allowed: {', '.join(ACTIONS)}")
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = _version(conn, run_id)
                if current != base_version:
                    raise StaleStateError(run_id, base_version, current)
                stored = []
                for offset, new in enumerate(decisions):
                    seq = current + offset + 1
                    row = (
                        run_id,
                        seq,
                        _now(),
                        reviewer,
                        new.action,
                        _dumps(new.target),
                        _dumps(new.before),
                        _dumps(new.after),
                        new.note or "",
                        seq - 1,
                    )
                    cursor = conn.execute(
                        "INSERT INTO decisions (run_id, seq, time, reviewer, action, target, "
                        "before, after, note, base_version) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        row,
                    )
                    stored.append(
                        Decision(
                            cursor.lastrowid,
                            *row[:5],
                            new.target,
                            new.before,
                            new.after,
                            new.note or "",
                            seq - 1,
                        )
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return stored

    def decisions(self, run_id: str | None = None) -> list[Decision]:
        """Every decision of one run (or of all runs), oldest first."""
        query = (
            "SELECT decision_id, run_id, seq, time, reviewer, action, target, before, after, "
            "note, base_version FROM decisions"
        )
        args: tuple = ()
        if run_id is not None:
            query += " WHERE run_id = ?"
            args = (run_id,)
        with closing(self._connect()) as conn:
            rows = conn.execute(query + " ORDER BY run_id, seq", args).fetchall()
        return [
            Decision(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                json.loads(r[6]),
                json.loads(r[7]),
                json.loads(r[8]),
                r[9],
                r[10],
            )
            for r in rows
        ]

    def log(self, run_id: str | None = None) -> pd.DataFrame:
        """The log as a DataFrame (columns LOG_COLUMNS), oldest first.

        `target`, `before` and `after` are JSON text; `summary` is a one-line readable description;
        `is_undone` marks decisions an undo took back; `time` is a UTC datetime.
        """
        return log_frame(self.decisions(run_id))

    def runs(self) -> list[str]:
        """Run ids that have at least one decision."""
        with closing(self._connect()) as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT run_id FROM decisions ORDER BY 1")]


def _version(conn: sqlite3.Connection, run_id: str) -> int:
    row = conn.execute("SELECT MAX(seq) FROM decisions WHERE run_id = ?", (run_id,)).fetchone()
    return int(row[0] or 0)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# --------------------------------------------------------------------------------------------
# The log as a frame, and which decisions are in effect


def _as_decisions(log: pd.DataFrame | Iterable[Decision] | None) -> list[Decision]:
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


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def effective_decisions(log: pd.DataFrame | Iterable[Decision] | None) -> list[Decision]:
    """The decisions still in effect, oldest first: undo takes back the latest one in effect."""
    stack: list[Decision] = []
    for decision in _as_decisions(log):
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
            "target": _dumps(d.target),
            "before": _dumps(d.before),
            "after": _dumps(d.after),
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


# --------------------------------------------------------------------------------------------
# Replay: the reviewed state of a run


def cluster_key(paper_ids: Iterable[str], salt: str = "") -> str:
    """A stable cluster identity from member paper ids (plus a salt for clusters made later)."""
    digest = hashlib.sha1("\n".join([salt, *sorted(paper_ids)]).encode("utf-8")).hexdigest()
    return f"k{digest[:12]}"


@dataclass
class _Cluster:
    key: str
    cluster_id: int
    label: str
    original_label: str
    keywords: list[str]
    representative_paper_ids: list[str]
    origin_cluster_ids: list[int]
    status: str = "unreviewed"
    notes: list[str] = field(default_factory=list)
    theme_override: str | None = None
    is_renamed: bool = False
    is_merged: bool = False
    is_split: bool = False
    has_moves: bool = False
    n_decisions: int = 0


@dataclass
class _State:
    clusters: dict[str, _Cluster]  # by key; the unassigned papers are UNASSIGNED_KEY
    paper_key: dict[str, str]  # paper id -> cluster key
    moved: set[str]


def _initial_state(run: Run) -> _State:
    assignments = run.assignments
    members: dict[int, list[str]] = {}
    for pid, cid in zip(assignments["paper_id"], assignments["cluster_id"], strict=True):
        members.setdefault(int(cid), []).append(pid)
    clusters: dict[str, _Cluster] = {}
    id_key: dict[int, str] = {}
    for row in run.clusters.itertuples(index=False):
        cid = int(row.cluster_id)
        key = UNASSIGNED_KEY if cid == UNASSIGNED else cluster_key(members.get(cid, []), str(cid))
        id_key[cid] = key
        clusters[key] = _Cluster(
            key,
            cid,
            row.label,
            row.label,
            list(row.keywords),
            list(row.representative_paper_ids),
            [cid],
        )
    if UNASSIGNED_KEY not in clusters:
        id_key[UNASSIGNED] = UNASSIGNED_KEY
        clusters[UNASSIGNED_KEY] = _Cluster(
            UNASSIGNED_KEY, UNASSIGNED, "unassigned", "unassigned", [], [], [UNASSIGNED]
        )
    for cid in members:
        if cid not in id_key:  # an assignment to a cluster the clusters table lacks
            id_key[cid] = cluster_key(members[cid], str(cid))
            clusters[id_key[cid]] = _Cluster(
                id_key[cid], cid, f"cluster {cid}", f"cluster {cid}", [], [], [cid]
            )
    paper_key = {
        pid: id_key[int(cid)]
        for pid, cid in zip(assignments["paper_id"], assignments["cluster_id"], strict=True)
    }
    return _State(clusters, paper_key, set())


def _get(state: _State, key: str, decision: Decision) -> _Cluster:
    if key not in state.clusters:
        raise ReviewError(f"decision #{decision.seq} names cluster {key}, which does not exist")
    return state.clusters[key]


def _apply(state: _State, d: Decision) -> None:
    t, a = d.target, d.after
    if d.action in ("rename", "set_theme", "set_status", "note"):
        c = _get(state, t["cluster_key"], d)
        c.n_decisions += 1
        if d.action == "rename":
            c.label, c.is_renamed = a["label"], True
        elif d.action == "set_theme":
            c.theme_override = a["theme_id"]
        elif d.action == "set_status":
            c.status = a["status"]
        else:
            c.notes.append(a["text"])
    elif d.action == "merge":
        parts = [_get(state, c["cluster_key"], d) for c in t["clusters"]]
        merged = _Cluster(
            a["cluster_key"],
            int(a["cluster_id"]),
            a["label"],
            a["label"],
            list(a["keywords"]),
            list(a["representative_paper_ids"]),
            sorted({o for p in parts for o in p.origin_cluster_ids}),
            notes=[n for p in parts for n in p.notes],
            theme_override=next((p.theme_override for p in parts if p.theme_override), None),
            is_merged=True,
            has_moves=any(p.has_moves for p in parts),
            n_decisions=sum(p.n_decisions for p in parts) + 1,
        )
        gone = {p.key for p in parts}
        for key in gone:
            del state.clusters[key]
        state.clusters[merged.key] = merged
        for pid, key in state.paper_key.items():
            if key in gone:
                state.paper_key[pid] = merged.key
    elif d.action == "split":
        source = _get(state, t["cluster_key"], d)
        del state.clusters[source.key]
        first_key = a["parts"][0]["cluster_key"]
        for part in a["parts"]:
            state.clusters[part["cluster_key"]] = _Cluster(
                part["cluster_key"],
                int(part["cluster_id"]),
                part["label"],
                part["label"],
                list(part["keywords"]),
                list(part["representative_paper_ids"]),
                list(source.origin_cluster_ids),
                theme_override=source.theme_override,
                is_split=True,
                has_moves=source.has_moves,
                n_decisions=source.n_decisions + 1,
            )
            for pid in part["paper_ids"]:
                if state.paper_key.get(pid) == source.key:
                    state.paper_key[pid] = part["cluster_key"]
        for pid, key in state.paper_key.items():  # papers the parts do not list stay together
            if key == source.key:
                state.paper_key[pid] = first_key
    elif d.action == "move":
        dest = _get(state, a["cluster_key"], d)
        dest.has_moves = True
        dest.n_decisions += 1
        for pid in t["paper_ids"]:
            if pid not in state.paper_key:
                raise ReviewError(f"decision #{d.seq} moves paper {pid}, which is not in the run")
            old = state.clusters.get(state.paper_key[pid])
            if old is not None:
                old.has_moves = True
            state.paper_key[pid] = dest.key
            state.moved.add(pid)
    else:
        raise ReviewError(f"decision #{d.seq}: unknown action {d.action!r}")


def _replay(run: Run, log: pd.DataFrame | Iterable[Decision] | None) -> _State:
    state = _initial_state(run)
    for decision in effective_decisions(log):
        _apply(state, decision)
    return state


# Extra columns `reviewed_tables` adds (the README documents each).
REVIEW_COLUMNS: dict[str, dict[str, str]] = {
    "assignments": {
        "original_cluster_id": "cluster of the paper in the run, before any review decision",
        "cluster_key": "stable key of the paper's reviewed cluster",
        "original_theme_id": "theme of the paper in the run",
        "is_moved": "a reviewer moved this paper",
        "is_theme_edited": "the paper's theme comes from a reviewer's cluster theme",
        "is_edited": "any of the above changed this paper",
    },
    "clusters": {
        "cluster_key": "stable key: hash of the member paper ids when the cluster came to be",
        "original_label": "label before any rename (for merges and splits: the made-up label)",
        "origin_cluster_ids": "run cluster ids this reviewed cluster came from",
        "status": "unreviewed, accepted, needs work or rejected",
        "notes": "reviewers' notes, oldest first",
        "n_decisions": "decisions that concerned this cluster",
        "is_renamed": "a reviewer renamed it",
        "is_theme_set": "a reviewer set its theme",
        "is_merged": "made by merging clusters",
        "is_split": "made by splitting a cluster",
        "has_moves": "papers were moved into or out of it",
        "is_edited": "any of the above: a person changed this cluster",
    },
}


def reviewed_tables(
    run: Run, log: pd.DataFrame | Iterable[Decision] | None
) -> dict[str, pd.DataFrame]:
    """The run's tables with the review applied: every table of the run, same columns, plus the
    REVIEW_COLUMNS markers on `assignments` and `clusters`.

    Labels, themes, statuses, notes, merges, splits and moves are applied; cluster sizes, dates,
    centres, theme mixes, theme counts and the timelines of the clusters and themes a decision
    touched are recomputed from the reviewed assignments. `log` is a store log frame or a list of
    decisions of this run (an empty log gives the run as it is, with the markers).
    """
    state = _replay(run, log)
    tables = dict(run.tables)
    assignments = run.assignments.copy()
    key_id = {c.key: c.cluster_id for c in state.clusters.values()}
    assignments["original_cluster_id"] = assignments["cluster_id"].astype("int64")
    assignments["original_theme_id"] = assignments["theme_id"]
    assignments["cluster_key"] = assignments["paper_id"].map(state.paper_key)
    assignments["cluster_id"] = assignments["cluster_key"].map(key_id).astype("int64")
    assignments["is_moved"] = assignments["paper_id"].isin(state.moved)
    override = {c.key: c.theme_override for c in state.clusters.values() if c.theme_override}
    theme_new = assignments["cluster_key"].map(override)
    assignments["theme_id"] = theme_new.where(theme_new.notna(), assignments["theme_id"])
    assignments["is_theme_edited"] = assignments["theme_id"] != assignments["original_theme_id"]
    assignments["is_edited"] = assignments["is_moved"] | assignments["is_theme_edited"]
    tables["assignments"] = assignments

    original = run.clusters.set_index("cluster_id", drop=False)
    changed_membership = {
        c.key for c in state.clusters.values() if c.is_merged or c.is_split or c.has_moves
    }
    theme_changed = set(assignments.loc[assignments["is_theme_edited"], "cluster_key"])
    has_unassigned_row = bool((run.clusters["cluster_id"] == UNASSIGNED).any())
    papers = run.papers.set_index("paper_id")
    rows = []
    for c in state.clusters.values():
        members = (
            assignments[assignments["cluster_key"] == c.key]
            if (c.key in changed_membership or c.key in theme_changed)
            else None
        )
        if (
            c.key == UNASSIGNED_KEY
            and not has_unassigned_row
            and not (assignments["cluster_id"] == UNASSIGNED).any()
        ):
            continue
        if c.cluster_id in original.index and not (c.is_merged or c.is_split):
            row = original.loc[c.cluster_id].to_dict()
        else:
            row = {col: None for col in run.clusters.columns}
            row["cluster_id"] = c.cluster_id
        row.update(
            label=c.label,
            keywords=list(c.keywords),
            representative_paper_ids=list(c.representative_paper_ids),
        )
        if members is None and row.get("n_papers") is None:  # a row the run lacks
            members = assignments[assignments["cluster_key"] == c.key]
        if members is not None:
            row.update(_cluster_facts(c.cluster_id, members, papers))
            kept = set(members["paper_id"])
            row["representative_paper_ids"] = [
                p for p in row["representative_paper_ids"] if p in kept
            ]
        row.update(
            cluster_key=c.key,
            original_label=c.original_label,
            origin_cluster_ids=list(c.origin_cluster_ids),
            status=c.status,
            notes=list(c.notes),
            n_decisions=c.n_decisions,
            is_renamed=c.is_renamed,
            is_theme_set=c.theme_override is not None,
            is_merged=c.is_merged,
            is_split=c.is_split,
            has_moves=c.has_moves,
        )
        row["is_edited"] = any(
            row[k] for k in ("is_renamed", "is_theme_set", "is_merged", "is_split", "has_moves")
        )
        rows.append(row)
    clusters = pd.DataFrame(rows)
    clusters = clusters[[*run.clusters.columns, *REVIEW_COLUMNS["clusters"]]]
    clusters = clusters.sort_values("cluster_id", kind="stable").reset_index(drop=True)
    clusters = clusters.astype({"cluster_id": "int64", "n_papers": "int64"})
    for col in ("first_published", "last_published"):
        clusters[col] = pd.to_datetime(clusters[col])
    tables["clusters"] = clusters

    if changed_membership or theme_changed:
        tables["themes"] = derive.with_theme_counts(run.themes, assignments["theme_id"], clusters)
    return tables


def _cluster_facts(cluster_id: int, members: pd.DataFrame, papers: pd.DataFrame) -> dict:
    """The derived facts of one reviewed cluster from its member assignments."""
    if members.empty:
        return {
            "n_papers": 0,
            "theme_id": OTHER,
            "theme_share": 0.0,
            "first_published": pd.NaT,
            "last_published": pd.NaT,
            "map_x": 0.0,
            "map_y": 0.0,
        }
    facts = members.assign(
        cluster_id=cluster_id, published=papers.loc[members["paper_id"], "published"].to_numpy()
    )
    return derive.cluster_facts(facts).iloc[0].to_dict()


# --------------------------------------------------------------------------------------------
# Making decisions against the current state


@dataclass(frozen=True)
class ReviewState:
    """A run's reviewed state at one version: what the UI shows and decides on."""

    run_id: str
    version: int
    tables: dict[str, pd.DataFrame]
    log: pd.DataFrame

    @property
    def clusters(self) -> pd.DataFrame:
        return self.tables["clusters"]

    @property
    def assignments(self) -> pd.DataFrame:
        return self.tables["assignments"]

    def cluster(self, cluster_id: int) -> pd.Series:
        """One reviewed cluster's row; ReviewError when it does not exist (any more)."""
        match = self.clusters[self.clusters["cluster_id"] == int(cluster_id)]
        if match.empty:
            raise ReviewError(f"cluster {cluster_id} does not exist in the reviewed state")
        return match.iloc[0]

    def paper_ids(self, cluster_id: int) -> list[str]:
        """Member paper ids of a reviewed cluster, in papers order."""
        a = self.assignments
        return a.loc[a["cluster_id"] == int(cluster_id), "paper_id"].tolist()


def load_state(store: ReviewStore, run: Run, version: int | None = None) -> ReviewState:
    """Read the log and derive the run's reviewed state (at `version`, default the latest)."""
    decisions = store.decisions(run.run_id)
    if version is not None:
        decisions = [d for d in decisions if d.seq <= version]
    version = decisions[-1].seq if decisions else 0
    return ReviewState(run.run_id, version, reviewed_tables(run, decisions), log_frame(decisions))


def _target(state: ReviewState, cluster_id: int) -> dict[str, Any]:
    row = state.cluster(cluster_id)
    return {
        "cluster_key": row["cluster_key"],
        "cluster_id": int(row["cluster_id"]),
        "label": row["label"],
        "paper_ids": state.paper_ids(cluster_id),
    }


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
    target = _target(state, cluster_id)
    return store.append(
        state.run_id,
        "rename",
        target,
        {"label": label},
        reviewer=reviewer,
        base_version=state.version,
        before={"label": target["label"]},
        note=note,
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
    target = _target(state, cluster_id)
    before = {"theme_id": str(state.cluster(cluster_id)["theme_id"])}
    return store.append(
        state.run_id,
        "set_theme",
        target,
        {"theme_id": theme_id},
        reviewer=reviewer,
        base_version=state.version,
        before=before,
        note=note,
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
    target = _target(state, cluster_id)
    before = {"status": str(state.cluster(cluster_id)["status"])}
    return store.append(
        state.run_id,
        "set_status",
        target,
        {"status": status},
        reviewer=reviewer,
        base_version=state.version,
        before=before,
        note=note,
    )


def add_note(
    store: ReviewStore, state: ReviewState, cluster_id: int, text: str, *, reviewer: str
) -> Decision:
    """Attach a note to a cluster."""
    text = (text or "").strip()
    if not text:
        raise ReviewError("a note cannot be empty")
    return store.append(
        state.run_id,
        "note",
        _target(state, cluster_id),
        {"text": text},
        reviewer=reviewer,
        base_version=state.version,
        note=text,
    )


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
    targets = [_target(state, c) for c in ids]
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
    return store.append(
        state.run_id,
        "merge",
        {"clusters": targets},
        after,
        reviewer=reviewer,
        base_version=state.version,
        note=note,
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
    a = state.assignments.set_index("paper_id")
    unknown = [p for p in paper_ids if p not in a.index]
    if unknown:
        raise ReviewError(f"papers not in run {state.run_id}: {', '.join(unknown[:5])}")
    if int(to_cluster_id) == UNASSIGNED:
        after = {"cluster_key": UNASSIGNED_KEY, "cluster_id": UNASSIGNED, "label": "unassigned"}
    else:
        row = state.cluster(to_cluster_id)
        after = {
            "cluster_key": row["cluster_key"],
            "cluster_id": int(row["cluster_id"]),
            "label": row["label"],
        }
    before = {
        p: {"cluster_key": a.at[p, "cluster_key"], "cluster_id": int(a.at[p, "cluster_id"])}
        for p in paper_ids
    }
    return store.append(
        state.run_id,
        "move",
        {"paper_ids": paper_ids},
        after,
        reviewer=reviewer,
        base_version=state.version,
        before=before,
        note=note,
    )


def undo(store: ReviewStore, state: ReviewState, *, reviewer: str) -> Decision:
    """Take back the latest decision still in effect (itself logged, so the log stays whole)."""
    effective = effective_decisions(state.log)
    if not effective:
        raise ReviewError("there is nothing to undo")
    last = effective[-1]
    target = {"decision_id": last.decision_id, "seq": last.seq, "action": last.action}
    return store.append(
        state.run_id,
        "undo",
        target,
        {"summary": describe(last)},
        reviewer=reviewer,
        base_version=state.version,
    )


@dataclass(frozen=True)
class SplitPreview:
    """A proposed split of one cluster into k parts, not yet stored.

    `parts` are dicts (cluster_key, cluster_id, label, keywords, representative_paper_ids,
    paper_ids), the first keeping the cluster's id; `papers` has paper_id, part (0..k-1), title.
    """

    run_id: str
    version: int
    cluster_id: int
    k: int
    seed: int
    parts: tuple[dict[str, Any], ...]
    papers: pd.DataFrame


def preview_split(
    run: Run, state: ReviewState, cluster_id: int, k: int = 2, seed: int = 0
) -> SplitPreview:
    """Re-cluster one cluster's papers into k parts with seeded KMeans on the run's stored
    embeddings (unit-normalised, so distances follow cosine similarity)."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    if int(cluster_id) == UNASSIGNED:
        raise ReviewError("the unassigned papers cannot be split; move them instead")
    paper_ids = state.paper_ids(cluster_id)
    row = state.cluster(cluster_id)
    if k < 2 or k > len(paper_ids):
        raise ReviewError(f"k must be between 2 and the cluster's size ({len(paper_ids)})")
    index = pd.Series(np.arange(len(run.papers)), index=run.papers["paper_id"])
    rows = index.loc[paper_ids].to_numpy()
    vectors = np.asarray(run.embeddings()[np.sort(rows)], dtype=np.float64)
    vectors = vectors[np.argsort(np.argsort(rows))]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    labels = KMeans(n_clusters=k, random_state=seed, n_init=10).fit_predict(vectors)
    # Number the parts by size (largest first keeps the cluster id), ties by first paper.
    order = sorted(range(k), key=lambda p: (-int((labels == p).sum()), int(np.argmax(labels == p))))
    renumber = {old: new for new, old in enumerate(order)}
    labels = np.array([renumber[x] for x in labels])
    papers = run.papers.set_index("paper_id").loc[paper_ids]
    texts = (papers["title"] + ". " + papers["abstract"]).tolist()
    docs = [" ".join(t for t, lab in zip(texts, labels, strict=True) if lab == p) for p in range(k)]
    try:
        tfidf = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), sublinear_tf=True)
        weights = tfidf.fit_transform(docs).toarray()
        vocab = np.array(tfidf.get_feature_names_out())
    except ValueError:  # only stop words
        weights, vocab = np.zeros((k, 0)), np.array([])
    used = set(state.clusters["cluster_id"])
    next_id = max(used | set(state.tables["assignments"]["original_cluster_id"])) + 1
    parts = []
    for p in range(k):
        members = [pid for pid, lab in zip(paper_ids, labels, strict=True) if lab == p]
        # Distinctive terms first: weight in this part minus the best weight in any other part.
        others = np.delete(weights, p, axis=0).max(axis=0) if k > 1 and vocab.size else 0.0
        score = weights[p] - others if vocab.size else np.zeros(0)
        keywords = [str(w) for w in vocab[np.lexsort((vocab, -score))[:10]]] if vocab.size else []
        centre = vectors[labels == p].mean(axis=0)
        closeness = vectors[labels == p] @ centre
        reps = [members[i] for i in np.argsort(-closeness)[:5]]
        name = f"{row['label']}: {keywords[0]}" if keywords else f"{row['label']} ({p + 1})"
        parts.append(
            {
                "cluster_key": cluster_key(members, f"split@{state.version + 1}#{p}"),
                "cluster_id": int(cluster_id) if p == 0 else int(next_id + p - 1),
                "label": name,
                "keywords": keywords,
                "representative_paper_ids": reps,
                "paper_ids": members,
            }
        )
    frame = pd.DataFrame(
        {"paper_id": paper_ids, "part": labels.astype("int64"), "title": papers["title"].tolist()}
    )
    return SplitPreview(run.run_id, state.version, int(cluster_id), k, seed, tuple(parts), frame)


def accept_split(
    store: ReviewStore,
    state: ReviewState,
    preview: SplitPreview,
    *,
    reviewer: str,
    labels: Sequence[str] | None = None,
    note: str = "",
) -> Decision:
    """Store a previewed split (refused when the state changed since the preview)."""
    if preview.version != state.version or preview.run_id != state.run_id:
        raise StaleStateError(state.run_id, preview.version, state.version)
    parts = [dict(p) for p in preview.parts]
    for part, name in zip(parts, labels or [], strict=False):
        if name and name.strip():
            part["label"] = " ".join(name.split())
    after = {"parts": parts, "k": preview.k, "seed": preview.seed}
    return store.append(
        state.run_id,
        "split",
        _target(state, preview.cluster_id),
        after,
        reviewer=reviewer,
        base_version=state.version,
        note=note,
    )


# --------------------------------------------------------------------------------------------
# Carry-over: a previous run's review applied to a new run


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
    prev_members = _members(prev_state.assignments, shared)
    new_members = _members(new_state.assignments, shared)
    prev_rows = prev_state.clusters.set_index("cluster_id", drop=False)
    new_rows = new_state.clusters.set_index("cluster_id", drop=False)

    overlap: dict[tuple[int, int], tuple[float, float]] = {}
    for n, n_set in new_members.items():
        for p, p_set in prev_members.items():
            inter = len(n_set & p_set)
            if inter:
                overlap[n, p] = (inter / len(n_set | p_set), inter / min(len(n_set), len(p_set)))
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
    for n in sorted(new_rows.index):
        if n == UNASSIGNED:
            continue
        row = new_rows.loc[n]
        target = {
            "cluster_key": row["cluster_key"],
            "cluster_id": int(n),
            "label": row["label"],
            "paper_ids": new_state.paper_ids(n),
        }
        if n not in best_prev:
            matches.append(ClusterMatch(int(n), row["label"], None, None, 0.0, 0.0, "new"))
            continue
        p = best_prev[n]
        jac, cont = overlap[n, p]
        prev = prev_rows.loc[p]
        if n in clear:
            carried = []
            if prev["is_renamed"] or prev["is_merged"] or prev["is_split"]:
                decisions.append(
                    NewDecision(
                        "rename", target, {"label": prev["label"]}, {"label": row["label"]}, note
                    )
                )
                target = {**target, "label": prev["label"]}
                carried.append("name")
            if prev["is_theme_set"]:
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
                        "set_status",
                        target,
                        {"status": prev["status"]},
                        {"status": "unreviewed"},
                        note,
                    )
                )
                carried.append("status")
            for text in prev["notes"]:
                decisions.append(NewDecision("note", target, {"text": text}, None, text))
            if len(prev["notes"]):
                carried.append(f"{len(prev['notes'])} notes")
            matches.append(
                ClusterMatch(
                    int(n),
                    row["label"],
                    int(p),
                    prev["label"],
                    jac,
                    cont,
                    "carried" if carried else "matched",
                    tuple(carried),
                )
            )
        elif max(jac, cont) >= UNCLEAR_OVERLAP and _has_review(prev):
            text = (
                f"Check this cluster: it overlaps the reviewed cluster '{prev['label']}' of run "
                f"{previous.run_id} (Jaccard {jac:.2f}, containment {cont:.2f}), too unclearly "
                "to carry its review."
            )
            decisions.append(NewDecision("note", target, {"text": text}, None, text))
            matches.append(
                ClusterMatch(int(n), row["label"], int(p), prev["label"], jac, cont, "unclear")
            )
        else:
            matches.append(
                ClusterMatch(int(n), row["label"], int(p), prev["label"], jac, cont, "new")
            )
    successors = set(clear.values())
    gone = tuple(
        (int(p), str(prev_rows.loc[p, "label"]))
        for p in prev_rows.index
        if p != UNASSIGNED and p not in successors and _has_review(prev_rows.loc[p])
    )

    # Moved papers stay moved: to the unassigned papers, or to the clear successor of their
    # destination; destinations without one are reported.
    successor_of = {p: n for n, p in clear.items()}
    new_a = new_state.assignments.set_index("paper_id")
    prev_a = prev_state.assignments
    moved = prev_a[prev_a["is_moved"] & prev_a["paper_id"].isin(new_a.index)]
    by_dest: dict[int, list[str]] = {}
    flagged = []
    for pid, dest in zip(moved["paper_id"], moved["cluster_id"], strict=True):
        dest = int(dest)
        new_dest = UNASSIGNED if dest == UNASSIGNED else successor_of.get(dest)
        if new_dest is None:
            flagged.append(pid)
        elif int(new_a.at[pid, "cluster_id"]) != new_dest:
            by_dest.setdefault(new_dest, []).append(pid)
    n_kept = len(moved) - len(flagged)
    for dest, pids in sorted(by_dest.items()):
        if dest == UNASSIGNED:
            after = {"cluster_key": UNASSIGNED_KEY, "cluster_id": UNASSIGNED, "label": "unassigned"}
        else:
            r = new_rows.loc[dest]
            after = {"cluster_key": r["cluster_key"], "cluster_id": int(dest), "label": r["label"]}
        before = {
            p: {
                "cluster_key": new_a.at[p, "cluster_key"],
                "cluster_id": int(new_a.at[p, "cluster_id"]),
            }
            for p in pids
        }
        decisions.append(NewDecision("move", {"paper_ids": pids}, after, before, note))
    if decisions:
        store.append_many(new.run_id, decisions, reviewer=reviewer, base_version=0)
    return CarryOverReport(
        previous.run_id, new.run_id, tuple(matches), gone, n_kept, tuple(flagged), len(decisions)
    )


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
    calls after publishing). Never raises for an unreadable previous run or store: the report
    says why nothing carried."""
    from pipeline.contract import ContractError, read_run

    path = Path(store_path) if store_path else default_store_path(runs_dir)
    if not path.is_file():
        return CarryOverReport(previous_run_id, new_run_id, skipped=f"no review store yet ({path})")
    try:
        previous = read_run(runs_dir, previous_run_id)
        new = read_run(runs_dir, new_run_id)
        return carry_over(ReviewStore(path), previous, new)
    except (ContractError, sqlite3.Error, ReviewError) as exc:
        return CarryOverReport(previous_run_id, new_run_id, skipped=f"not carried: {exc}")
