"""Exports: titled charts as PNG/SVG/HTML, and formula-safe CSV, BibTeX and Markdown lists."""

from __future__ import annotations

import io
import re
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


def _paper_rows(titles, authors=(), urls=None) -> pd.DataFrame:
    """A minimal paper frame with the columns the list exports read."""
    n = len(titles)
    return pd.DataFrame(
        {
            "paper_id": [f"title:{i:016x}" for i in range(n)],
            "title": list(titles),
            "authors": [list(authors)] * n,
            "published": [pd.Timestamp("2024-05-23")] * n,
            "url": list(urls) if urls is not None else [None] * n,
            "arxiv_id": [None] * n,
            "doi": [None] * n,
        }
    )


def test_bibtex_title_cannot_inject_a_field():
    """A title that closes its braces early (`a}}, author = {Mallory}, x = {{b`) stays one
    title: the entry has exactly the fields the export wrote."""
    title = "a}}, author = {Mallory}, x = {{b"
    db = bibtexparser.loads(exports.bibtex(_paper_rows([title])))
    (entry,) = db.entries
    assert set(entry) == {"ID", "ENTRYTYPE", "title", "date", "year", "month"}
    assert "Mallory" in entry["title"]


def test_bibtex_any_text_round_trips():
    """Random text full of LaTeX and BibTeX specials (braces, backslashes, $, %, #, ~, ^, _,
    ligatures, balanced and unbalanced math) parses back into one entry with the same fields,
    and reading the value as the ingest's BibTeX reader does gives the text unchanged."""
    import random
    import unicodedata

    from pipeline.ingest.latex import latex_to_text

    alphabet = list("ab Z09{}{}\\\\$$&%#_^~-`'?!\",=@()[].") + ["é", "ß", "Ω", "\\x", "$a$"]
    rng = random.Random(9)
    texts = [
        unicodedata.normalize(
            "NFC", "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        )
        for _ in range(300)
    ]
    texts = [t for t in texts if t.strip()]
    db = bibtexparser.loads(exports.bibtex(_paper_rows(texts)))
    assert len(db.entries) == len(texts)
    for text, entry in zip(texts, db.entries, strict=True):
        assert set(entry) == {"ID", "ENTRYTYPE", "title", "date", "year", "month"}
        assert " ".join(latex_to_text(entry["title"], is_bibtex=True).split()) == " ".join(
            text.split()
        ), (text, entry["title"])


def test_markdown_only_http_urls_become_links():
    """Only an http(s) URL becomes a link, percent-encoded so it cannot close the link; any
    other URL, or one that would break out of the link, is printed as escaped text."""
    urls = [
        "http://x> [c](javascript:alert(1))",
        "javascript:alert(1)",
        "https://example.org/p(1)<x>",
    ]
    text = exports.markdown_list(_paper_rows(["A", "B", "C"], urls=urls), "List")
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert "](" not in lines[0] and "](" not in lines[1]
    assert "javascript\\:alert\\(1\\)" in lines[1]
    assert "[C](<https://example.org/p%281%29%3Cx%3E>)" in lines[2]
    assert "(javascript:" not in text


def test_bibtex_month_is_a_month_macro():
    """BibTeX styles expect `month = aug`, not `month = {8}`."""
    text = exports.bibtex(_paper_rows(["A paper"]))
    assert re.search(r"month = may\b", text) and "month = {" not in text


def test_markdown_download_is_readable_and_has_abstracts(papers):
    """The Markdown file keeps ordinary punctuation as typed (no "pre\\-training\\:"), escapes
    only what would make markup, and carries each abstract under its paper."""
    rows = papers.head(1).assign(
        title="Pre-training at scale: a survey (v2).", abstract="We study *bold* claims."
    )
    text = exports.markdown_list(rows, "Reading list: data")
    assert "Pre-training at scale: a survey (v2)." in text
    assert "# Reading list: data" in text
    assert "  We study \\*bold\\* claims." in text


def test_html_export_fills_the_window():
    """The interactive HTML export is not stuck at the chart's on-page height (e.g. 320 px)."""
    fig = _fig()
    fig.update_layout(height=320)
    page = exports.figure_html(fig).decode()
    assert "95vh" in page and '"height":320' not in page.replace(" ", "")
