"""Help where people look for it: every page says what it shows under its title, every control
has a tooltip, and the Overview of an unreviewed run shows first steps (dismissible)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, LinkButton, PageLink, Widget

from dashboard import state
from tests.dashboard.apptest_helpers import APP, open_page
from tests.run_factory import make_run

PAGES_AND_PARAMS = [
    ("app_pages/overview.py", {}),
    ("app_pages/map.py", {"paper": "arxiv:2501.00003", "q": "study"}),
    ("app_pages/timelines.py", {"group": "control", "at": "2025-Q1"}),
    ("app_pages/clusters.py", {}),
    ("app_pages/clusters.py", {"cluster": "1"}),
    ("app_pages/review.py", {}),
    ("app_pages/presenter.py", {}),
    ("app_pages/compare.py", {}),
    ("app_pages/new_run.py", {}),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two runs, so the Compare page shows its controls."""
    folder = tmp_path_factory.mktemp("help_runs")
    make_run(folder, 60, seed=0, run_id="r1", n_clusters=5)
    make_run(folder, 60, seed=3, run_id="r2", n_clusters=4)
    return folder


@pytest.fixture
def app(runs, monkeypatch, tmp_path):
    monkeypatch.setenv("RTE_RUNS_DIR", str(runs))
    monkeypatch.setenv("RTE_REVIEW_DB", str(tmp_path / "review.sqlite"))


def _controls(node):
    """Every control under `node`: widgets, page links and link buttons."""
    if isinstance(node, Widget | PageLink | LinkButton):
        yield node
    if isinstance(node, Block):
        for child in node.children.values():
            yield from _controls(child)


def _missing_help(at: AppTest) -> list[str]:
    return [
        f"{type(c).__name__} {getattr(c, 'label', '')!r}"
        for root in (at.main, at.sidebar)
        for c in _controls(root)
        if not getattr(c.proto, "help", "").strip()
    ]


@pytest.mark.parametrize(("page", "params"), PAGES_AND_PARAMS)
def test_every_control_has_a_tooltip(app, page, params):
    """Each control of each page (sidebar included, in the states listed) has a help text."""
    reviewer = "Ada" if page in ("app_pages/review.py", "app_pages/presenter.py") else None
    at = open_page(page, reviewer=reviewer, **params)
    assert list(_controls(at.main)), "the page has controls"
    assert _missing_help(at) == []


def test_new_run_controls_in_every_mode_have_tooltips(app):
    """The New run page's folder mode and its themes upload have tooltips too."""
    at = open_page("app_pages/new_run.py")
    at.radio(key=state.NEW_RUN_SOURCE).set_value("folder").run()
    at.selectbox(key=state.NEW_RUN_THEMES).set_value("upload").run()
    assert at.file_uploader(key=state.NEW_RUN_THEMES_FILE)
    assert _missing_help(at) == []


@pytest.mark.parametrize("page", sorted({p for p, _ in PAGES_AND_PARAMS}))
def test_every_page_says_what_it_shows(app, page):
    """A caption of a sentence or two comes right after the page's title (Presenter, whose
    title is the cluster on screen, opens with it)."""
    at = open_page(page)
    kinds = [(type(el).__name__, getattr(el, "value", "")) for el in at.main]
    kinds = [k for k in kinds if k[0] in ("Title", "Caption", "Markdown")]
    first = next(i for i, (kind, _) in enumerate(kinds) if kind in ("Title", "Caption"))
    kind, text = kinds[first + 1] if kinds[first][0] == "Title" else kinds[first]
    assert kind == "Caption" and 60 <= len(text) <= 400, kinds[:4]


def test_first_steps_show_for_an_unreviewed_run_and_can_be_hidden(app):
    """The Overview of a run without review decisions shows first steps linking the pages;
    'Got it' hides them for the session."""
    at = open_page("app_pages/overview.py")
    links = {link.proto.page for link in at.get("page_link")}
    assert {"map", "clusters", "timelines", "review", "compare"} <= links
    at.button(key=state.FIRST_STEPS_HIDE).click().run()
    assert not any(b.key == state.FIRST_STEPS_HIDE for b in at.button)
    at.switch_page("app_pages/map.py").run()
    at.switch_page("app_pages/overview.py").run()
    assert not any(b.key == state.FIRST_STEPS_HIDE for b in at.button)


def test_first_steps_leave_once_the_run_is_reviewed(app, runs):
    """Once a decision is logged for the run, the Overview no longer shows first steps."""
    at = open_page("app_pages/review.py", reviewer="Ada")
    cluster_id = at.selectbox(key=state.REVIEW_CLUSTER).value
    next(t for t in at.text_area if t.label == "Add a note").input("Looks right").run()
    at.button(key=state.keyed(state.REVIEW_NOTE_GO, cluster_id)).click().run()
    assert not at.exception, [e.value for e in at.exception]
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not any(b.key == state.FIRST_STEPS_HIDE for b in at.button)
