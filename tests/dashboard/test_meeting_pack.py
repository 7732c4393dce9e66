"""The meeting pack read back: HTML sections per cluster (offline, escaped), PPTX slides and
titles, decision-log CSV rows and formula-injection safety, and the CLI."""

from __future__ import annotations

import csv
import html
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pptx import Presentation

from dashboard import exports
from dashboard import meeting_pack as M
from pipeline import contract, review
from tests.review_helpers import base_run
from tests.run_factory import SCRIPT_TITLE

ROOT = Path(__file__).resolve().parents[2]
NASTY = '=HYPERLINK("http://evil") <img src=x onerror=alert(1)>'


@pytest.fixture
def reviewed(tmp_path):
    """A run with a hostile rename, a note, a status, a merge and an undone decision."""
    runs = tmp_path / "runs"
    run = base_run(runs)
    store = review.ReviewStore(review.default_store_path(runs))
    for step in (
        lambda s: review.rename(store, s, 0, NASTY, reviewer="@ann"),
        lambda s: review.add_note(store, s, 0, "-1+1 see <script>x</script>", reviewer="ann"),
        lambda s: review.set_status(store, s, 2, "accepted", reviewer="bob"),
        lambda s: review.merge(store, s, [3, 4], reviewer="bob"),
        lambda s: review.rename(store, s, 1, "oops", reviewer="bob"),
        lambda s: review.undo(store, s, reviewer="bob"),
    ):
        step(review.load_state(store, run))
    state = review.load_state(store, run)
    return runs, run, store, state


def _n_real(state: review.ReviewState) -> int:
    return int((state.clusters["cluster_id"] != contract.UNASSIGNED).sum())


def test_html_report_has_a_section_per_cluster_and_works_offline(reviewed, tmp_path):
    """A section per reviewed cluster, plotly.js inlined once, no external script, text escaped."""
    runs, run, store, state = reviewed
    pack = M.build_meeting_pack(run, state.tables, state.log, tmp_path / "out", images=False)
    page = pack.html.read_text(encoding="utf-8")
    sections = re.findall(r"<section class='cluster' id='cluster-(-?\d+)'>", page)
    expected = state.clusters.loc[state.clusters["cluster_id"] != -1, "cluster_id"]
    assert sorted(map(int, sections)) == sorted(expected.tolist())
    assert page.count("Plotly.newPlot") == 2 and page.count("window.PlotlyConfig") == 1
    assert not re.search(r"<script[^>]+src=", page)
    assert SCRIPT_TITLE not in page and html.escape(SCRIPT_TITLE) in page
    assert "<img src=x" not in page and "<script>x</script>" not in page
    assert "accepted" in page and "see &lt;script&gt;" in page
    for section in ("overview", "timelines", "map", "decisions"):
        assert f"id='{section}'" in page


def test_pptx_slides_and_titles(reviewed, tmp_path):
    """Title, timeline and map slides, then one slide per cluster titled with its label."""
    runs, run, store, state = reviewed
    pack = M.build_meeting_pack(run, state.tables, state.log, tmp_path / "out", images=False)
    deck = Presentation(str(pack.pptx))
    titles = [s.shapes.title.text for s in deck.slides]
    assert len(titles) == 3 + _n_real(state)
    assert titles[1:3] == ["Theme timeline", "Paper map"]
    assert sorted(titles[3:]) == sorted(M.cluster_order(state.clusters)["label"].tolist())
    assert NASTY in titles
    texts = "\n".join(
        sh.text_frame.text for s in deck.slides for sh in s.shapes if sh.has_text_frame
    )
    assert "chart image not rendered" in texts and "status: accepted" in texts


@pytest.mark.skipif(exports.chromium_path() is None, reason="Chromium is not installed")
def test_pptx_has_chart_images_with_chromium(reviewed, tmp_path):
    """With Chromium present, the timeline and map slides carry PNG pictures."""
    runs, run, store, state = reviewed
    pack = M.build_meeting_pack(run, state.tables, state.log, tmp_path / "out")
    assert pack.has_images
    deck = Presentation(str(pack.pptx))
    pictures = [sh for s in list(deck.slides)[1:3] for sh in s.shapes if sh.shape_type == 13]
    assert len(pictures) == 2


def test_decision_log_csv_rows_and_injection_safety(reviewed, tmp_path):
    """Every logged decision is one CSV row, and no cell starts with = + - or @."""
    runs, run, store, state = reviewed
    pack = M.build_meeting_pack(run, state.tables, state.log, tmp_path / "out", images=False)
    rows = list(csv.DictReader(io.StringIO(pack.decisions_csv.read_text(encoding="utf-8"))))
    assert [int(r["seq"]) for r in rows] == list(range(1, 7))
    assert [r["is_undone"] for r in rows] == ["False"] * 4 + ["True", "False"]
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())
    assert rows[0]["reviewer"] == "'@ann" and NASTY in rows[0]["summary"]


def test_cli_writes_the_pack(reviewed, tmp_path):
    """`python -m dashboard pack` writes the three files of the latest run."""
    runs, run, store, state = reviewed
    out = tmp_path / "pack"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dashboard",
            "pack",
            "--runs-dir",
            str(runs),
            "--out",
            str(out),
            "--no-images",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "base-decisions.csv",
        "base-meeting.html",
        "base-meeting.pptx",
    ]
    assert result.stdout.count("wrote ") == 3


def test_cli_unknown_run_is_one_line(tmp_path):
    """An unknown run prints one error line and exits 2, without a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "dashboard", "pack", "--runs-dir", str(tmp_path), "--run", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error:") and result.stderr.count("\n") == 1
