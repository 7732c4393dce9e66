"""The review store: persistence, a killed writer, concurrent writers (threads and processes),
stale decisions, undo and the append-only log."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from pipeline import review

ROOT = Path(__file__).resolve().parents[2]
TARGET = {"cluster_key": "k1", "cluster_id": 0, "label": "a", "paper_ids": ["p1"]}


def _append_with_retry(
    store: review.ReviewStore, run_id: str, text: str, reviewer: str
) -> review.Decision:
    """Append a note the way a UI does: read the version, decide, retry when refused as stale."""
    while True:
        version = store.version(run_id)
        try:
            return store.append(
                run_id,
                "note",
                TARGET,
                {"text": text},
                reviewer=reviewer,
                base_version=version,
                note=text,
            )
        except review.StaleStateError:
            continue


def test_store_is_wal_with_full_sync(tmp_path):
    """The store file runs in WAL mode and every connection syncs fully on commit."""
    store = review.ReviewStore.open(tmp_path / "r.sqlite")
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.settings() == {"journal_mode": "wal", "synchronous": 2}  # 2 = FULL


def test_decisions_survive_reopening_the_store(tmp_path):
    """Decisions written by one store object are all read back, in order, by a fresh one."""
    path = tmp_path / "r.sqlite"
    first = review.ReviewStore(path)
    for i in range(5):
        first.append("run-a", "note", TARGET, {"text": f"n{i}"}, reviewer="ann", base_version=i)
    first.append("run-b", "rename", TARGET, {"label": "x"}, reviewer="bob", base_version=0)
    del first
    again = review.ReviewStore(path)
    assert again.version("run-a") == 5 and again.version("run-b") == 1
    assert [d.after["text"] for d in again.decisions("run-a")] == [f"n{i}" for i in range(5)]
    assert again.runs() == ["run-a", "run-b"]


def test_killed_writer_loses_nothing_acknowledged(tmp_path):
    """A writer process killed mid-stream loses none of the decisions it had acknowledged."""
    path = tmp_path / "r.sqlite"
    review.ReviewStore.open(path)
    script = textwrap.dedent(f"""
        import sys
        from pipeline import review
        store = review.ReviewStore({str(path)!r})
        i = 0
        while True:
            d = store.append("run", "note", {TARGET!r}, {{"text": str(i)}}, reviewer="w",
                             base_version=i)
            print(d.seq, d.after["text"], flush=True)
            i += 1
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    acknowledged = []
    for line in proc.stdout:
        acknowledged.append(tuple(line.split()))
        if len(acknowledged) >= 30:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = {(str(d.seq), d.after["text"]) for d in review.ReviewStore(path).decisions("run")}
    assert set(acknowledged) <= stored
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _check_complete(store: review.ReviewStore, run_id: str, expected_texts: set[str]) -> None:
    decisions = store.decisions(run_id)
    texts = [d.after["text"] for d in decisions]
    assert sorted(texts) == sorted(expected_texts)  # none lost, none duplicated
    assert [d.seq for d in decisions] == list(range(1, len(expected_texts) + 1))
    assert all(d.base_version == d.seq - 1 for d in decisions)


def test_concurrent_thread_writers_lose_and_duplicate_nothing(tmp_path):
    """Eight threads appending on shared state leave every decision exactly once, seqs 1..n."""
    store = review.ReviewStore(tmp_path / "r.sqlite")
    n_threads, n_each = 8, 12

    def work(w: int) -> None:
        for i in range(n_each):
            _append_with_retry(store, "run", f"t{w}-{i}", f"thread{w}")

    threads = [threading.Thread(target=work, args=(w,)) for w in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _check_complete(store, "run", {f"t{w}-{i}" for w in range(n_threads) for i in range(n_each)})


def test_concurrent_process_writers_lose_and_duplicate_nothing(tmp_path):
    """Four processes appending on shared state leave every decision exactly once, seqs 1..n."""
    path = tmp_path / "r.sqlite"
    review.ReviewStore.open(path)
    n_procs, n_each = 4, 10
    script = textwrap.dedent(f"""
        import sys
        from pipeline import review
        from tests.review.test_store import _append_with_retry
        store = review.ReviewStore({str(path)!r})
        w = sys.argv[1]
        for i in range({n_each}):
            _append_with_retry(store, "run", f"p{{w}}-{{i}}", f"proc{{w}}")
    """)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(w)], cwd=ROOT) for w in range(n_procs)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * n_procs
    _check_complete(
        review.ReviewStore(path),
        "run",
        {f"p{w}-{i}" for w in range(n_procs) for i in range(n_each)},
    )


