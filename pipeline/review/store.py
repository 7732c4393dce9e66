"""The decision log on disk: one SQLite file (WAL, synchronous=FULL) kept outside the run
folders, append-only, with a version per run for optimistic concurrency. Reads and writes
`Decision` records; knows nothing about runs or clusters beyond the shape of a run id.

Damage is contained: a file that is not a healthy review store is never written to; it raises
`StoreUnreadable`. A store that can be read but not written (read-only file or folder) opens for
reading with `is_writable` false, and a write raises `StoreNotWritable`. No sqlite3 error leaves
this module.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.contract import ContractError, check_run_id
from pipeline.review.errors import (
    ReviewError,
    StaleStateError,
    StoreNotWritable,
    StoreUnreadable,
)
from pipeline.review.vocabulary import (
    DECISION_FIELDS,
    Decision,
    NewDecision,
    check_decision,
    from_json,
    log_frame,
    to_json,
)

DEFAULT_STORE = Path("data/review.sqlite")
# Run on every writable open: CREATE ... IF NOT EXISTS also brings older stores up to date.
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
CREATE TRIGGER IF NOT EXISTS decisions_no_overwrite BEFORE INSERT ON decisions
WHEN EXISTS (SELECT 1 FROM decisions WHERE decision_id = NEW.decision_id
             OR (run_id = NEW.run_id AND seq = NEW.seq))
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only: that decision exists'); END;
CREATE TRIGGER IF NOT EXISTS decisions_typed BEFORE INSERT ON decisions
WHEN typeof(NEW.seq) != 'integer' OR typeof(NEW.base_version) != 'integer'
BEGIN SELECT RAISE(ABORT, 'seq and base_version must be integers'); END;
"""
_SELECT = (
    "SELECT decision_id, run_id, CAST(seq AS INTEGER), time, reviewer, action, target, before, "
    "after, note, CAST(base_version AS INTEGER) FROM decisions"
)


def default_store_path(runs_dir: str | Path | None = None) -> Path:
    """Where the review store lives: `review.sqlite` beside the runs folder (data/ by default)."""
    if runs_dir is None:
        return DEFAULT_STORE
    return Path(runs_dir).resolve().parent / "review.sqlite"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _text(raw: bytes) -> str:
    """Text cells are decoded leniently: one damaged cell must not make the whole log unreadable
    (its decision then fails to parse and replay skips it)."""
    return raw.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class _Access:
    """How the store file is opened: its SQLite URI, and why it cannot take writes ("" if it
    can). `uri` is None when there is no store file and none could be created (reads are
    empty)."""

    uri: str | None
    read_only_reason: str = ""


