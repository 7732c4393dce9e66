"""Every page under what a careless user leaves on disk (issue 9): a damaged review store, a
read-only store, a malformed decision in the log, a manifest that is not an object beside a good
run, papers dated from year 1000 to 9999, and reviewer or theme text made of markup. No page
raises; each says in words what is wrong, and the store file is never modified."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import state as S
from dashboard.__main__ import main as dashboard_main
from pipeline import contract, derive, review
from tests.dashboard.apptest_helpers import APP, PAGES, open_page, use_small_run
from tests.review_helpers import without_write_permission
from tests.run_factory import make_run

NOT_REVIEW = [p for p in PAGES if not p.endswith("review.py")]
BANNER = "review log unreadable: reviewed labels hidden; file kept untouched at"
RENAMED = "Renamed by Ada"
EVIL = "<img src=x onerror=alert(1)> **b** $x$"
# The markup of EVIL, unescaped: a raw tag, bold stars or a dollar sign with no backslash before.
RAW_MARKDOWN = re.compile(r"(?<!\\)<img|(?<![\\*])\*\*b|(?<!\\)\$x")


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    return use_small_run(tmp_path / "runs", monkeypatch)


def _store(runs: Path) -> Path:
    return review.default_store_path(runs)


def _rename_cluster_0(runs: Path, label: str = RENAMED) -> None:
    store = review.ReviewStore.open(_store(runs))
    state = review.load_state(store, contract.read_run(runs, "r1"))
    review.rename(store, state, 0, label, reviewer="Ada")


def _texts(at: AppTest) -> list[str]:
    """Every text the page shows through Markdown: headings, captions, messages, labels."""
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text"):
        out += [str(e.value) for e in at.get(kind)]
    for alert in (at.success, at.info, at.warning, at.error):
        out += [str(e.value) for e in alert]
    out += [str(b.label) for b in at.button] + [str(e.label) for e in at.expander]
    out += [str(link.label) for link in at.page_link]
    return out


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _has(at: AppTest, text: str) -> bool:
    return any(text in t for t in _texts(at))


# ------------------------------------------------------------------------------------------
# A damaged review store


@pytest.fixture
def damaged(runs) -> bytes:
    """A store that held a rename, then overwritten with text: what the pages must not show."""
    _rename_cluster_0(runs)
    _store(runs).write_bytes(b"my meeting notes, saved over the review log\n" * 200)
    return _store(runs).read_bytes()


@pytest.mark.parametrize("page", NOT_REVIEW)
def test_damaged_store_every_page_works_with_a_banner(runs, damaged, page):
    """With review.sqlite damaged, each page but Review renders the run with the banner naming
    the file, shows no reviewed label, and leaves the file's bytes as they were."""
    at = open_page(page)
    banners = [w.value for w in at.warning if BANNER in w.value]
    assert len(banners) == 1 and str(_store(runs)) in banners[0].replace("\\", "")
    assert not _has(at, RENAMED)
    assert _store(runs).read_bytes() == damaged


def test_damaged_store_presenter_disables_decisions(runs, damaged):
    """Presenter shows the run's clusters but takes no decision while the log is unreadable."""
    at = open_page("app_pages/presenter.py", reviewer="Ada")
    assert at.button(key=S.PRESENTER_STATUS["accepted"]).disabled
    assert at.button(key=S.PRESENTER_RENAME).disabled
    assert _store(runs).read_bytes() == damaged


def test_damaged_store_shows_the_runs_own_labels(runs, damaged):
    """The cluster picker lists the run's labels, not the reviewed ones the log held."""
    at = open_page("app_pages/clusters.py")
    labels = contract.read_run(runs, "r1").clusters.set_index("cluster_id")["label"]
    options = at.selectbox(key=S.widget_key(S.CLUSTER)).options
    assert any(labels[0] in o for o in options) and not any(RENAMED in o for o in options)


def test_damaged_store_review_page_says_what_to_do(runs, damaged):
    """Review explains the damage (move the file aside or restore a backup) and offers no
    decision controls; the file is untouched."""
    at = open_page("app_pages/review.py")
    text = " ".join(_texts(at)).replace("\\", "")
    assert BANNER in text and "move" in text and "backup" in text
    assert not [b for b in at.button if b.label in ("Rename", "Save status", "Undo last decision")]
    assert _store(runs).read_bytes() == damaged


def test_damaged_store_moved_aside_starts_a_new_log(runs, damaged):
    """Doing what Review says (moving the file aside) brings decisions back without a restart;
    the damaged file is kept where it was moved."""
    at = open_page("app_pages/review.py")
    aside = _store(runs).with_suffix(".sqlite.damaged")
    _store(runs).rename(aside)
    at.run()
    at.text_input(key=S.REVIEWER).input("Ada").run()
    assert not at.exception and not _has(at, BANNER)
    assert "Rename" in [b.label for b in at.button]
    assert aside.read_bytes() == damaged


