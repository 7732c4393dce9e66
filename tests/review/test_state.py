"""The reviewed state derived from the log: renames, themes, statuses, notes, merges, splits,
moves and undo, with invariants (every paper once, sizes add up) and visible markers."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from pipeline import contract, review
from tests.review_helpers import base_run


@pytest.fixture
def run(tmp_path) -> contract.Run:
    return base_run(tmp_path / "runs")


@pytest.fixture
def store(tmp_path) -> review.ReviewStore:
    return review.ReviewStore(tmp_path / "review.sqlite")


def _invariants(state: review.ReviewState, run: contract.Run) -> None:
    a, c = state.assignments, state.clusters
    assert a["paper_id"].tolist() == run.papers["paper_id"].tolist()  # every paper once, in order
    assert set(a["cluster_id"]) <= set(c["cluster_id"])
    assert c["cluster_id"].is_unique and c["cluster_key"].is_unique
    sizes = a.groupby("cluster_id").size()
    assert (c.set_index("cluster_id")["n_papers"].reindex(sizes.index) == sizes).all()
    assert c["n_papers"].sum() == len(a)
    assert state.tables["themes"]["n_papers"].sum() == len(a)
    themes = state.tables["themes"].set_index("theme_id")
    counted = a["theme_id"].value_counts().reindex(themes.index).fillna(0)
    assert (themes["n_papers"] == counted).all()


def test_empty_log_gives_the_run_with_markers(run, store):
    """Without decisions the reviewed tables equal the run's, with every marker false."""
    state = review.load_state(store, run)
    assert state.version == 0
    pd.testing.assert_frame_equal(
        state.clusters[list(run.clusters.columns)], run.clusters, check_dtype=False
    )
    assert not state.clusters["is_edited"].any() and not state.assignments["is_edited"].any()
    assert (state.clusters["status"] == "unreviewed").all()
    for name in ("papers", "themes"):
        pd.testing.assert_frame_equal(state.tables[name], run.tables[name])


def test_rename_status_theme_and_note(run, store):
    """Rename, status, theme and note show on the cluster; the theme reaches its papers."""
    s = review.load_state(store, run)
    review.rename(store, s, 0, "  Data   quality ", reviewer="ann")
    s = review.load_state(store, run)
    review.set_status(store, s, 0, "needs work", reviewer="ann")
    s = review.load_state(store, run)
    review.set_theme(store, s, 0, "control", reviewer="bob")
    s = review.load_state(store, run)
    review.add_note(store, s, 0, "check the <b>outliers</b>", reviewer="bob")
    s = review.load_state(store, run)
    row = s.cluster(0)
    assert (
        row["label"] == "Data quality"
        and row["original_label"] == run.clusters.set_index("cluster_id").at[0, "label"]
    )
    assert row["status"] == "needs work" and row["notes"] == ["check the <b>outliers</b>"]
    assert row["theme_id"] == "control" and row["theme_share"] == 1.0
    assert row["is_renamed"] and row["is_theme_set"] and row["is_edited"]
    members = s.assignments[s.assignments["cluster_id"] == 0]
    assert (members["theme_id"] == "control").all()
    assert members["is_theme_edited"].any()
    assert s.log["reviewer"].tolist() == ["ann", "ann", "bob", "bob"]
    _invariants(s, run)


@pytest.mark.parametrize(
    "bad",
    [
        lambda st, s: review.rename(st, s, 0, "   ", reviewer="a"),
        lambda st, s: review.set_status(st, s, 0, "maybe", reviewer="a"),
        lambda st, s: review.set_theme(st, s, 0, "no-such-theme", reviewer="a"),
        lambda st, s: review.rename(st, s, 99, "x", reviewer="a"),
        lambda st, s: review.merge(st, s, [0], reviewer="a"),
        lambda st, s: review.move(st, s, ["arxiv:nope"], 0, reviewer="a"),
    ],
)
def test_invalid_decisions_are_refused_and_not_logged(run, store, bad):
    """Empty names, unknown statuses, themes, clusters or papers raise ReviewError, log nothing."""
    with pytest.raises(review.ReviewError):
        bad(store, review.load_state(store, run))
    assert store.version(run.run_id) == 0


def test_merge_combines_clusters(run, store):
    """Merging keeps the smallest id, holds every paper of both and marks the result."""
    s = review.load_state(store, run)
    both = set(s.paper_ids(1)) | set(s.paper_ids(3))
    review.merge(store, s, [3, 1], reviewer="ann", label="Merged topic")
    s = review.load_state(store, run)
    assert 3 not in set(s.clusters["cluster_id"])
    assert set(s.paper_ids(1)) == both
    row = s.cluster(1)
    assert (
        row["label"] == "Merged topic" and row["is_merged"] and row["origin_cluster_ids"] == [1, 3]
    )
    assert not s.assignments["is_moved"].any()  # merged papers are not moved papers
    _invariants(s, run)