def test_decision_on_stale_state_is_refused(tmp_path):
    """Two reviewers decide on the same version: the second is refused and nothing is stored."""
    store = review.ReviewStore(tmp_path / "r.sqlite")
    store.append("run", "rename", TARGET, {"label": "first"}, reviewer="ann", base_version=0)
    with pytest.raises(review.StaleStateError, match="refresh"):
        store.append("run", "rename", TARGET, {"label": "second"}, reviewer="bob", base_version=0)
    assert [d.after["label"] for d in store.decisions("run")] == ["first"]
    with pytest.raises(review.StaleStateError):  # a version from the future is stale too
        store.append("run", "note", TARGET, {"text": "x"}, reviewer="bob", base_version=5)


def test_versions_are_per_run(tmp_path):
    """A decision on one run does not make another run's state stale."""
    store = review.ReviewStore(tmp_path / "r.sqlite")
    store.append("a", "note", TARGET, {"text": "x"}, reviewer="ann", base_version=0)
    store.append("b", "note", TARGET, {"text": "y"}, reviewer="ann", base_version=0)
    assert store.version("a") == store.version("b") == 1


def test_append_many_is_all_or_nothing(tmp_path):
    """A batch with an invalid action stores none of its decisions."""
    store = review.ReviewStore(tmp_path / "r.sqlite")
    batch = [
        review.NewDecision("note", TARGET, {"text": "ok"}),
        review.NewDecision("explode", TARGET, {}),
    ]
    with pytest.raises(review.ReviewError, match="unknown action"):
        store.append_many("run", batch, reviewer="ann", base_version=0)
    assert store.version("run") == 0


def test_log_is_append_only(tmp_path):
    """The database itself refuses to update or delete a logged decision."""
    store = review.ReviewStore(tmp_path / "r.sqlite")
    store.append("run", "note", TARGET, {"text": "x"}, reviewer="ann", base_version=0)
    with sqlite3.connect(store.path) as conn:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE decisions SET reviewer = 'eve'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM decisions")


def test_reviewer_name_is_required(tmp_path):
    """A decision without a reviewer name is refused."""
    store = review.ReviewStore(tmp_path / "r.sqlite")
    with pytest.raises(review.ReviewError, match="reviewer"):
        store.append("run", "note", TARGET, {"text": "x"}, reviewer="  ", base_version=0)


def test_undo_takes_back_the_latest_decision_in_effect(tmp_path):
    """Undo pops decisions newest first; undone decisions stay in the log, marked."""
    store = review.ReviewStore(tmp_path / "r.sqlite")
    for i, label in enumerate(["a", "b", "c"]):
        store.append("run", "rename", TARGET, {"label": label}, reviewer="ann", base_version=i)
    for v, seq in ((3, 3), (4, 2)):  # undo "c", then "b"
        undone = {"decision_id": seq, "seq": seq, "action": "rename"}
        store.append("run", "undo", undone, {"summary": "undo"}, reviewer="ann", base_version=v)
    effective = review.effective_decisions(store.decisions("run"))
    assert [d.after["label"] for d in effective] == ["a"]
    log = store.log("run")
    assert log["is_undone"].tolist() == [False, True, True, False, False]
    assert list(log.columns) == list(review.LOG_COLUMNS)
    assert review.effective_decisions(log) == effective  # the frame replays like the list