def test_damaged_store_pack_builds_without_reviews(runs, damaged, tmp_path, capsys):
    """`python -m dashboard pack` on a damaged store writes the pack without reviews, says so
    on stdout and exits 0; the store keeps its bytes."""
    out = tmp_path / "pack"
    code = dashboard_main(
        ["pack", "--runs-dir", str(runs), "--out", str(out), "--store", str(_store(runs))]
        + ["--no-images"]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "without reviews" in printed.out and str(_store(runs)) in printed.out
    assert sorted(p.name for p in out.iterdir()) == [
        "r1-decisions.csv",
        "r1-meeting.html",
        "r1-meeting.pptx",
    ]
    assert RENAMED not in (out / "r1-meeting.html").read_text()
    assert _store(runs).read_bytes() == damaged


# ------------------------------------------------------------------------------------------
# A read-only store (file or folder): run in a process that obeys file modes

READ_ONLY_PAGES = """
    import json, os
    os.environ["RTE_RUNS_DIR"] = {runs!r}
    os.environ["RTE_REVIEW_DB"] = {store!r}
    from streamlit.testing.v1 import AppTest
    out = {{}}
    for page in {pages!r}:
        at = AppTest.from_file({app!r}, default_timeout=60)
        at.switch_page(page)
        at.run()
        if page.endswith(("review.py", "presenter.py")):
            at.text_input(key="review_reviewer").input("Ada").run()
        out[page] = {{
            "exception": [str(e.value) for e in at.exception],
            "info": [str(e.value) for e in at.info],
            "options": [o for s in at.selectbox for o in s.options],
            "enabled": [b.label for b in at.button if not b.disabled],
            "disabled": [b.label for b in at.button if b.disabled],
        }}
    print(json.dumps(out))
"""
DECISIONS = {"Rename", "Save status", "Set theme", "Add note", "Accepted", "Save name"}


@pytest.mark.parametrize("read_only", ["file", "folder"])
def test_read_only_store_pages_show_the_review_and_say_it_cannot_be_saved(runs, read_only):
    """A read-only store file, or a store in a read-only folder: every page renders the reviewed
    state, says decisions cannot be saved and why, and Review/Presenter disable their decision
    buttons; the file keeps its bytes."""
    _rename_cluster_0(runs)
    path = _store(runs)
    before = path.read_bytes()
    locked = path if read_only == "file" else path.parent
    old = locked.stat().st_mode & 0o777
    locked.chmod(0o444 if read_only == "file" else 0o555)
    try:
        code = READ_ONLY_PAGES.format(runs=str(runs), store=str(path), pages=PAGES, app=APP)
        out = without_write_permission(code, timeout_s=300)
    finally:
        locked.chmod(old)
    for page, seen in out.items():
        assert not seen["exception"], (page, seen["exception"])
        infos = [i.replace("\\", "") for i in seen["info"]]  # Markdown escapes removed
        notes = [i for i in infos if "decisions cannot be saved" in i.lower()]
        assert notes and "read-only" in notes[0], (page, seen["info"])
    assert any(RENAMED in o for o in out["app_pages/review.py"]["options"])
    for page in ("app_pages/review.py", "app_pages/presenter.py"):
        assert DECISIONS & set(out[page]["disabled"]), out[page]
        assert not DECISIONS & set(out[page]["enabled"]), out[page]
    assert path.read_bytes() == before


# ------------------------------------------------------------------------------------------
# A malformed decision in the log


def _insert_malformed(runs: Path) -> int:
    """A rename naming a cluster the run never had, written as another program could have;
    returns its decision id."""
    review.ReviewStore.open(_store(runs))  # a healthy, empty store
    with sqlite3.connect(_store(runs)) as conn:
        cursor = conn.execute(
            "INSERT INTO decisions (run_id, seq, time, reviewer, action, target, before, after, "
            "note, base_version) VALUES ('r1', 1, '2026-01-01T00:00:00+00:00', 'old-tool', "
            "'rename', ?, 'null', ?, '', 0)",
            (json.dumps({"cluster_key": "gone", "cluster_id": 99}), json.dumps({"label": "x"})),
        )
        decision_id = int(cursor.lastrowid)
    conn.close()
    return decision_id


def test_malformed_decision_is_listed_on_review(runs):
    """Review lists a decision replay could not apply (id, action, reason) in a warning and
    keeps working."""
    decision_id = _insert_malformed(runs)
    at = open_page("app_pages/review.py", reviewer="Ada")
    skipped = [w.value for w in at.warning if "could not be applied" in w.value]
    assert len(skipped) == 1
    assert f"#{decision_id}" in skipped[0] and "rename" in skipped[0]
    assert "Rename" in [b.label for b in at.button]


@pytest.mark.parametrize("page", NOT_REVIEW)
def test_malformed_decision_leaves_other_pages_alone(runs, page):
    """Other pages render with a malformed decision in the log and mention no skipped row."""
    _insert_malformed(runs)
    at = open_page(page)
    assert not [w for w in at.warning if "could not be applied" in w.value]
    assert not _has(at, BANNER)


# ------------------------------------------------------------------------------------------
# A manifest that is not an object (or is not JSON) beside a good run


@pytest.mark.parametrize("page", PAGES)
def test_unreadable_manifest_is_named_and_skipped(runs, page):
    """Folders whose manifest is `[]` or broken JSON are left out of the run picker and named
    in a sidebar caption; the good run shows."""
    for name, text in (("broken-list", "[]"), ("broken-json", "{not json")):
        (runs / name).mkdir()
        (runs / name / contract.MANIFEST).write_text(text)
    at = open_page(page)
    assert (
        at.sidebar.selectbox[0].options[0].startswith("r1")
        and len(at.sidebar.selectbox[0].options) == 1
    )
    named = " ".join(c.value for c in at.sidebar.caption).replace("\\", "")
    assert "broken-list" in named and "broken-json" in named


# ------------------------------------------------------------------------------------------
# Dates from year 1000 to 9999


@pytest.fixture
def far_dates(tmp_path, monkeypatch) -> Path:
    """60 papers: most in 2024-2025, one in year 1000, one on 9999-12-31, a few in between."""
    dates = [dt.date(2024, 1, 1) + dt.timedelta(days=11 * i) for i in range(60)]
    dates[1], dates[2], dates[3], dates[4] = (
        dt.date(1000, 1, 1),
        dt.date(9999, 12, 31),
        dt.date(1948, 6, 1),
        dt.date(2207, 3, 3),
    )
    return use_small_run(tmp_path / "runs", monkeypatch, dates=dates)


@pytest.mark.parametrize("page", PAGES)
def test_far_dates_every_page_renders(far_dates, page):
    """Papers dated 1000-01-01 and 9999-12-31 beside 2024-2025 papers: every page renders."""
    open_page(page, reviewer="Ada" if page.endswith(("review.py", "presenter.py")) else None)


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_far_dates_timelines_are_bounded_and_name_the_outliers(far_dates, period):
    """Timelines show only the periods where the papers are; a caption counts the papers
    before and after them; the chart shades sparse periods with at most two shapes."""
    at = open_page("app_pages/timelines.py", period=period)
    fig = _figures(at)[0]
    periods = {x for trace in fig["data"] if "x" in trace for x in trace["x"]}
    assert periods and all(p >= "2024" for p in periods) and all(p < "2026" for p in periods)
    assert len(fig["layout"].get("shapes", [])) <= 2
    caption = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "2 papers before" in caption and "2 papers after" in caption, caption


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_dates_spread_over_nine_millennia_render_bounded(tmp_path, monkeypatch, period):
    """Dates spread evenly from year 1000 to 9999 render at most MAX_PERIODS periods."""
    folder = tmp_path / "runs"
    days = (dt.date(9999, 12, 31) - dt.date(1000, 1, 1)).days
    dates = [dt.date(1000, 1, 1) + dt.timedelta(days=days * i // 199) for i in range(200)]
    make_run(folder, 200, seed=0, run_id="r1", dates=dates)
    monkeypatch.setenv("RTE_RUNS_DIR", str(folder))
    at = open_page("app_pages/timelines.py", period=period)
    fig = _figures(at)[0]
    periods = {x for trace in fig["data"] if "x" in trace for x in trace["x"]}
    assert 0 < len(periods) <= derive.MAX_PERIODS
    assert len(fig["layout"].get("shapes", [])) <= 2


# ------------------------------------------------------------------------------------------
# Markup in reviewer labels and theme names


@pytest.fixture
def evil(tmp_path, monkeypatch) -> Path:
    """A run whose first theme is named EVIL, with cluster 0 renamed to EVIL by a reviewer."""
    names = [EVIL, "Continual pretraining", "RL post-training", "Control"]
    folder = use_small_run(tmp_path / "runs", monkeypatch, theme_names=names)
    _rename_cluster_0(folder, EVIL)
    return folder


@pytest.mark.parametrize(
    "page, params",
    [
        ("app_pages/overview.py", {}),
        ("app_pages/map.py", {"color": "theme"}),
        ("app_pages/timelines.py", {"within": "pretraining-data"}),
        ("app_pages/clusters.py", {"cluster": "0"}),
        ("app_pages/clusters.py", {}),
        ("app_pages/review.py", {}),
        ("app_pages/presenter.py", {}),
    ],
)
def test_markup_in_labels_and_theme_names_is_shown_literally(evil, page, params):
    """A reviewer label and a theme name made of HTML, Markdown and LaTeX reach every heading,
    caption, message, button and chart legend escaped."""
    at = open_page(page, **params)
    shown = [t for t in _texts(at) if RAW_MARKDOWN.search(t)]
    assert not shown, shown
    for fig in _figures(at):
        assert "<img" not in json.dumps(fig), page


def test_saved_message_escapes_the_new_label(runs):
    """The message after a rename to a markup label shows it escaped."""
    at = open_page("app_pages/review.py", reviewer="Ada")
    at.text_input(key=S.versioned(S.REVIEW_LABEL, 0, 0)).input(EVIL)
    at.button(key=S.keyed(S.REVIEW_RENAME, 0)).click().run()
    assert not at.exception
    saved = [s.value for s in at.success]
    assert saved and "\\<img" in saved[0] and not RAW_MARKDOWN.search(saved[0]), saved
