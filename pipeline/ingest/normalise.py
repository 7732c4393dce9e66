"""Turns a reader's `RawRecord` into a normalised `Paper` (or a `Rejection`) plus warnings: text
fields, ids, date, link, authors, categories and `extra`, each through its own module here."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from pipeline.config import IngestConfig
from pipeline.ingest.dates import DateError, implausible_date, parse_date
from pipeline.ingest.ids import (
    arxiv_id_from_doi,
    arxiv_id_from_url,
    is_http_url,
    make_paper_id,
    parse_arxiv_id,
    parse_doi,
)
from pipeline.ingest.names import parse_list_literal, split_list
from pipeline.ingest.rawtext import MAX_DEPTH, excerpt, too_deep
from pipeline.ingest.text import clean_text, is_missing, text_value, word_count
from pipeline.records import Paper, Rejection

# Where a URL that is not an http(s) link is kept (it never becomes the paper's link).
NON_HTTP_URL = "non_http_url"
# Extra columns whose cells are lists: a list literal in them (pandas' way of writing a list
# column to CSV) is stored as the list.
_LIST_COLUMNS = {"keywords", "keyword", "tags", "subjects", "categories", "authors"}


@dataclass
class RawRecord:
    """One record as a reader found it, before normalisation.

    Values may be strings, bytes, numbers, dates, lists or objects, exactly as the input held
    them. `published` is anything `parse_date` understands; `authors` and `categories` are a
    list, a list literal or a delimited string; `id` is a generic identifier (an arXiv id, a DOI
    or a URL naming one). `location` is `line N` or `record N` (1-based). `columns` names the
    input column each field came from (for messages).
    """

    location: str
    title: Any = None
    abstract: Any = None
    published: Any = None
    authors: Any = None
    url: Any = None
    categories: Any = None
    arxiv_id: Any = None
    doi: Any = None
    id: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    # Set by readers whose text is LaTeX throughout (BibTeX): braces group, `~` is a tie.
    is_latex: bool = False


def to_paper(
    raw: RawRecord, source_file: str, config: IngestConfig
) -> tuple[Paper | None, list[Rejection]]:
    """Normalise one raw record: a Paper plus warnings, or None plus the rejection."""
    issues: list[Rejection] = []

    def warn(reason: str, raw_text: Any) -> None:
        issues.append(Rejection(source_file, raw.location, reason, "warning", excerpt(raw_text)))

    def reject(reason: str, raw_text: Any) -> tuple[None, list[Rejection]]:
        return None, [Rejection(source_file, raw.location, reason, "rejected", excerpt(raw_text))]

    fields = [raw.title, raw.abstract, raw.published, raw.authors, raw.categories, raw.url]
    if too_deep(fields + [raw.arxiv_id, raw.doi, raw.id], MAX_DEPTH + 1):
        return reject(f"malformed record: a field nested deeper than {MAX_DEPTH} levels", "")
    title_value = text_value(raw.title, "title", raw.is_latex, raw.columns.get("title", ""))
    abstract_value = text_value(
        raw.abstract, "abstract", raw.is_latex, raw.columns.get("abstract", "")
    )
    for value, raw_value in ((title_value, raw.title), (abstract_value, raw.abstract)):
        if value.refused:
            return reject(value.refused, raw_value)
    title, abstract = title_value.text, abstract_value.text
    if not title and not abstract:
        return reject("missing title and abstract", raw.extra or raw.id or raw.arxiv_id)
    if not title:
        return reject("missing title", abstract)
    if not abstract:
        return reject("missing abstract", title)
    n_words = word_count(abstract)
    if n_words < config.min_abstract_words:
        return reject(
            f"abstract too short: {n_words} words (min_abstract_words = "
            f"{config.min_abstract_words})",
            f"{title} | {abstract}",
        )
    for value in (title_value, abstract_value):
        if value.note:
            warn(value.note, title)

    arxiv_id, doi = _identifiers(raw, warn, title)
    published, precision = _date(raw.published, warn)

    deep = sorted(str(k) for k, v in raw.extra.items() if too_deep(v))
    for key in deep:
        warn(f"extra field {key!r} nested deeper than {MAX_DEPTH} levels: dropped", "")
    extra = clean_extra({k: v for k, v in raw.extra.items() if str(k) not in deep}, raw.is_latex)
    url_value = text_value(raw.url, "url", column=raw.columns.get("url", ""))
    if url_value.refused:
        warn(f"{url_value.refused}: dropped", raw.url)
    url = url_value.text or None
    if url is not None and not is_http_url(url):
        extra[NON_HTTP_URL] = url
        warn(f"url is not an http(s) link: kept in extra.{NON_HTTP_URL}", url)
        url = None
    if url is None and arxiv_id:
        url = f"https://arxiv.org/abs/{arxiv_id}"
    elif url is None and doi:
        url = f"https://doi.org/{doi}"

    paper = Paper(
        paper_id=make_paper_id(arxiv_id, doi, title),
        title=title,
        abstract=abstract,
        published=published,
        date_precision=precision,
        authors=split_list(raw.authors, "authors", raw.is_latex),
        url=url,
        categories=split_list(raw.categories, "categories", raw.is_latex),
        arxiv_id=arxiv_id,
        doi=doi,
        source_file=source_file,
        source_location=raw.location,
        extra=extra,
    )
    return paper, issues


def _identifiers(raw: RawRecord, warn, title: str) -> tuple[str | None, str | None]:
    """arXiv id and DOI from their own fields, the generic id, arXiv DOIs, and arXiv or Hugging
    Face paper URLs in the url field or any link-like extra column."""
    arxiv_id = parse_arxiv_id(raw.arxiv_id)
    if not is_missing(raw.arxiv_id) and arxiv_id is None:
        warn(f"not an arXiv id: {excerpt(raw.arxiv_id, 60)!r}", title)
    doi = parse_doi(raw.doi)
    if not is_missing(raw.id):
        arxiv_id = arxiv_id or parse_arxiv_id(raw.id)
        doi = doi or parse_doi(raw.id)
    arxiv_id = arxiv_id or arxiv_id_from_doi(doi) or arxiv_id_from_url(raw.url)
    if arxiv_id is None:
        links = (v for k, v in raw.extra.items() if "url" in k.lower() or "link" in k.lower())
        arxiv_id = next(filter(None, map(arxiv_id_from_url, links)), None)
    return arxiv_id, doi


def _date(value: Any, warn) -> tuple[str | None, str | None]:
    try:
        parsed = parse_date(value)
    except DateError as exc:
        warn(f"{exc}; kept with no date", value)
        return None, None
    if parsed is None:
        return None, None
    published, precision = parsed
    problem = implausible_date(published)
    if problem:
        warn(problem, value)
    return published, precision


def clean_extra(extra: dict[str, Any], is_latex: bool = False) -> dict[str, Any]:
    """`extra` as JSON-ready values: text cleaned like the main fields (LaTeX converted),
    missing and whitespace-only values dropped, dates as ISO strings."""
    out = {}
    for key, value in extra.items():
        if isinstance(value, str) and str(key).strip().lower() in _LIST_COLUMNS:
            literal = parse_list_literal(value)
            value = value if literal is None else literal
        value = _extra_value(value, is_latex)
        if value is not None:
            out[str(key)] = value
    return out


def _extra_value(value: Any, is_latex: bool) -> Any:
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return clean_text(value, is_latex) or None
    if isinstance(value, (bytes, bytearray)):
        return clean_text(bytes(value).decode("utf-8", errors="replace"), is_latex) or None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return clean_extra(value, is_latex) or None
    if isinstance(value, (list, tuple)):
        items = [_extra_value(v, is_latex) for v in value]
        return [v for v in items if v is not None] or None
    return clean_text(str(value), is_latex) or None
