"""The decision log on disk: one SQLite file (WAL, synchronous=FULL) kept outside the run
folders, append-only, with a version per run for optimistic concurrency. Reads and writes
`Decision` records; knows nothing about runs or clusters.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.review.errors import ReviewError, StaleStateError
from pipeline.review.vocabulary import ACTIONS, Decision, NewDecision, log_frame, to_json

DEFAULT_STORE = Path("data/review.sqlite")

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

    def settings(self) -> dict[str, Any]:
        """The SQLite settings every connection of this store runs with: `journal_mode` ("wal")
        and `synchronous` (2 = FULL: a commit returns only once it is on disk)."""
        with closing(self._connect()) as conn:
            return {
                "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
                "synchronous": conn.execute("PRAGMA synchronous").fetchone()[0],
            }

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
                        to_json(new.target),
                        to_json(new.before),
                        to_json(new.after),
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
