"""A damaged, truncated, foreign, read-only or overwritten review store: one clear ReviewError with
the path (never a raw sqlite3 error), reads where the file allows them, and the file untouched.
Every hostile file is written by the test itself."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from pipeline import review
from tests.review_helpers import without_write_permission

TARGET = {"cluster_key": "k1", "cluster_id": 0, "label": "a", "paper_ids": ["p1"]}
PAGE = 4096  # SQLite's default page size: page 1 is the header and schema, the log starts at 2


def _filled_store(path: Path, n: int = 60) -> bytes:
    """A healthy store with `n` long notes on run `run` (several pages); returns its bytes."""
    store = review.ReviewStore.open(path)
    for i in range(n):
        text = f"{i} " + "x" * 200
        store.append("run", "note", TARGET, {"text": text}, reviewer="ann", base_version=i)
    assert not Path(f"{path}-wal").exists()  # every connection closed: one self-contained file
    return path.read_bytes()


def _assert_unreadable(path: Path) -> None:
    """Opening, reading and writing each raise StoreUnreadable naming the path; file untouched."""
    before = path.read_bytes()
    with pytest.raises(review.StoreUnreadable, match="review log unreadable") as caught:
        review.ReviewStore.open(path)
    assert str(path) in str(caught.value) and caught.value.path == path
    lazy = review.ReviewStore(path)
    for call in (
        lambda: lazy.version("run"),
        lambda: lazy.decisions(),
        lambda: lazy.log("run"),
        lambda: lazy.append("run", "note", TARGET, {"text": "x"}, reviewer="a", base_version=0),
    ):
        with pytest.raises(review.StoreUnreadable):
            call()
    assert path.read_bytes() == before


def test_non_database_file_is_unreadable_and_untouched(tmp_path):
    """A text file saved as review.sqlite raises StoreUnreadable, not sqlite3.DatabaseError."""
    path = tmp_path / "review.sqlite"
    path.write_bytes(b"these are my meeting notes, not a database\n" * 100)
    _assert_unreadable(path)


def test_truncated_store_is_unreadable_and_untouched(tmp_path):
    """A store cut in half (a copy interrupted mid-way) raises StoreUnreadable."""
    path = tmp_path / "review.sqlite"
    whole = _filled_store(path)
    path.write_bytes(whole[: len(whole) // 2])
    _assert_unreadable(path)


def test_store_with_corrupted_bytes_is_unreadable_and_untouched(tmp_path):
    """64 overwritten bytes in the log's pages fail the integrity check: no read, no write."""
    path = tmp_path / "review.sqlite"
    whole = bytearray(_filled_store(path))
    whole[2 * PAGE + 50 : 2 * PAGE + 114] = b"\xa5" * 64
    path.write_bytes(bytes(whole))
    _assert_unreadable(path)


def test_store_damaged_after_opening_refuses_writes(tmp_path):
    """A store opened healthy and damaged later refuses the next write and keeps its bytes."""
    path = tmp_path / "review.sqlite"
    store = review.ReviewStore.open(path)
    whole = bytearray(_filled_store(path))
    assert store.is_writable
    whole[2 * PAGE + 50 : 2 * PAGE + 114] = b"\xa5" * 64
    path.write_bytes(bytes(whole))
    with pytest.raises(review.ReviewError, match="integrity check") as caught:
        store.append("run", "note", TARGET, {"text": "late"}, reviewer="ann", base_version=60)
    assert not isinstance(caught.value, review.StaleStateError)
    assert path.read_bytes() == bytes(whole)


def test_foreign_sqlite_database_is_unreadable_and_untouched(tmp_path):
    """Another program's SQLite file at the store's path is not taken over."""
    path = tmp_path / "review.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE bookmarks (url TEXT)")
        conn.execute("INSERT INTO bookmarks VALUES ('https://arxiv.org')")
    conn.close()
    _assert_unreadable(path)


