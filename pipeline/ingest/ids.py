"""Identifiers and links of a paper: arXiv ids (bare, `arXiv:`, arXiv and Hugging Face paper
URLs, arXiv DOIs), DOIs, the stable `paper_id`, and the http(s) check that decides whether a
URL may become a link."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from pipeline.ingest.text import is_missing, title_key

_ARXIV_NEW = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_ARXIV_OLD = re.compile(r"(?<![A-Za-z-])([a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?(?!\d)")
_DOI = re.compile(r"(10\.\d{4,9}/\S+)")
# Pages that name an arXiv paper by its id: arXiv's own and Hugging Face's paper pages.
_PAPER_PAGE = re.compile(
    r"(?i)^(arxiv:|https?://(www\.)?((export\.)?arxiv\.org/(abs|pdf)|huggingface\.co/papers)/)"
)
_URL_UNSAFE = re.compile(r"[\s<>\"`{}|\\^\x00-\x1f\x7f]")


def parse_arxiv_id(value: Any) -> str | None:
    """An arXiv id without version from a bare id, `arXiv:` form, arXiv or Hugging Face paper
    URL, or arXiv DOI; else None."""
    if is_missing(value) or isinstance(value, (dict, list, tuple, bytes)):
        return None
    text = str(value).strip()
    match = _ARXIV_NEW.search(text) or _ARXIV_OLD.search(text)
    if not match:
        return None
    # A bare number like 2023.12345 in an unrelated field must not pass: require that the text
    # is essentially the id, or that it says arXiv.
    core = match.group(1)
    stripped = _PAPER_PAGE.sub("", text)
    stripped = re.sub(r"(v\d+)?(\.pdf)?/?$", "", stripped)
    if stripped == core or "arxiv" in text.lower():
        return core
    return None


def arxiv_id_from_url(value: Any) -> str | None:
    """The arXiv id named by an arXiv or Hugging Face paper-page URL; None for other URLs."""
    if not isinstance(value, str) or not _PAPER_PAGE.match(value.strip()):
        return None
    return parse_arxiv_id(value)


def parse_doi(value: Any) -> str | None:
    """A lower-case DOI without `doi:` or resolver prefix; None when the value holds none."""
    if is_missing(value) or isinstance(value, (dict, list, tuple, bytes)):
        return None
    match = _DOI.search(str(value).strip())
    if not match:
        return None
    return match.group(1).rstrip(".,;").lower()


def arxiv_id_from_doi(doi: str | None) -> str | None:
    """arXiv's own DOIs (10.48550/arXiv.<id>) name the arXiv id."""
    if doi and doi.startswith("10.48550/arxiv."):
        return parse_arxiv_id("arXiv:" + doi.split("arxiv.", 1)[1])
    return None


def make_paper_id(arxiv_id: str | None, doi: str | None, title: str) -> str:
    """`arxiv:<id>`, else `doi:<doi>`, else `title:<sha1 of the normalised title, 16 hex>`."""
    if arxiv_id:
        return f"arxiv:{arxiv_id}"
    if doi:
        return f"doi:{doi}"
    return "title:" + hashlib.sha1(title_key(title).encode("utf-8")).hexdigest()[:16]


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host and nothing that could end a link early in
    Markdown or HTML (spaces, quotes, angle brackets, control characters)."""
    if _URL_UNSAFE.search(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)
