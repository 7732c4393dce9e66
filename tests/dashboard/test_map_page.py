"""AppTest checks of the Map page (a box/lasso selection survives opening a paper from it and
can be stepped through; the click on a point is checked in the browser test; an empty map says
why) and of Timelines leaving "other" out by default."""

from __future__ import annotations

import json

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


def test_empty_map_says_why(small_run):
    """A search nothing matches leaves a map of faint points and a line saying why."""
    at = open_page("app_pages/map.py", q="zzzz-no-paper-has-this")
    assert any("No paper matches the filters" in i.value for i in at.info)


def test_timelines_leave_other_out_by_default(small_run):
    """Timelines draw the named themes only, until "Show 'other'" is switched on."""
    at = open_page("app_pages/timelines.py")
    names = {t["name"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    assert "other" not in names and names
    at.toggle(key=state.widget_key(state.TL_OTHER)).set_value(True).run()
    names = {t["name"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    assert "other" in names
    assert at.query_params[state.TL_OTHER.name] in ("True", ["True"])