READ_THEN_WRITE = """
    import json, sqlite3
    from pipeline import review
    store = review.ReviewStore.open({path!r})
    out = {{"is_writable": store.is_writable, "n": len(store.decisions("run")),
           "version": store.version("run")}}
    try:
        store.append("run", "note", {target!r}, {{"text": "x"}}, reviewer="ann",
                     base_version=out["version"])
        out["append"] = "saved"
    except review.StoreNotWritable as exc:
        out["append"] = "StoreNotWritable: " + str(exc)
    except (review.ReviewError, sqlite3.Error) as exc:
        out["append"] = type(exc).__name__ + ": " + str(exc)
    print(json.dumps(out))
"""


def _read_then_write_with(path: Path, read_only: Path, mode: int) -> dict:
    """READ_THEN_WRITE on the store at `path` while `read_only` (the file or its folder) has
    `mode`; the old mode comes back afterwards."""
    old = read_only.stat().st_mode & 0o777
    read_only.chmod(mode)
    try:
        return without_write_permission(READ_THEN_WRITE.format(path=str(path), target=TARGET))
    finally:
        read_only.chmod(old)


def _assert_read_only(out: dict, path: Path, before: bytes) -> None:
    """The store was read whole, said it cannot save, refused the write readably, kept its bytes."""
    assert out["is_writable"] is False and out["n"] == out["version"] == 5
    assert out["append"].startswith("StoreNotWritable: decisions cannot be saved"), out
    assert "read-only" in out["append"] and str(path) in out["append"]
    assert path.read_bytes() == before


def test_read_only_store_file_opens_for_reading(tmp_path):
    """A read-only store file is read, says it cannot save, and a write is a readable error."""
    path = tmp_path / "review.sqlite"
    whole = _filled_store(path, n=5)
    _assert_read_only(_read_then_write_with(path, path, 0o444), path, whole)


def test_store_in_read_only_folder_opens_for_reading(tmp_path):
    """In a read-only folder (WAL cannot create its -shm file) the store is still read."""
    folder = tmp_path / "shared"
    folder.mkdir()
    path = folder / "review.sqlite"
    whole = _filled_store(path, n=5)
    assert not Path(f"{path}-shm").exists()
    _assert_read_only(_read_then_write_with(path, folder, 0o555), path, whole)
    assert sorted(p.name for p in folder.iterdir()) == ["review.sqlite"]


def _raw_row(decision_id: int | None, seq: int, text: str) -> tuple:
    target = json.dumps(TARGET)
    return (decision_id, "run", seq, "2026-01-01T00:00:00+00:00", "eve", "note", target, "null",
            json.dumps({"text": text}), text, seq - 1)  # fmt: skip


def test_insert_or_replace_cannot_rewrite_a_decision(tmp_path):
    """INSERT OR REPLACE on an existing decision id or (run, seq) is refused by the database."""
    path = tmp_path / "review.sqlite"
    store = review.ReviewStore.open(path)
    for i in range(2):
        store.append("run", "note", TARGET, {"text": f"n{i}"}, reviewer="ann", base_version=i)
    insert = "INSERT OR REPLACE INTO decisions VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    with sqlite3.connect(path) as conn:
        for row in (_raw_row(1, 1, "rewritten"), _raw_row(None, 2, "rewritten")):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(insert, row)
    conn.close()
    assert [d.after["text"] for d in store.decisions("run")] == ["n0", "n1"]
    assert [d.decision_id for d in store.decisions("run")] == [1, 2]


def test_store_made_before_the_insert_trigger_gains_it(tmp_path):
    """A store written by an older version (update/delete triggers only) is protected too."""
    path = tmp_path / "review.sqlite"
    store = review.ReviewStore.open(path)
    store.append("run", "note", TARGET, {"text": "kept"}, reviewer="ann", base_version=0)
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]
        for name in names:
            if name not in ("decisions_no_update", "decisions_no_delete"):
                conn.execute(f"DROP TRIGGER {name}")
    conn.close()
    review.ReviewStore.open(path)
    with sqlite3.connect(path) as conn:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(
                "INSERT OR REPLACE INTO decisions VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                _raw_row(1, 1, "rewritten"),
            )
    conn.close()
    assert [d.after["text"] for d in store.decisions("run")] == ["kept"]
