"""Turns a reader's `RawRecord` into a normalised `Paper` (or a `Rejection`): text cleaning,
dates with their precision, arXiv ids, DOIs, authors, categories and the stable `paper_id`."""

from __future__ import annotations

import calendar
import datetime as dt
import email.utils
import hashlib
import html
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from pipeline.config import IngestConfig
from pipeline.records import Paper, Rejection

RAW_EXCERPT_CHARS = 200


@dataclass
class RawRecord:
    """One record as a reader found it, before normalisation.

    Values may be strings, numbers, dates or lists, exactly as the input held them.
    `published` is anything `parse_date` understands; `authors` and `categories` are a list or a
    delimited string; `id` is a generic identifier column (an arXiv id or a DOI, detected).
    `location` is `line N` or `record N` (1-based).
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
    # Set by readers whose text is LaTeX (BibTeX): accents and braces are turned into Unicode.
    is_latex: bool = False


def excerpt(value: Any, limit: int = RAW_EXCERPT_CHARS) -> str:
    """A short one-line excerpt of an offending input, for `Rejection.raw`."""
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            value = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            value = repr(value)
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def parse_json_line(line: str, source_file: str, location: str) -> Any | Rejection:
    """One line of a JSON Lines file: the decoded value, or a Rejection when it is not JSON."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return Rejection(
            source_file, location, f"malformed JSON line: {exc.msg}", "rejected", excerpt(line)
        )


# ---------------------------------------------------------------------------------------------
# Text

_MATH = re.compile(r"(\$\$.+?\$\$|\$[^$]+\$|\\\(.+?\\\)|\\\[.+?\\\])", re.S)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>|<!--.*?-->", re.S)


def _strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    parts = _MATH.split(text)
    # Odd indices are LaTeX math spans: kept exactly, so `$a<b>c$` is never read as a tag.
    for i in range(0, len(parts), 2):
        parts[i] = html.unescape(_TAG.sub(" ", parts[i]))
    return "".join(parts)


def clean_text(value: Any, is_latex: bool = False) -> str:
    """NFC text with HTML tags removed, LaTeX math kept and whitespace collapsed to one space."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value)
    if is_latex:
        text = latex_to_text(text)
    text = _strip_html(text)
    text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def latex_to_text(text: str) -> str:
    """LaTeX accents, escapes and grouping braces to Unicode; math (`$...$`) stays verbatim."""
    if "\\" not in text and "{" not in text and "~" not in text:
        return text
    from pylatexenc.latex2text import LatexNodes2Text

    try:
        return LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True).latex_to_text(text)
    except Exception:  # pylatexenc is lenient, but never let one odd field stop a file
        return text.replace("{", "").replace("}", "")


def title_key(title: str) -> str:
    """The normalised title used for deduplication and sidecar joins: case-folded, NFKC,
    accents and punctuation removed, words separated by single spaces."""
    text = unicodedata.normalize("NFKD", title.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.findall(r"\w+", text))


def word_count(text: str) -> int:
    return len(text.split())


# ---------------------------------------------------------------------------------------------
# Identifiers

_ARXIV_NEW = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_ARXIV_OLD = re.compile(r"(?<![A-Za-z-])([a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?(?!\d)")
_DOI = re.compile(r"(10\.\d{4,9}/\S+)")


def parse_arxiv_id(value: Any) -> str | None:
    """An arXiv id without version from a bare id, `arXiv:` form, URL or arXiv DOI; else None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if not text:
        return None
    match = _ARXIV_NEW.search(text) or _ARXIV_OLD.search(text)
    if not match:
        return None
    # A bare number like 2023.12345 in an unrelated field must not pass: require that the text
    # is essentially the id, or that it says arXiv.
    core = match.group(1)
    stripped = re.sub(r"(?i)^(arxiv:|https?://(www\.)?(export\.)?arxiv\.org/(abs|pdf)/)", "", text)
    stripped = re.sub(r"(v\d+)?(\.pdf)?/?$", "", stripped)
    if stripped == core or "arxiv" in text.lower():
        return core
    return None


