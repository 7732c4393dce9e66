"""Exports: titled charts as PNG/SVG/HTML, and formula-safe CSV, BibTeX and Markdown lists."""

from __future__ import annotations

import io
import struct

import bibtexparser
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import exports, transforms
from pipeline import contract
from tests.run_factory import SCRIPT_TITLE, make_run


@pytest.fixture(scope="module")
def papers(tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("runs")
    make_run(folder, 12, seed=2)
    return transforms.paper_view(contract.read_run(folder).tables)


def _fig() -> go.Figure:
    return go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))


def test_csv_neutralises_formulas():
    """Text cells starting with =, +, -, @ (or tab/CR) are prefixed; numbers stay numbers."""
    frame = pd.DataFrame(
        {"text": ["=1+2", "+cmd", "-x", "@SUM(A1)", "\tz", "plain"], "n": [-1, 2, 3, 4, 5, 6]}
    )
    back = pd.read_csv(io.BytesIO(exports.safe_csv(frame)), keep_default_na=False)
    assert back["text"].tolist() == ["'=1+2", "'+cmd", "'-x", "'@SUM(A1)", "'\tz", "plain"]
    assert back["n"].tolist() == [-1, 2, 3, 4, 5, 6]


def test_csv_of_papers_keeps_rows(papers):
    """A paper table survives the CSV round trip row for row, unsafe title included."""
    table = transforms.paper_table(papers)
    back = pd.read_csv(io.BytesIO(exports.safe_csv(table)))
    assert back["paper_id"].tolist() == table["paper_id"].tolist()
    assert SCRIPT_TITLE in back["title"].tolist()


def test_bibtex_parses_back(papers):
    """The BibTeX export parses into one entry per paper with unique keys, titles and years."""
    text = exports.bibtex(papers)
    db = bibtexparser.loads(text)
    assert len(db.entries) == len(papers)
    assert len({e["ID"] for e in db.entries}) == len(papers)
    first = db.entries[0]
    assert "alert(1)" in first["title"] and first["year"] == str(papers["published"].iloc[0].year)
    assert first["eprint"] == papers["arxiv_id"].iloc[0]


def test_markdown_list_escapes_titles(papers):
    """The Markdown list links each paper and escapes its title."""
    text = exports.markdown_list(papers, "My cluster")
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(lines) == len(papers)
    assert "<script>" not in text and "**bold**" not in text
    assert "(<https://arxiv.org/abs/" in lines[0]


def test_titled_carries_title_and_filters():
    """Exported figures carry the chart title and the active filters as subtitle."""
    fig = exports.titled(_fig(), "Papers per theme", "themes: Control")
    layout = fig.to_dict()["layout"]
    assert layout["title"]["text"] == "Papers per theme"
    assert layout["title"]["subtitle"]["text"] == "themes: Control"
    assert "title" not in _fig().to_dict()["layout"]  # the original is untouched


def test_html_is_self_contained():
    """The HTML export embeds plotly.js and loads nothing from the network."""
    page = exports.figure_html(exports.titled(_fig(), "T", "all papers")).decode()
    assert "<html" in page and "Plotly.newPlot" in page
    assert 'src="http' not in page


@pytest.mark.skipif(exports.chromium_path() is None, reason="Chromium absent: PNG/SVG export off")
def test_png_is_slide_sized_and_svg_is_svg():
    """PNG export is 1600x900 at 2x scale (3200x1800 pixels); SVG export is an SVG document."""
    fig = exports.titled(_fig(), "T", "all papers")
    png = exports.figure_image(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (3200, 1800)
    svg = exports.figure_image(fig, "svg")
    assert svg.lstrip()[:4] == b"<svg"


def test_image_export_passes_settings_to_kaleido_not_the_environment(monkeypatch):
    """kaleido gets the Chromium path, format, size and scale as arguments; the process
    environment is unchanged afterwards."""
    import os

    import kaleido

    calls = []
    monkeypatch.setattr(exports, "chromium_path", lambda: "/opt/test/chromium")
    monkeypatch.setattr(
        kaleido, "calc_fig_sync", lambda fig, **kw: calls.append((fig, kw)) or b"image"
    )
    monkeypatch.setenv("BROWSER_PATH", "/elsewhere/chrome")
    before = dict(os.environ)
    assert exports.figure_image(_fig(), "png") == b"image"
    assert exports.figure_image(_fig(), "svg") == b"image"
    assert dict(os.environ) == before
    (fig, png), (_, svg) = calls
    assert fig["data"][0]["type"] == "bar"
    assert png["kopts"] == {"path": "/opt/test/chromium"}
    assert png["opts"] == {"format": "png", "width": 1600, "height": 900, "scale": 2}
    assert svg["opts"]["format"] == "svg" and svg["opts"]["scale"] == 1


def test_missing_chromium_explains_install(monkeypatch):
    """Without Chromium the image export raises the install hint instead of failing obscurely."""
    monkeypatch.setattr(exports, "chromium_path", lambda: None)
    with pytest.raises(RuntimeError, match="apt-get install -y chromium"):
        exports.figure_image(_fig(), "png")


def test_titled_export_ignores_the_apps_plotly_template(monkeypatch):
    """Inside the app Plotly's default template is Streamlit's, whose tight axes cut tick labels
    off exported images: the export copy names its own template and leaves room for the axes."""
    import plotly.io as pio

    monkeypatch.setattr(pio.templates, "default", "plotly_dark")
    fig = _fig()
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10})
    layout = exports.titled(fig, "Papers", "all papers").to_dict()["layout"]
    assert (
        layout["template"]["layout"]
        == pio.templates[exports.EXPORT_TEMPLATE].layout.to_plotly_json()
    )
    assert layout["margin"]["l"] >= 60 and layout["margin"]["b"] >= 50
    assert layout["yaxis"]["automargin"] is True