def test_merge_keeps_the_status_its_reviewed_parts_agree_on(run, store):
    """Merging an unreviewed cluster into an accepted one keeps it accepted; parts whose
    statuses disagree give an unreviewed result."""
    s = review.load_state(store, run)
    review.set_status(store, s, 1, "accepted", reviewer="ann")
    s = review.load_state(store, run)
    review.merge(store, s, [1, 3], reviewer="ann")
    s = review.load_state(store, run)
    assert s.cluster(1)["status"] == "accepted"
    review.set_status(store, s, 2, "rejected", reviewer="ann")
    s = review.load_state(store, run)
    review.merge(store, s, [1, 2], reviewer="ann")
    s = review.load_state(store, run)
    assert s.cluster(1)["status"] == "unreviewed"


def test_split_preview_then_accept(run, store):
    """A split preview is seeded and changes nothing; accepting it makes k marked clusters."""
    s = review.load_state(store, run)
    members = s.paper_ids(0)
    preview = review.preview_split(run, s, 0, k=2, seed=3)
    again = review.preview_split(run, s, 0, k=2, seed=3)
    assert preview.papers.equals(again.papers)
    assert store.version(run.run_id) == 0
    assert sorted(p for part in preview.parts for p in part["paper_ids"]) == sorted(members)
    review.accept_split(store, s, preview, reviewer="ann", labels=["First half", ""])
    s = review.load_state(store, run)
    ids = [part["cluster_id"] for part in preview.parts]
    assert ids[0] == 0 and ids[1] not in set(run.clusters["cluster_id"])
    split = s.clusters[s.clusters["cluster_id"].isin(ids)]
    assert split["is_split"].all() and split["n_papers"].sum() == len(members)
    assert s.cluster(0)["label"] == "First half"
    assert s.cluster(ids[1])["label"] == preview.parts[1]["label"]
    _invariants(s, run)


def test_split_recovers_planted_subclusters(tmp_path, store):
    """Splitting a merge of two planted clusters in two recovers them (ARI >= 0.9)."""
    run = base_run(tmp_path / "runs2", n_papers=80, n_clusters=4, run_id="planted")
    s = review.load_state(store, run)
    truth = {p: 0 for p in s.paper_ids(0)} | {p: 1 for p in s.paper_ids(2)}
    review.merge(store, s, [0, 2], reviewer="ann")
    s = review.load_state(store, run)
    preview = review.preview_split(run, s, 0, k=2)
    found = preview.papers.set_index("paper_id")["part"]
    assert adjusted_rand_score([truth[p] for p in found.index], found.to_numpy()) >= 0.9


def test_split_preview_goes_stale(run, store):
    """A preview made before another decision cannot be accepted."""
    s = review.load_state(store, run)
    preview = review.preview_split(run, s, 0, k=2)
    review.rename(store, s, 1, "meanwhile", reviewer="bob")
    with pytest.raises(review.StaleStateError):
        review.accept_split(store, review.load_state(store, run), preview, reviewer="ann")
    with pytest.raises(review.StaleStateError):
        review.accept_split(store, s, preview, reviewer="ann")


def test_move_papers_between_clusters_and_to_unassigned(run, store):
    """Moved papers land where they were moved, are marked, and sizes follow."""
    s = review.load_state(store, run)
    to_two, to_none = s.paper_ids(0)[:3], s.paper_ids(1)[:2]
    review.move(store, s, to_two, 2, reviewer="ann")
    s = review.load_state(store, run)
    review.move(store, s, to_none, contract.UNASSIGNED, reviewer="ann")
    s = review.load_state(store, run)
    a = s.assignments.set_index("paper_id")
    assert (a.loc[to_two, "cluster_id"] == 2).all() and (a.loc[to_none, "cluster_id"] == -1).all()
    assert a["is_moved"].sum() == 5 and a.loc[to_two + to_none, "is_moved"].all()
    assert s.cluster(0)["has_moves"] and s.cluster(2)["has_moves"]
    assert not set(to_two) & set(s.cluster(0)["representative_paper_ids"])
    _invariants(s, run)


def test_undo_restores_the_previous_state(run, store):
    """Undoing a merge and then a rename gives back the run's own clusters exactly."""
    s = review.load_state(store, run)
    review.rename(store, s, 2, "renamed", reviewer="ann")
    s = review.load_state(store, run)
    review.merge(store, s, [1, 2], reviewer="ann")
    s = review.load_state(store, run)
    review.undo(store, s, reviewer="bob")
    s = review.load_state(store, run)
    assert 2 in set(s.clusters["cluster_id"]) and s.cluster(2)["label"] == "renamed"
    review.undo(store, s, reviewer="bob")
    s = review.load_state(store, run)
    pd.testing.assert_frame_equal(
        s.clusters[list(run.clusters.columns)], run.clusters, check_dtype=False
    )
    assert s.log["is_undone"].tolist() == [True, True, False, False]
    with pytest.raises(review.ReviewError, match="nothing to undo"):
        review.undo(store, s, reviewer="bob")


def test_decisions_name_papers_not_just_cluster_numbers(run, store):
    """Every cluster decision records the cluster key and its member paper ids."""
    s = review.load_state(store, run)
    review.rename(store, s, 1, "x", reviewer="ann")
    decision = store.decisions(run.run_id)[0]
    assert decision.target["paper_ids"] == s.paper_ids(1)
    assert decision.target["cluster_key"] == review.cluster_key(s.paper_ids(1), "1")
