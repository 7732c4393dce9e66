"""Files a user downloads: charts (PNG 1600x900 at 2x, SVG, self-contained HTML) and paper lists
(formula-injection-safe CSV, BibTeX, Markdown). Pure functions over figures and DataFrames.

PNG and SVG go through kaleido, which drives a Chromium; Debian's /usr/bin/chromium is used.
"""

from __future__ import annotations

import copy
import html
import re
import shutil
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from dashboard.transforms import escape_markdown

PNG_WIDTH, PNG_HEIGHT, PNG_SCALE = 1600, 900, 2
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = (
    "PNG and SVG export needs Chromium. Install it with "
    "`sudo apt-get install -y chromium chromium-driver` (or run `make browser`), "
    "then reload this page. HTML and CSV downloads work without it."
)
EXPORT_TEMPLATE = "plotly_white"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def chromium_path() -> str | None:
    """Path of the Chromium kaleido will use, or None when none is installed."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found


def titled(fig: go.Figure, title: str, subtitle: str) -> go.Figure:
    """A copy of `fig` carrying `title` and the active filters as subtitle (for slides).

    The copy gets its own template and margins: inside the app Plotly's default template is
    Streamlit's, whose tight axes cut the tick labels off a standalone image.
    """
    out = go.Figure(copy.deepcopy(fig))
    out.update_layout(
        title={
            "text": html.escape(title),
            "subtitle": {"text": html.escape(subtitle)},
            "x": 0.01,
            "xanchor": "left",
        },
        template=EXPORT_TEMPLATE,
        margin={"t": 90, "l": 80, "r": 40, "b": 70},
    )
    out.update_xaxes(automargin=True)
    out.update_yaxes(automargin=True)
    return out


def figure_image(fig: go.Figure, fmt: str) -> bytes:
    """PNG (1600x900, scale 2) or SVG bytes of `fig`; raises RuntimeError without Chromium.

    kaleido gets the Chromium path and the image settings as arguments: the process
    environment is left alone (and a BROWSER_PATH set there does not override the path)."""
    path = chromium_path()
    if path is None:
        raise RuntimeError(INSTALL_HINT)
    import kaleido  # loaded on the first export only

    opts = {
        "format": fmt,
        "width": PNG_WIDTH,
        "height": PNG_HEIGHT,
        "scale": PNG_SCALE if fmt == "png" else 1,
    }
    return kaleido.calc_fig_sync(fig.to_dict(), opts=opts, kopts={"path": path})


def figure_html(fig: go.Figure) -> bytes:
    """A self-contained interactive HTML page of `fig` (plotly.js inlined, works offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")


def neutralise_cell(value):
    """Prefix a string starting with =, +, -, @, tab or CR with a quote so spreadsheets show it
    as text instead of running it as a formula. Non-strings pass through unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes (UTF-8) of `frame` with formula-like text cells neutralised; list cells are
    joined with '; '."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(
                lambda v: neutralise_cell(
                    "; ".join(map(str, v)) if isinstance(v, list | tuple) else v
                )
            )
    return out.to_csv(index=False).encode("utf-8")


def _bib_value(text: str) -> str:
    """Text safe inside a braced BibTeX field: specials escaped, braces balanced."""
    text = re.sub(r"([&%#])", r"\\\1", str(text))
    if text.count("{") != text.count("}"):
        text = text.replace("{", "").replace("}", "")
    return text


def bibtex(papers: pd.DataFrame) -> str:
    """@misc BibTeX entries for `papers` (columns paper_id, title, authors, published, url,
    arxiv_id, doi); keys are unique and derived from the paper id."""
    entries, used = [], set()
    for rec in papers.itertuples(index=False):
        key = re.sub(r"[^A-Za-z0-9]+", "_", str(rec.paper_id)).strip("_") or "paper"
        base, n = key, 2
        while key in used:
            key, n = f"{base}_{n}", n + 1
        used.add(key)
        fields = [("title", "{" + _bib_value(rec.title) + "}")]
        if len(rec.authors):
            fields.append(("author", " and ".join(_bib_value(a) for a in rec.authors)))
        if pd.notna(rec.published):
            fields.append(("year", str(pd.Timestamp(rec.published).year)))
            fields.append(("month", str(pd.Timestamp(rec.published).month)))
        if isinstance(rec.arxiv_id, str) and rec.arxiv_id:
            fields += [("eprint", rec.arxiv_id), ("archiveprefix", "arXiv")]
        if isinstance(rec.doi, str) and rec.doi:
            fields.append(("doi", rec.doi))
        if isinstance(rec.url, str) and rec.url:
            fields.append(("url", rec.url))
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        entries.append(f"@misc{{{key},\n{body}\n}}\n")
    return "\n".join(entries)


def markdown_list(papers: pd.DataFrame, heading: str) -> str:
    """A Markdown reading list: heading, then one bullet per paper (escaped title linked to its
    source, date, authors)."""
    lines = [f"# {escape_markdown(heading)}", ""]
    for rec in papers.itertuples(index=False):
        title = escape_markdown(rec.title)
        url = rec.url if isinstance(rec.url, str) and re.match(r"^https?://", rec.url) else None
        link = f"[{title}](<{url}>)" if url else title
        authors = escape_markdown("; ".join(rec.authors)) if len(rec.authors) else ""
        date = (
            pd.Timestamp(rec.published).strftime("%Y-%m-%d") if pd.notna(rec.published) else "n.d."
        )
        lines.append(f"- {link} ({date}){' — ' + authors if authors else ''}")
    return "\n".join(lines) + "\n"


def file_stem(text: str) -> str:
    """A short file-name-safe slug of `text`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "export"
