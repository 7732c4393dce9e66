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
from urllib.parse import quote, urlsplit

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
    """A self-contained interactive HTML page of `fig` (plotly.js inlined, works offline),
    filling the browser window whatever height the chart had on its page."""
    out = go.Figure(fig)
    out.update_layout(height=None, width=None, autosize=True)
    html_text = out.to_html(
        include_plotlyjs=True, full_html=True, default_height="95vh", default_width="100%"
    )
    return html_text.encode("utf-8")


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


# Each LaTeX special as a command without bare braces, so any text stays inside its field:
# bibtexparser (like BibTeX) ends a value at the brace that balances it, escaped or not.
_BIB_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
_BIB_SPECIAL = re.compile(r"[\\{}$&%#_^~]")
# `--`, ``` `` ```, `''`, `?``, `!`` are ligatures in LaTeX (dashes, quotes); an empty group
# between the characters keeps them as typed.
_BIB_LIGATURE = re.compile(r"(-(?=-)|`(?=`)|'(?=')|[?!](?=`))")
# Inline math, written as is when its braces balance (so it still typesets as math).
_BIB_MATH = re.compile(r"((?<!\\)\$(?:[^$\\]|\\.)+\$)")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_NAME_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0


def _bib_text(text: str) -> str:
    """`text` as the inside of a braced BibTeX field: every special escaped, ligatures broken,
    balanced math kept. Reads back (bibtexparser, then LaTeX to Unicode) as exactly `text`."""
    parts = _BIB_MATH.split(" ".join(str(text).split()))
    for i, part in enumerate(parts):
        if i % 2 and _balanced(part):
            continue  # odd indices are math spans
        part = _BIB_SPECIAL.sub(lambda m: _BIB_ESCAPES[m.group()], part)
        parts[i] = _BIB_LIGATURE.sub(r"\1{}", part)
    return "".join(parts)


def _bib_name(name: str) -> str:
    """One author for the `author` field, `von Last, Jr, First`, so the reader splits it back
    into the same name. A name with a comma or ` and ` in it, or of one word, is braced whole."""
    words = str(name).split()
    if len(words) < 2 or "," in name or " and " in f" {name.lower()} ":
        return "{" + _bib_text(name) + "}"
    jr = [words.pop()] if len(words) > 2 and words[-1].lower() in _NAME_SUFFIXES else []
    last = [words.pop()]
    while len(words) > 1 and words[-1][:1].islower():  # `van`, `de la`: the von part
        last.insert(0, words.pop())
    parts = [" ".join(last), *jr, " ".join(words)]
    return ", ".join(_bib_text(part) for part in parts)


def _bib_verbatim(value) -> str | None:
    """An id or URL written as is (BibLaTeX reads these fields verbatim); None when it holds a
    character that would end the field or the entry."""
    if not isinstance(value, str) or not value or re.search(r"[\s{}\\]", value):
        return None
    return value


def _bib_date(published, precision) -> str:
    stamp = pd.Timestamp(published)
    if precision == "year":
        return f"{stamp.year:04d}"
    if precision == "month":
        return f"{stamp.year:04d}-{stamp.month:02d}"
    return stamp.strftime("%Y-%m-%d")


def bibtex(papers: pd.DataFrame) -> str:
    """@misc BibTeX entries for `papers` (columns paper_id, title, authors, published, url,
    arxiv_id, doi; abstract and date_precision when present); keys are unique and derived from
    the paper id.

    Every value is escaped (see `_bib_text`), so no title can end its field early or add a
    field; `date` keeps the day (BibLaTeX), `year` and `month` serve classic BibTeX styles. With
    its abstract an entry can be ingested again.
    """
    entries, used = [], set()
    has_precision = "date_precision" in papers.columns
    has_abstract = "abstract" in papers.columns
    for rec in papers.itertuples(index=False):
        key = re.sub(r"[^A-Za-z0-9]+", "_", str(rec.paper_id)).strip("_") or "paper"
        base, n = key, 2
        while key in used:
            key, n = f"{base}_{n}", n + 1
        used.add(key)
        fields = [("title", _bib_text(rec.title))]
        if len(rec.authors):
            fields.append(("author", " and ".join(_bib_name(a) for a in rec.authors)))
        if pd.notna(rec.published):
            precision = rec.date_precision if has_precision else "day"
            fields.append(("date", _bib_date(rec.published, precision)))
            fields.append(("year", str(pd.Timestamp(rec.published).year)))
            if precision != "year":  # a month macro (`aug`), as BibTeX styles expect
                fields.append(("month", MONTHS[pd.Timestamp(rec.published).month - 1]))
        if arxiv_id := _bib_verbatim(rec.arxiv_id):
            fields += [("eprint", arxiv_id), ("archiveprefix", "arXiv")]
        if doi := _bib_verbatim(rec.doi):
            fields.append(("doi", doi))
        if (url := _bib_verbatim(rec.url)) and _http_url(url):
            fields.append(("url", url))
        if has_abstract and isinstance(rec.abstract, str) and rec.abstract.strip():
            fields.append(("abstract", _bib_text(rec.abstract)))
        body = ",\n".join(
            f"  {name} = {value}" if name == "month" else f"  {name} = {{{value}}}"
            for name, value in fields
        )
        entries.append(f"@misc{{{key},\n{body}\n}}\n")
    return "\n".join(entries)


# Characters a Markdown link destination may hold as they are; the rest is percent-encoded, so
# no URL can close the link or open another (`)`, `<`, `>`, spaces, brackets).
_URL_SAFE = ":/?#@!$&'*+,;=%-._~"


def _http_url(url) -> str | None:
    """`url` percent-encoded for a Markdown link, when it is an absolute http(s) URL."""
    if not isinstance(url, str) or re.search(r"[\x00-\x20\x7f]", url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=_URL_SAFE)


# In a downloaded Markdown file only these change the meaning of text (emphasis, code, links,
# HTML, headings, tables); escaping every punctuation mark, as the app does, left titles
# unreadable in the file ("Large\\-scale pre\\-training\\: a survey\\.").
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|$])")


def markdown_text(text) -> str:
    """`text` for a downloaded Markdown file: the characters that make markup escaped, the rest
    as typed; whitespace (line breaks included) folded to single spaces."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def markdown_list(papers: pd.DataFrame, heading: str) -> str:
    """A Markdown reading list: heading, then one bullet per paper (title, escaped by
    `markdown_text`, linked to its source, date, authors; the abstract indented below). Only an
    http(s) URL becomes a link, percent-encoded; any other URL is printed after the authors as
    escaped text."""
    lines = [f"# {markdown_text(heading)}", ""]
    for rec in papers.itertuples(index=False):
        title = markdown_text(rec.title)
        url = _http_url(rec.url)
        link = f"[{title}](<{url}>)" if url else title
        authors = markdown_text("; ".join(rec.authors)) if len(rec.authors) else ""
        date = (
            pd.Timestamp(rec.published).strftime("%Y-%m-%d") if pd.notna(rec.published) else "n.d."
        )
        other = (
            f" · {escape_markdown(rec.url)}"  # every mark escaped: never a link
            if url is None and isinstance(rec.url, str) and rec.url.strip()
            else ""
        )
        lines.append(f"- {link} ({date}){' — ' + authors if authors else ''}{other}")
        abstract = getattr(rec, "abstract", None)
        if isinstance(abstract, str) and abstract.strip():
            lines.append(f"  {markdown_text(abstract)}")
    return "\n".join(lines) + "\n"


def file_stem(text: str) -> str:
    """A short file-name-safe slug of `text`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "export"