def parse_doi(value: Any) -> str | None:
    """A lower-case DOI without `doi:` or resolver prefix; None when the value holds none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
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


# ---------------------------------------------------------------------------------------------
# Lists


def split_list(value: Any, kind: str) -> tuple[str, ...]:
    """Authors or categories from a list or a delimited string, cleaned, empty items dropped.

    Author strings split on `;`, else ` and `/`,`; category strings on `;`/`,` when they have
    one, else on whitespace (arXiv's `cs.CL cs.LG`).
    Author dicts use their `name` key (Hugging Face) and `[last, first, ...]` lists are joined
    (arXiv `authors_parsed`).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if hasattr(value, "tolist"):  # numpy arrays from Parquet list columns
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            if isinstance(item, dict):
                item = item.get("name") or item.get("fullname") or ""
            elif isinstance(item, (list, tuple)):
                item = " ".join(str(p) for p in reversed(item[:2]) if p)
                # authors_parsed is [last, first, suffix]
            items.append(clean_text(item))
        return tuple(i for i in items if i)
    text = clean_text(value)
    if not text:
        return ()
    if kind == "authors":
        if ";" in text:
            parts = text.split(";")
        else:
            parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", text)
    elif ";" in text or "," in text:
        parts = re.split(r"[;,]", text)
    else:
        parts = text.split()
    return tuple(p.strip() for p in parts if p.strip())


# ---------------------------------------------------------------------------------------------
# Dates

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9


class DateError(ValueError):
    """A date value that is present but cannot be read."""


def month_number(value: Any) -> int | None:
    """1-12 from a month number or English month name/abbreviation; None when unreadable."""
    text = str(value).strip().lower().rstrip(".")
    if text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    return _MONTHS.get(text)


def parse_date(value: Any) -> tuple[str, str] | None:
    """(ISO date padded to a day, precision) from the many ways inputs write a date.

    Accepts date/datetime objects, a year number, ISO dates and timestamps (`2024-05-23`,
    `2024-05-23T02:53:25.000Z`, `2024-05`, `2024`), RFC 2822 (`Mon, 2 Apr 2007 19:18:42 GMT`),
    `23 May 2024`, `May 2024`, `May 23, 2024`. Returns None for an empty value; raises DateError
    for a value that is present but unreadable.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat(), "day"
    if isinstance(value, dt.date):
        return value.isoformat(), "day"
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime().date().isoformat(), "day"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if float(value).is_integer() and 1000 <= value <= 2999:
            return f"{int(value):04d}-01-01", "year"
        raise DateError(f"unparsable date {value!r}")
    text = " ".join(str(value).split())
    if not text:
        return None
    try:
        return _parse_date_text(text)
    except (ValueError, OverflowError):
        raise DateError(f"unparsable date {text[:60]!r}") from None


def _checked(year: int, month: int = 1, day: int = 1) -> str:
    return dt.date(year, month, day).isoformat()


def _parse_date_text(text: str) -> tuple[str, str]:
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?", text)
    if m:
        return _checked(int(m[1]), int(m[2]), int(m[3])), "day"
    m = re.fullmatch(r"(\d{4})/(\d{1,2})/(\d{1,2})", text)
    if m:
        return _checked(int(m[1]), int(m[2]), int(m[3])), "day"
    m = re.fullmatch(r"(\d{4})[-/](\d{1,2})", text)
    if m:
        return _checked(int(m[1]), int(m[2])), "month"
    m = re.fullmatch(r"(\d{4})(?:\.0)?", text)
    if m:
        return _checked(int(m[1])), "year"
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    if m:
        return _checked(int(m[1]), int(m[2]), int(m[3])), "day"
    parsed = None
    if "," in text or re.search(r"\d{1,2}:\d{2}", text):
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is not None:
        return parsed.date().isoformat(), "day"
    words = re.findall(r"[A-Za-z]+\.?|\d+", text)
    names = [month_number(w) for w in words if not w.isdigit()]
    numbers = [int(w) for w in words if w.isdigit()]
    months = [n for n in names if n]
    if len(months) == 1 and len(names) == len(months):
        years = [n for n in numbers if n >= 1000]
        days = [n for n in numbers if n < 1000]
        if len(years) == 1 and len(days) == 1:
            return _checked(years[0], months[0], days[0]), "day"
        if len(years) == 1 and not days:
            return _checked(years[0], months[0]), "month"
    raise ValueError(text)


def _date_from_parts(year: Any, month: Any = None, day: Any = None) -> str:
    """A date string from separate year/month(/day) fields, e.g. BibTeX `year` + `month`."""
    parts = [str(year).strip()]
    if month not in (None, ""):
        number = month_number(month)
        if number is None:
            return f"{year} {month}"  # leave it to parse_date to complain
        parts.append(f"{number:02d}")
        if day not in (None, ""):
            parts.append(f"{int(day):02d}" if str(day).strip().isdigit() else str(day))
    return "-".join(parts)


date_from_parts = _date_from_parts


# ---------------------------------------------------------------------------------------------
# RawRecord -> Paper


def _clean_optional(value: Any) -> str | None:
    text = clean_text(value)
    return text or None


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def to_paper(
    raw: RawRecord, source_file: str, config: IngestConfig
) -> tuple[Paper | None, list[Rejection]]:
    """Normalise one raw record: a Paper plus warnings, or None plus the rejection."""
    issues: list[Rejection] = []

    def reject(reason: str, raw_text: Any) -> tuple[None, list[Rejection]]:
        return None, [Rejection(source_file, raw.location, reason, "rejected", excerpt(raw_text))]

    title = clean_text(raw.title, raw.is_latex)
    abstract = clean_text(raw.abstract, raw.is_latex)
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

    arxiv_id = parse_arxiv_id(raw.arxiv_id)
    if (
        raw.arxiv_id not in (None, "")
        and arxiv_id is None
        and not (isinstance(raw.arxiv_id, float) and math.isnan(raw.arxiv_id))
    ):
        issues.append(
            Rejection(
                source_file,
                raw.location,
                f"not an arXiv id: {str(raw.arxiv_id)[:60]!r}",
                "warning",
                excerpt(title),
            )
        )
    doi = parse_doi(raw.doi)
    if raw.id not in (None, ""):
        arxiv_id = arxiv_id or parse_arxiv_id(raw.id)
        doi = doi or parse_doi(raw.id)
    arxiv_id = arxiv_id or arxiv_id_from_doi(doi)
    if arxiv_id is None and raw.url:
        arxiv_id = parse_arxiv_id(raw.url) if "arxiv.org/" in str(raw.url) else None

    published = precision = None
    try:
        parsed = parse_date(raw.published)
    except DateError as exc:
        parsed = None
        issues.append(
            Rejection(
                source_file,
                raw.location,
                f"{exc}; kept with no date",
                "warning",
                excerpt(raw.published),
            )
        )
    if parsed:
        published, precision = parsed

    url = _clean_optional(raw.url)
    if url is None and arxiv_id:
        url = f"https://arxiv.org/abs/{arxiv_id}"
    elif url is None and doi:
        url = f"https://doi.org/{doi}"

    extra = {str(k): _jsonable(v) for k, v in raw.extra.items() if v is not None}
    paper = Paper(
        paper_id=make_paper_id(arxiv_id, doi, title),
        title=title,
        abstract=abstract,
        published=published,
        date_precision=precision,
        authors=split_list(raw.authors, "authors")
        if not raw.is_latex
        else _latex_authors(raw.authors),
        url=url,
        categories=split_list(raw.categories, "categories"),
        arxiv_id=arxiv_id,
        doi=doi,
        source_file=source_file,
        source_location=raw.location,
        extra=extra,
    )
    return paper, issues


def _latex_authors(value: Any) -> tuple[str, ...]:
    """BibTeX `author`: names joined by ` and ` (outside braces), each `Last, First` or
    `First Last`, with LaTeX accents."""
    if not value:
        return ()
    if isinstance(value, (list, tuple)):
        return split_list(value, "authors")
    text = str(value)
    names, depth, start = [], 0, 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and re.match(r"\s+and\s+", text[i:]) and (i == 0 or text[i].isspace()):
            m = re.match(r"\s+and\s+", text[i:])
            names.append(text[start:i])
            i += m.end()
            start = i
            continue
        i += 1
    names.append(text[start:])
    result = []
    for name in names:
        name = clean_text(name, is_latex=True)
        if "," in name:
            last, _, first = name.partition(",")
            name = f"{first.strip()} {last.strip()}".strip()
        if name and name.lower() != "others":
            result.append(name)
    return tuple(result)
