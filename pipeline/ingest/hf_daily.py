"""Reader for Hugging Face daily-papers API JSON: a list of entries
`{paper: {id, title, summary, publishedAt, authors: [{name}], upvotes, ...}, publishedAt, ...}`,
one file per day (a folder of them is walked). Also takes the `{"data": [...]}` wrapper, JSON
Lines of entries, and entries saved as Python-repr strings. Produces `RawRecord`s."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.ingest.normalise import RawRecord
from pipeline.ingest.rawtext import (
    JsonError,
    excerpt,
    load_json,
    parse_json_line,
    read_text,
    unwrap_records,
)
from pipeline.ingest.tables import json_records
from pipeline.records import Rejection


def read_hf_daily(path: Path, ctx) -> Iterator[RawRecord | Rejection]:
    """Entries of one daily-papers file. The paper's own `publishedAt` (its arXiv date) is the
    date; the entry's `publishedAt` (when it was posted on HF) is kept in `extra`."""
    text, issue = read_text(path)
    if issue:
        yield Rejection(ctx.source_file, f"line {issue.first_line}", issue.reason(), "warning", "")
    kind = "record"
    try:
        entries = unwrap_records(load_json(text))
    except JsonError:
        lines = text.lstrip().splitlines()
        if len(lines) > 1 and lines[0].startswith("{") and lines[1].lstrip().startswith("{"):
            entries, kind = text.splitlines(), "line"  # JSON Lines of entries
        else:  # an array with broken entries: each entry read on its own
            entries = yield from json_records(text, ctx.source_file)
    for number, item in enumerate(entries, start=1):
        location = f"{kind} {number}"
        if isinstance(item, JsonError):
            yield Rejection(
                ctx.source_file, location, f"malformed JSON record: {item}", "rejected", item.raw
            )
            continue
        if kind == "line":
            if not item.strip():
                continue
            item = parse_json_line(item, ctx.source_file, location)
            if isinstance(item, Rejection):
                yield item
                continue
        if isinstance(item, str):
            item = _literal(item)
        if not isinstance(item, dict):
            yield Rejection(
                ctx.source_file,
                location,
                "malformed daily-papers entry: not an object",
                "rejected",
                excerpt(item),
            )
            continue
        yield hf_record(item, location)


def _literal(text: str) -> Any:
    """Some dumps store each entry as its Python repr; read it without evaluating code."""
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def hf_record(entry: dict, location: str) -> RawRecord:
    """One daily-papers entry as a RawRecord. A bare paper object (no `paper` key) works too."""
    paper = entry.get("paper") if isinstance(entry.get("paper"), dict) else entry
    paper_id = paper.get("id")
    extra = {
        "hf_published_at": entry.get("publishedAt") if paper is not entry else None,
        "upvotes": paper.get("upvotes", entry.get("upvotes")),
        "num_comments": entry.get("numComments"),
        "hf_url": f"https://huggingface.co/papers/{paper_id}" if paper_id else None,
    }
    return RawRecord(
        location=location,
        title=paper.get("title") or entry.get("title"),
        abstract=paper.get("summary") or entry.get("summary"),
        published=paper.get("publishedAt") or entry.get("publishedAt"),
        authors=paper.get("authors"),
        arxiv_id=f"arXiv:{paper_id}" if paper_id else None,
        extra={k: v for k, v in extra.items() if v is not None},
    )
