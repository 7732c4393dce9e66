"""Theme triage in the browser's Review and Presenter pages (AppTest): the paper the model is
least sure about, answered with one click, undone, and the new theme on the Map and Timelines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import state as S
from pipeline import contract, review
from tests.dashboard.apptest_helpers import APP, open_page, trace_array, use_small_run

REVIEW, PRESENTER = "app_pages/review.py", "app_pages/presenter.py"


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    return use_small_run(tmp_path / "runs", monkeypatch)


def _state(runs: Path) -> review.ReviewState:
    return review.load_state(
        review.ReviewStore(review.default_store_path(runs)), contract.read_run(runs, "r1")
    )


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _paper_on_screen(at: AppTest, runs: Path) -> str:
    titles = {h.value.replace("\\", "") for h in at.subheader} | {h.value for h in at.header}
    papers = contract.read_run(runs, "r1").papers
    match = papers[papers["title"].isin(titles)]
    assert len(match) == 1, titles
    return match["paper_id"].iloc[0]


def test_answer_undo_and_the_new_theme_on_map_and_timelines(runs):
    """Answering the paper on screen logs a theme answer with the model's guess, shows the
    next paper, and the Map and Timelines show the answered theme; undo takes it back."""
    at = open_page(REVIEW, reviewer="Ada", mode="triage")
    assert any("Theme accuracy" in m.value for m in at.markdown)
    paper = _paper_on_screen(at, runs)
    before = _state(runs).assignments.set_index("paper_id").loc[paper, "theme_id"]
    target = "control" if before != "control" else "pretraining-data"
    at.button(key=S.keyed(S.TRIAGE_ANSWER, target)).click().run()
    _ok(at)
    assert any("Saved" in s.value for s in at.success)
    state = _state(runs)
    assert state.assignments.set_index("paper_id").loc[paper, "theme_id"] == target
    decision = state.log.iloc[-1]
    assert (
        decision["action"] == "theme_answer"
        and json.loads(decision["before"])["theme_id"] == before
    )
    assert _paper_on_screen(at, runs) != paper  # the next paper is on screen

    map_page = AppTest.from_file(APP, default_timeout=60)
    map_page.switch_page("app_pages/map.py")
    map_page.run()
    _ok(map_page)
    fig = json.loads(map_page.get("plotly_chart")[0].proto.spec)
    row = contract.read_run(runs, "r1").papers["paper_id"].tolist().index(paper)
    names = dict(
        zip(state.tables["themes"]["theme_id"], state.tables["themes"]["name"], strict=True)
    )
    in_trace = [
        t["name"] for t in fig["data"] if row in trace_array(t.get("customdata", [])).ravel()
    ]
    assert names[target] in " ".join(in_trace)

    timelines = open_page("app_pages/timelines.py", period="year")
    spec = json.loads(timelines.get("plotly_chart")[0].proto.spec)
    drawn = {t["name"]: trace_array(t["y"]).sum() for t in spec["data"] if "stackgroup" not in t}
    counts = state.assignments["theme_id"].value_counts()
    dated = contract.read_run(runs, "r1").papers["published"].notna().to_numpy()
    dated_counts = state.assignments[dated]["theme_id"].value_counts()
    assert drawn[names[target]] == dated_counts[target]
    assert counts.sum() == len(state.assignments)

    at.button(key=S.TRIAGE_UNDO).click().run()
    _ok(at)
    assert _state(runs).assignments.set_index("paper_id").loc[paper, "theme_id"] == before


def test_skip_and_two_themes(runs):
    """Skip logs an empty answer and moves on; two themes give a theme and a secondary one."""
    at = open_page(REVIEW, reviewer="Ada", mode="triage")
    first = _paper_on_screen(at, runs)
    at.button(key=S.TRIAGE_SKIP).click().run()
    _ok(at)
    assert _state(runs).answers.latest[first].theme_ids == ()
    second = _paper_on_screen(at, runs)
    assert second != first
    pair_key = S.versioned(S.TRIAGE_PAIR, second, _state(runs).version)
    at.multiselect(key=pair_key).set_value(["control", "rl-post-training"]).run()
    at.button(key=S.TRIAGE_PAIR_GO).click().run()
    _ok(at)
    row = _state(runs).assignments.set_index("paper_id").loc[second]
    assert {row["theme_id"], row["secondary_theme_id"]} == {"control", "rl-post-training"}


def test_no_answer_without_a_reviewer_name(runs):
    """Without a reviewer name the answer buttons are disabled."""
    at = open_page(REVIEW, reviewer=None, mode="triage")
    assert at.button(key=S.keyed(S.TRIAGE_ANSWER, "control")).disabled


def test_presenter_triage_in_large_type(runs):
    """Presenter's triage view shows the paper as a header and answers like Review."""
    at = open_page(PRESENTER, reviewer="Ada", mode="triage")
    paper = _paper_on_screen(at, runs)
    at.button(key=S.keyed(S.TRIAGE_ANSWER, "other")).click().run()
    _ok(at)
    assert _state(runs).answers.latest[paper].theme_ids == ("other",)
