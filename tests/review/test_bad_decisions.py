"""Malformed decisions: `append` refuses them before writing; replay skips and reports old or
foreign rows it cannot apply instead of failing the whole review; decisions for a run that is not
in the runs folder are refused."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from pipeline import contract, review
from tests.review_helpers import base_run, write_variant

PERMUTATION = {0: 3, 1: 0, 2: 4, 3: 1, 4: 2}
CLUSTER = {"cluster_key": "k1", "cluster_id": 0, "label": "a", "paper_ids": ["p1"]}


@pytest.mark.parametrize(
    "action, target, after",
    [
        ("rename", CLUSTER, {}),
        ("rename", CLUSTER, {"label": "   "}),
        ("note", {"cluster_id": 0}, {"text": "no cluster key"}),
        ("set_status", CLUSTER, {"status": "maybe"}),
        ("set_theme", CLUSTER, {"theme_id": 7}),
        ("merge", {"clusters": [CLUSTER]}, {"cluster_key": "k2", "cluster_id": 0, "label": "m"}),
        ("split", CLUSTER, {"parts": "two halves", "k": 2, "seed": 0}),
        ("move", {"paper_ids": "p1"}, {"cluster_key": "k1", "cluster_id": 0, "label": "a"}),
        ("undo", {}, {}),
        ("note", ["not", "an", "object"], {"text": "x"}),
    ],
)
def test_append_refuses_a_decision_that_does_not_fit_its_action(tmp_path, action, target, after):
    """A decision whose target or payload misses or mistypes a field is refused, not stored."""
    store = review.ReviewStore.open(tmp_path / "review.sqlite")
    with pytest.raises(review.InvalidDecision, match=f"decision {action}"):
        store.append("run", action, target, after, reviewer="ann", base_version=0)
    assert store.version("run") == 0


def test_append_refuses_a_run_id_that_is_not_a_folder_name(tmp_path):
    """A run id with a path separator or `..` never reaches the log."""
    store = review.ReviewStore.open(tmp_path / "review.sqlite")
    for run_id in ("../etc", "a/b", ".hidden", ""):
        with pytest.raises(review.ReviewError, match="run id"):
            store.append(run_id, "note", CLUSTER, {"text": "x"}, reviewer="ann", base_version=0)
    assert store.runs() == []


def _insert_raw(path, run_id: str, rows: list[tuple[str, object, object]]) -> None:
    """Append rows as an older version or another program could have: no validation at all.
    Each row is (action, target, after); target/after that are str are stored as given."""
    with sqlite3.connect(path) as conn:
        start = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM decisions WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
        for offset, (action, target, after) in enumerate(rows):
            seq = start + offset + 1
            conn.execute(
                "INSERT INTO decisions (run_id, seq, time, reviewer, action, target, before, "
                "after, note, base_version) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    seq,
                    "2026-01-01T00:00:00+00:00",
                    "old-version",
                    action,
                    target if isinstance(target, str) else json.dumps(target),
                    "null",
                    after if isinstance(after, str) else json.dumps(after),
                    "",
                    seq - 1,
                ),
            )
    conn.close()


@pytest.fixture
def bad_rows(tmp_path):
    """A run whose log holds one good rename between five rows replay cannot apply."""
    runs = tmp_path / "runs"
    run = base_run(runs)
    path = tmp_path / "review.sqlite"
    store = review.ReviewStore.open(path)
    state = review.load_state(store, run)
    good = state.cluster_target(0)
    missing = {**good, "cluster_key": "kdoesnotexist"}
    _insert_raw(
        path,
        run.run_id,
        [
            ("rename", good, {}),  # no label: KeyError in replay before
            ("note", "{not json", {"text": "x"}),
            ("rename", good, {"label": "Good name"}),
            ("set_status", missing, {"status": "accepted"}),
            ("explode", good, {}),
            ("move", {"paper_ids": ["arxiv:nope"]}, state.move_destination(1)),
        ],
    )
    return runs, run, store


def test_replay_skips_and_reports_rows_it_cannot_apply(bad_rows):
    """The good decision is applied; each bad row is listed with its reason on the state."""
    _, run, store = bad_rows
    state = review.load_state(store, run)
    assert state.version == 6
    assert state.cluster(0)["label"] == "Good name"
    skipped = {s.seq: s for s in state.skipped}
    assert sorted(skipped) == [1, 2, 4, 5, 6]
    assert all(isinstance(s, review.SkippedDecision) and s.reason for s in state.skipped)
    assert "label" in skipped[1].reason and "JSON" in skipped[2].reason
    assert "kdoesnotexist" in skipped[4].reason and "explode" in skipped[5].reason
    assert "arxiv:nope" in skipped[6].reason
    assert not state.assignments["is_moved"].any()  # the bad move changed nothing
    assert len(state.log) == 6 and state.log["summary"].map(bool).all()


def test_bad_rows_do_not_block_new_decisions_or_undo(bad_rows):
    """Reviewers keep deciding on a run with bad rows; undo takes back the latest row."""
    _, run, store = bad_rows
    review.set_status(store, review.load_state(store, run), 0, "accepted", reviewer="ann")
    state = review.load_state(store, run)
    assert state.cluster(0)["status"] == "accepted" and len(state.skipped) == 5
    review.undo(store, state, reviewer="ann")
    assert review.load_state(store, run).cluster(0)["status"] == "unreviewed"


def test_bad_rows_do_not_block_carry_over(bad_rows):
    """Carry-over from a run whose log has bad rows carries the good decisions."""
    runs, run, store = bad_rows
    new = write_variant(runs, run, "seed2", permutation=PERMUTATION)
    report = review.carry_over(store, run, new)
    assert report.count("carried") == 1, report.to_text()
    assert review.load_state(store, new).cluster(PERMUTATION[0])["label"] == "Good name"


def test_decision_for_a_run_not_in_the_runs_folder_is_refused(tmp_path):
    """A run deleted after its state was read takes no more decisions."""
    runs = tmp_path / "runs"
    run = base_run(runs)
    store = review.ReviewStore.open(tmp_path / "review.sqlite")
    state = review.load_state(store, run)
    shutil.rmtree(runs / run.run_id)
    with pytest.raises(review.UnknownRun, match=run.run_id):
        review.rename(store, state, 0, "Too late", reviewer="ann")
    with pytest.raises(review.UnknownRun):
        review.move(store, state, state.paper_ids(0)[:1], contract.UNASSIGNED, reviewer="ann")
    assert store.version(run.run_id) == 0
