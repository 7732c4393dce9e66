"""Readers for arXiv's own formats: the API's Atom feed (XML, read with xml.etree) and the
OAI metadata snapshot (JSON Lines, several GB, streamed line by line). Produce `RawRecord`s."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from pipeline.ingest.names import parse_list_literal
from pipeline.ingest.normalise import RawRecord
from pipeline.ingest.rawtext import (
    Unsupported,
    excerpt,
    json_object_lines,
    read_text,
)
from pipeline.records import Rejection

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
NS = {"atom": ATOM, "arxiv": ARXIV}

_ENTRY_START = re.compile(r"<(?:atom:)?entry[\s>]")


def read_atom(path: Path, ctx) -> Iterator[RawRecord | Rejection]:
    """Entries of an arXiv API Atom feed. An entry without id, title or summary is a rejection.

    When the document is not well-formed XML, each `<entry>` is parsed on its own so that one
    broken entry costs only itself; with no parsable entry at all the file is rejected. A feed
    with no entries, or the API's error feed, rejects the file with the reason (the API's own
    error message).
    """
    text, issue = read_text(path)
    if issue:
        yield Rejection(ctx.source_file, f"line {issue.first_line}", issue.reason(), "warning", "")
    starts = [text.count("\n", 0, m.start()) + 1 for m in _ENTRY_START.finditer(text)]
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        yield from _read_entries_one_by_one(text, ctx, str(exc))
        return
    if root.tag != f"{{{ATOM}}}feed":
        raise Unsupported(f"XML root is <{root.tag}>, not an Atom <feed>")
    entries = root.findall("atom:entry", NS)
    if not entries:
        raise Unsupported("the feed has no entries")
    error = _api_error(entries)
    if error is not None:
        raise Unsupported(f"arXiv API error: {error}")
    for number, entry in enumerate(entries, start=1):
        line = starts[number - 1] if len(starts) == len(entries) else None
        location = f"line {line}" if line else f"record {number}"
        yield _entry_record(entry, location, ctx)


def _read_entries_one_by_one(text: str, ctx, error: str) -> Iterator[RawRecord | Rejection]:
    # Each chunk runs from one <entry> start to the next (or to </feed>), so an entry that never
    # closes cannot swallow the entries after it.
    starts = [m.start() for m in _ENTRY_START.finditer(text)]
    if not starts:
        raise Unsupported(f"malformed XML: {error}")
    yield Rejection(
        ctx.source_file, "file", f"malformed XML ({error}); entries read one by one", "warning", ""
    )
    feed = re.search(r"<(?:atom:)?feed\b([^>]*)>", text)
    declarations = " ".join(re.findall(r'xmlns(?::\w+)?="[^"]*"', feed.group(1))) if feed else ""
    if 'xmlns="' not in declarations:
        declarations += f' xmlns="{ATOM}"'
    if "xmlns:arxiv" not in declarations:
        declarations += f' xmlns:arxiv="{ARXIV}"'
    ends = [*starts[1:], len(text)]
    for start, end in zip(starts, ends, strict=True):
        chunk = text[start:end]
        close = max(chunk.rfind("</entry>"), chunk.rfind("</atom:entry>"))
        line = text.count("\n", 0, start) + 1
        if close < 0:
            yield Rejection(
                ctx.source_file,
                f"line {line}",
                "malformed XML entry: no </entry>",
                "rejected",
                excerpt(chunk),
            )
            continue
        chunk = chunk[: chunk.index(">", close) + 1]
        try:
            wrapper = ET.fromstring(f"<feed {declarations}>{chunk}</feed>")
        except ET.ParseError as exc:
            bad = line + exc.position[0] - 1  # the wrapper starts on the entry's own line
            yield Rejection(
                ctx.source_file,
                f"line {line}",
                f"malformed XML entry: {str(exc).split(':')[0]} at line {bad}",
                "rejected",
                excerpt(chunk),
            )
            continue
        entry = wrapper.find("atom:entry", NS)
        if entry is None:
            yield Rejection(
                ctx.source_file, f"line {line}", "malformed XML entry", "rejected", excerpt(chunk)
            )
            continue
        yield _entry_record(entry, f"line {line}", ctx)


def _api_error(entries: list[ET.Element]) -> str | None:
    """The message of arXiv's error feed: one entry titled "Error" whose id is an api/errors
    URL, the message in its summary."""
    if len(entries) != 1:
        return None
    entry_id = _text(entries[0], "atom:id") or ""
    if "api/errors" not in entry_id and (_text(entries[0], "atom:title") or "").strip() != "Error":
        return None
    return " ".join((_text(entries[0], "atom:summary") or entry_id).split())


def _text(entry: ET.Element, tag: str) -> str | None:
    node = entry.find(tag, NS)
    return None if node is None or node.text is None else node.text


def _entry_record(entry: ET.Element, location: str, ctx) -> RawRecord | Rejection:
    entry_id = _text(entry, "atom:id")
    if not entry_id:
        return Rejection(
            ctx.source_file,
            location,
            "malformed XML entry: no <id>",
            "rejected",
            excerpt(_text(entry, "atom:title")),
        )
    url = None
    for link in entry.findall("atom:link", NS):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            url = link.get("href")
            break
    categories = [c.get("term") for c in entry.findall("atom:category", NS) if c.get("term")]
    primary = entry.find("arxiv:primary_category", NS)
    if primary is not None and primary.get("term") in categories:
        categories.remove(primary.get("term"))
        categories.insert(0, primary.get("term"))
    extra = {
        key: value
        for key, value in (
            ("updated", _text(entry, "atom:updated")),
            ("comment", _text(entry, "arxiv:comment")),
            ("journal_ref", _text(entry, "arxiv:journal_ref")),
            ("entry_id", entry_id),
        )
        if value
    }
    return RawRecord(
        location=location,
        title=_text(entry, "atom:title"),
        abstract=_text(entry, "atom:summary"),
        published=_text(entry, "atom:published"),
        authors=[_text(a, "atom:name") or "" for a in entry.findall("atom:author", NS)],
        url=url,
        categories=categories,
        arxiv_id=entry_id if "arxiv.org" in entry_id else None,
        doi=_text(entry, "arxiv:doi"),
        id=entry_id,
        extra=extra,
    )


# ---------------------------------------------------------------------------------------------
# OAI metadata snapshot

_OAI_EXTRA = ("comments", "journal-ref", "report-no", "license", "update_date", "submitter")


def read_oai(path: Path, ctx) -> Iterator[RawRecord | Rejection]:
    """The arXiv OAI snapshot, one JSON object per line, streamed. The date is the v1 `created`
    date (first submission), falling back to `update_date`."""
    for found in json_object_lines(path, ctx.source_file):
        if isinstance(found, Rejection):
            yield found
        else:
            location, item = found
            yield oai_record(item, location)


def is_oai_record(record: dict) -> bool:
    """True for an object shaped like an arXiv OAI snapshot record, in any container."""
    return "abstract" in record and (
        "versions" in record or "authors_parsed" in record or "update_date" in record
    )


def oai_record(item: dict, location: str) -> RawRecord:
    """One snapshot object as a RawRecord: the v1 `created` date, else `update_date`; authors
    from `authors_parsed` (suffixes kept), else the `authors` string. In a CSV the list columns
    arrive as list literals and are read as lists."""
    published = None
    versions = _as_list(item.get("versions"))
    if isinstance(versions, list) and versions:
        first = next(
            (v for v in versions if isinstance(v, dict) and v.get("version") == "v1"), versions[0]
        )
        if isinstance(first, dict):
            published = first.get("created")
    if not published:
        published = item.get("update_date")
    authors = _as_list(item.get("authors_parsed")) or item.get("authors")
    arxiv_id = item.get("id")
    return RawRecord(
        location=location,
        title=item.get("title"),
        abstract=item.get("abstract"),
        published=published,
        authors=authors,
        categories=item.get("categories"),
        arxiv_id=f"arXiv:{arxiv_id}" if arxiv_id else None,
        doi=item.get("doi"),
        extra={k.replace("-", "_"): item[k] for k in _OAI_EXTRA if item.get(k)},
    )


def _as_list(value):
    if isinstance(value, str):
        return parse_list_literal(value)
    return value
