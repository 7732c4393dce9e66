"""AppTest checks of the Map page's selection: a box/lasso selection survives opening a paper
from it and can be stepped through (the click on a point is checked in the browser test)."""

from __future__ import annotations

import pytest

from dashboard import state
from tests.dashboard.apptest_helpers import open_page, use_small_run


@pytest.fixture
def small_run(tmp_path, monkeypatch):
    return use_small_run(tmp_path / "runs", monkeypatch)


def _selected(at) -> list[str]:
    return [s.value for s in at.main.subheader if "selected" in s.value]


def _with_selection(rows: list[int]):
    at = open_page("app_pages/map.py")
    at.session_state[state.MAP_SELECTION] = ("r1", rows)  # what a lasso leaves behind
    at.run()
    return at


def test_selection_survives_opening_papers_and_steps_through(small_run):
    """Next opens the selection's papers in turn, the selected list staying on the page;
    Previous wraps around to the last one."""
    rows = [3, 5, 8, 13]
    at = _with_selection(rows)
    assert _selected(at) == ["4 selected papers"]
    ids = [at.session_state[state.VIEW].papers["paper_id"].iloc[r] for r in rows]
    for expected in ids[:2]:
        at.button(key=state.MAP_NEXT).click().run()
        assert at.selectbox(key=state.widget_key(state.MAP_PAPER)).value == expected
        assert _selected(at) == ["4 selected papers"]
        assert any(f"Paper {ids.index(expected) + 1} of 4" in c.value for c in at.caption)
    at.button(key=state.MAP_PREV).click().run()
    at.button(key=state.MAP_PREV).click().run()
    assert at.selectbox(key=state.widget_key(state.MAP_PAPER)).value == ids[-1]
    assert _selected(at) == ["4 selected papers"]


def test_clear_selection_offers_the_filtered_papers_again(small_run):
    """'Clear selection' forgets the kept selection."""
    at = _with_selection([1, 2])
    at.button(key=state.MAP_CLEAR).click().run()
    assert _selected(at) == []
    assert len(at.selectbox(key=state.widget_key(state.MAP_PAPER)).options) == 60