class ReviewStore:
    """The decision log in one SQLite file (WAL, synchronous=FULL).

    The constructor only stores settings; the file is opened and checked on first use (or at
    once with `ReviewStore.open`). A decision is acknowledged only after its transaction
    committed with a full sync, so a killed process loses nothing that was acknowledged. Each
    call opens its own connection, so one store object may be shared by threads (Streamlit
    sessions) and each process opens its own. Writes use `BEGIN IMMEDIATE`: the integrity
    check, the version check and the insert happen under the write lock, which makes optimistic
    concurrency exact (no lost and no duplicated decision).
    """

    def __init__(self, path: str | Path = DEFAULT_STORE, timeout_s: float = 30.0):
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._access: _Access | None = None

    @classmethod
    def open(cls, path: str | Path = DEFAULT_STORE, timeout_s: float = 30.0) -> ReviewStore:
        """Open and check the store now: an empty store is created when there is none (and the
        folder allows it). Raises StoreUnreadable when the file is not a healthy review store."""
        store = cls(path, timeout_s)
        store._opened()
        return store

    @property
    def is_writable(self) -> bool:
        """Whether decisions can be saved (False: read-only file, folder or disk)."""
        return not self._opened().read_only_reason

    @property
    def read_only_reason(self) -> str:
        """Why decisions cannot be saved, in words ("" when they can)."""
        return self._opened().read_only_reason

    # -- opening -------------------------------------------------------------------------

    def _opened(self, refresh: bool = False) -> _Access:
        with self._lock:
            stale = self._access is None or refresh
            if not stale and self._access.uri is None and self.path.exists():
                stale = True  # someone created the store since
            if stale:
                self._access = self._open()
            return self._access

    def _open(self) -> _Access:
        uri = self.path.absolute().as_uri()
        if not self.path.exists():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._initialise(uri)
            except (OSError, sqlite3.Error) as exc:
                return _Access(None, f"there is no store and it cannot be created ({exc})")
            return _Access(uri)
        if self.path.is_dir():
            raise StoreUnreadable(self.path, "it is a folder")
        read_uri = self._check_readable(uri)
        try:
            self._initialise(uri)
        except sqlite3.Error as exc:
            return _Access(read_uri, _write_problem(exc))
        return _Access(uri)

    def _check_readable(self, uri: str) -> str:
        """The URI that reads the file without writing to it, after checking it is a healthy
        review store (or an empty database). A read-only folder lets WAL create no -shm file:
        then the file is read as immutable."""
        problem = "it cannot be opened"
        for params in ("?mode=ro", "?mode=ro&immutable=1"):
            try:
                with closing(self._connect(uri + params)) as conn:
                    _check_store(conn)
                return uri + params
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise self._busy() from None
                problem = _read_problem(exc)
                if "unable to open" not in str(exc) and "readonly" not in str(exc):
                    break
            except sqlite3.DatabaseError as exc:
                problem = _read_problem(exc)
                break
            except _NotAStore as exc:
                problem = str(exc)
                break
        raise StoreUnreadable(self.path, problem)

    def _initialise(self, uri: str) -> None:
        """Make the file a WAL store with the current schema, and prove it takes writes (a
        rolled-back write: a read-only file otherwise opens without complaint)."""
        with closing(self._connect(uri)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                conn.execute(f"PRAGMA user_version = {int(version)}")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    def _connect(self, uri: str) -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=self.timeout_s, isolation_level=None)
        conn.text_factory = _text
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
        return conn

    def _read(self, query: str, args: tuple = ()) -> list[tuple]:
        access = self._opened()
        if access.uri is None:
            return []
        try:
            with closing(self._connect(access.uri)) as conn:
                return conn.execute(query, args).fetchall()
        except sqlite3.Error as exc:
            if _is_busy(exc):
                raise self._busy() from None
            raise StoreUnreadable(self.path, _read_problem(exc)) from None

    def _busy(self) -> ReviewError:
        return ReviewError(
            f"the review store {self.path} is busy (locked by another process for more than "
            f"{self.timeout_s:g} s); try again"
        )

    # -- reading -------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The SQLite settings every connection of this store runs with: `journal_mode` ("wal")
        and `synchronous` (2 = FULL: a commit returns only once it is on disk)."""
        return {
            name: rows[0][0]
            for name in ("journal_mode", "synchronous")
            if (rows := self._read(f"PRAGMA {name}"))
        }

    def version(self, run_id: str) -> int:
        """The run's review version: the number of decisions logged for it (0 = none)."""
        rows = self._read(
            "SELECT MAX(CAST(seq AS INTEGER)) FROM decisions WHERE run_id = ?", (run_id,)
        )
        return int(rows[0][0] or 0) if rows else 0

    def answers_version(self) -> int:
        """Identifies the theme answers of every run: the id of the latest theme answer or undo
        in the store (0 = none). Answers apply across runs, so a run's reviewed state depends on
        this as well as on its own version."""
        rows = self._read(
            "SELECT MAX(decision_id) FROM decisions WHERE action IN ('theme_answer', 'undo')"
        )
        return int(rows[0][0] or 0) if rows else 0

    def decisions(self, run_id: str | None = None) -> list[Decision]:
        """Every decision of one run (or of all runs), oldest first. A field that is not valid
        JSON comes back as text; replay skips such a decision."""
        query, args = _SELECT, ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (run_id,)
        rows = self._read(query + " ORDER BY run_id, 3", args)
        return [
            Decision(*r[:6], from_json(r[6]), from_json(r[7]), from_json(r[8]), r[9] or "", r[10])
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
        return [r[0] for r in self._read("SELECT DISTINCT run_id FROM decisions ORDER BY 1")]

    # -- writing -------------------------------------------------------------------------

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
        """Log several decisions in one transaction (all or none), made on `base_version`.

        Each decision is checked against its action's schema first (InvalidDecision); a store
        that is read-only or fails its integrity check refuses the write (StoreNotWritable).
        """
        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise ReviewError("a reviewer name is required")
        try:
            check_run_id(run_id)
        except ContractError as exc:
            raise ReviewError(f"decision refused: {exc}") from None
        for new in decisions:
            check_decision(new)
        access = self._opened()
        if access.read_only_reason:
            access = self._opened(refresh=True)  # it may have been fixed since
            if access.read_only_reason:
                raise StoreNotWritable(self.path, access.read_only_reason)
        try:
            with closing(self._connect(access.uri)) as conn:
                return self._insert(conn, run_id, decisions, reviewer, base_version)
        except sqlite3.Error as exc:
            if _is_busy(exc):
                raise self._busy() from None
            raise StoreNotWritable(self.path, _write_problem(exc)) from None

    def _insert(
        self,
        conn: sqlite3.Connection,
        run_id: str,
        decisions: Sequence[NewDecision],
        reviewer: str,
        base_version: int,
    ) -> list[Decision]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            problem = _integrity_problem(conn)
            if problem:
                raise StoreNotWritable(self.path, f"it fails its integrity check ({problem})")
            current = int(
                conn.execute(
                    "SELECT MAX(CAST(seq AS INTEGER)) FROM decisions WHERE run_id = ?", (run_id,)
                ).fetchone()[0]
                or 0
            )
            if current != base_version:
                raise StaleStateError(run_id, base_version, current)
            stored = []
            for offset, new in enumerate(decisions):
                seq = current + offset + 1
                row = (run_id, seq, _now(), reviewer, new.action)
                fields = (to_json(new.target), to_json(new.before), to_json(new.after))
                cursor = conn.execute(
                    f"INSERT INTO decisions ({', '.join(DECISION_FIELDS[1:])}) VALUES "
                    "(?,?,?,?,?,?,?,?,?,?)",
                    (*row, *fields, new.note or "", seq - 1),
                )
                stored.append(
                    Decision(
                        cursor.lastrowid,
                        *row,
                        new.target,
                        new.before,
                        new.after,
                        new.note or "",
                        seq - 1,
                    )
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return stored


class _NotAStore(Exception):
    """A readable SQLite database that is not a review store (its reason is the message)."""


def _check_store(conn: sqlite3.Connection) -> None:
    """Raise when an opened file is not a healthy review store: it must pass SQLite's quick
    check, hold a `decisions` table with every column (or no table at all: a new store), and
    every row must read."""
    problem = _integrity_problem(conn)
    if problem:
        raise _NotAStore(f"it fails its integrity check: {problem}")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return
    if "decisions" not in tables:
        names = ", ".join(sorted(tables)[:5])
        raise _NotAStore(f"it is an SQLite database without a decision log (tables: {names})")
    columns = {r[1] for r in conn.execute("PRAGMA table_info(decisions)")}
    missing = [c for c in DECISION_FIELDS if c not in columns]
    if missing:
        raise _NotAStore(f"its decisions table lacks {', '.join(missing)}")
    for _ in conn.execute(_SELECT):  # every row decodes (one at a time: a log can be large)
        pass


def _integrity_problem(conn: sqlite3.Connection) -> str:
    """SQLite's quick check in one short line ("" when the file is sound)."""
    found = [r[0] for r in conn.execute("PRAGMA quick_check(2)")]
    if found == ["ok"]:
        return ""
    lines = [x for f in found for x in f.splitlines() if x and not x.startswith("***")]
    text = "; ".join(lines)
    return text if len(text) <= 120 else text[:117] + "..."


def _is_busy(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _read_problem(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "not a database" in text:
        return "it is not an SQLite database"
    if "malformed" in text or "disk I/O" in text or "corrupt" in text:
        return f"it is damaged or truncated: {text}"
    return text


def _write_problem(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "readonly" in text or "unable to open" in text or "read-only" in text:
        return f"the file or its folder is read-only ({text})"
    if "full" in text:
        return f"the disk is full ({text})"
    return text
