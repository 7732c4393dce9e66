"""Theme answers: logged as decisions keyed by paper id, applied to every run holding the paper
(the model refits), undoable, latest wins with disagreements listed, bad answers refused."""

from __future__ import annotations

import pytest

from pipeline import contract, review
from tests.review_helpers import base_run, write_variant


@pytest.fixture
def run(tmp_path) -> contract.Run:
    return base_run(tmp_path / "runs")


@pytest.fixture
def store(tmp_path) -> review.ReviewStore:
    return review.ReviewStore(tmp_path / "review.sqlite")


def _paper(run: contract.Run, theme: str) -> str:
    a = run.assignments
    return a.loc[a["theme_id"] == theme, "paper_id"].iloc[0]


def _theme(state: review.ReviewState, paper_id: str) -> str:
    a = state.assignments
    return a.loc[a["paper_id"] == paper_id, "theme_id"].iloc[0]


def test_an_answer_changes_the_paper_and_is_undoable(run, store):
    """Answering a paper's theme gives it that theme (marked answered and edited, counts
    follow); the log records the model's guess before; undo takes it back."""
    paper = _paper(run, "control")
    state = review.load_state(store, run)
    decision = review.answer_theme(store, state, paper, ["rl-post-training"], reviewer="ana")
    assert decision.before["theme_id"] == "control" and decision.after == {
        "theme_ids": ["rl-post-training"]
    }
    answered = review.load_state(store, run)
    row = answered.assignments.set_index("paper_id").loc[paper]
    assert row["theme_id"] == "rl-post-training" and row["is_answered"] and row["is_edited"]
    assert row["theme_probability"] > 0.9
    themes = answered.tables["themes"].set_index("theme_id")
    assert themes["n_papers"].sum() == len(run.papers)
    assert "theme of" in answered.log["summary"].iloc[-1]
    review.undo(store, answered, reviewer="ana")
    assert _theme(review.load_state(store, run), paper) == "control"


def test_answers_apply_to_a_rerun_with_added_papers(tmp_path, run, store):
    """An answer given on one run applies, by paper id, to a later run holding the paper, even
    with new papers and renumbered clusters."""
    paper = _paper(run, "control")
    review.answer_theme(store, review.load_state(store, run), paper, ["other"], reviewer="ana")
    later = write_variant(tmp_path / "runs", run, "later", permutation={0: 3, 3: 0}, n_added=5)
    state = review.load_state(store, later)
    assert _theme(state, paper) == "other"
    assert state.assignments.set_index("paper_id").loc[paper, "is_answered"]
    assert state.version == 0  # the later run's own log is still empty


def test_latest_answer_wins_and_disagreement_is_visible(run, store):
    """Two reviewers answering one paper differently: both logged, the latest applies, and the
    paper is listed as a disagreement with both answers."""
    paper = _paper(run, "control")
    review.answer_theme(store, review.load_state(store, run), paper, ["control"], reviewer="ana")
    review.answer_theme(store, review.load_state(store, run), paper, ["other"], reviewer="bo")
    state = review.load_state(store, run)
    assert _theme(state, paper) == "other"
    assert len(state.log) == 2
    disagreement = state.answers.disagreements[paper]
    assert [a.reviewer for a in disagreement] == ["ana", "bo"]


def test_two_themes_answer_and_skip(run, store):
    """An answer naming two themes gives a secondary theme; a skip is logged but changes
    nothing."""
    paper = _paper(run, "control")
    state = review.load_state(store, run)
    review.answer_theme(store, state, paper, ["control", "rl-post-training"], reviewer="ana")
    row = review.load_state(store, run).assignments.set_index("paper_id").loc[paper]
    assert {row["theme_id"], row["secondary_theme_id"]} == {"control", "rl-post-training"}
    other = _paper(run, "rl-post-training")
    review.answer_theme(store, review.load_state(store, run), other, [], reviewer="ana")
    after = review.load_state(store, run)
    assert _theme(after, other) == "rl-post-training"
    assert "skipped" in after.log["summary"].iloc[-1]


@pytest.mark.parametrize(
    "themes",
    [["no-such-theme"], ["control", "rl-post-training", "pretraining-data"], ["other", "control"]],
)
def test_bad_answers_are_refused(run, store, themes):
    """An unknown theme, three themes, or "other" with a theme is refused with a message."""
    state = review.load_state(store, run)
    with pytest.raises(review.ReviewError, match="one or two themes"):
        review.answer_theme(store, state, _paper(run, "control"), themes, reviewer="ana")
    assert review.load_state(store, run).version == 0


def test_answer_for_a_paper_not_in_the_run(tmp_path, run, store):
    """Answering a paper the run lacks is refused; an answer given in another run for a paper
    this run lacks is simply not used here."""
    with pytest.raises(review.ReviewError, match="not in run"):
        review.answer_theme(
            store, review.load_state(store, run), "arxiv:0000.00000", ["other"], reviewer="a"
        )
    later = write_variant(tmp_path / "runs", run, "later", n_added=3)
    added = later.papers["paper_id"].iloc[-1]
    review.answer_theme(store, review.load_state(store, later), added, ["other"], reviewer="a")
    state = review.load_state(store, run)  # the base run does not hold that paper
    assert added not in set(state.assignments["paper_id"])
    assert state.answers.latest[added].theme_ids == ("other",)


def test_cluster_theme_becomes_labels_of_its_papers(run, store):
    """Setting a cluster's theme labels every paper of the cluster with it."""
    state = review.load_state(store, run)
    cluster = int(run.clusters.loc[run.clusters["cluster_id"] >= 0, "cluster_id"].iloc[0])
    review.set_theme(store, state, cluster, "pretraining-data", reviewer="ana")
    after = review.load_state(store, run)
    members = after.assignments[after.assignments["cluster_id"] == cluster]
    assert (members["theme_id"] == "pretraining-data").all()
    assert after.clusters.set_index("cluster_id").loc[cluster, "theme_id"] == "pretraining-data"
