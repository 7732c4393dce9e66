"""Readers for tables: CSV/TSV, JSON array, JSON Lines and Parquet. Common column names are
detected; an explicit field -> column mapping overrides them. Produces `RawRecord`s."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.ingest.detect import Unsupported, iter_lines, read_text
from pipeline.ingest.normalise import RawRecord, excerpt, parse_json_line
from pipeline.records import Rejection

FIELDS = ("title", "abstract", "published", "authors", "id", "arxiv_id", "doi", "url", "categories")

# Field -> column names recognised automatically, best first (compared after lower-casing and
# turning spaces and dashes into underscores). The first present column wins.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "title": ("title", "paper_title", "article_title", "document_title", "name_of_paper"),
    "abstract": (
        "abstract",
        "summary",
        "abstract_text",
        "paper_abstract",
        "summary_text",
        "abstract_note",
        "abstractnote",
        "description",
    ),
    "published": (
        "published",
        "publication_date",
        "published_date",
        "published_at",
        "publishedat",
        "pub_date",
        "paper_published_at",
        "date",
        "first_published",
        "created",
        "created_at",
        "submitted",
        "submission_date",
        "listing_date",
        "hf_date",
        "issued",
        "update_date",
        "updated",
        "year",
        "publication_year",
        "pub_year",
    ),
    "authors": ("authors", "author", "author_names", "authors_list", "creators", "first_author"),
    "id": ("id", "paper_id", "identifier"),
    "arxiv_id": ("arxiv_id", "arxivid", "arxiv", "eprint", "arxiv_identifier"),
    "doi": ("doi",),
    "url": ("url", "link", "abs_url", "pdf_url", "href", "paper_url"),
    "categories": (
        "categories",
        "arxiv_categories",
        "subjects",
        "category",
        "primary_category",
        "arxiv_primary_category",
        "tags",
    ),
}

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _norm(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", str(name).strip().lower())


def resolve_columns(
    columns: list[str], mapping: dict[str, str], required: tuple[str, ...] = ("title", "abstract")
) -> dict[str, str]:
    """Field -> column for one table: explicit mapping first, then the detected names.

    Raises Unsupported when a mapped column is absent or no title/abstract column exists.
    """
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise Unsupported(f"unknown field(s) in column mapping: {', '.join(unknown)}")
    by_norm: dict[str, str] = {}
    for column in columns:
        by_norm.setdefault(_norm(column), column)
    resolved: dict[str, str] = {}
    for field_, column in mapping.items():
        if column in columns:
            resolved[field_] = column
        elif _norm(column) in by_norm:
            resolved[field_] = by_norm[_norm(column)]
        else:
            raise Unsupported(
                f"column {column!r} (mapped to {field_}) is not in the file; columns: "
                + ", ".join(map(str, columns[:30]))
            )
    taken = set(resolved.values())
    for field_ in FIELDS:
        if field_ in resolved:
            continue
        for name in CANDIDATES[field_]:
            column = by_norm.get(name)
            if column is not None and column not in taken:
                resolved[field_] = column
                taken.add(column)
                break
    if field_ := next((f for f in required if f not in resolved), None):
        raise Unsupported(
            f"no {field_} column found (columns: {', '.join(map(str, columns[:30]))}); "
            f"map one with --column {field_}=COLUMN"
        )
    return resolved


def row_to_raw(row: dict[str, Any], colmap: dict[str, str], location: str) -> RawRecord:
    """A RawRecord from one table row; columns not mapped to a field go to `extra`."""
    values = {field_: row.get(column) for field_, column in colmap.items()}
    used = set(colmap.values())
    extra = {k: v for k, v in row.items() if k not in used and v not in (None, "")}
    return RawRecord(location=location, extra=extra, **values)


def _mapping(ctx) -> dict[str, str]:
    return dict(ctx.config.columns)


# ---------------------------------------------------------------------------------------------
# CSV / TSV


def read_csv(
    path: Path,
    ctx,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
    required: tuple[str, ...] = ("title", "abstract"),
) -> Iterator[RawRecord | Rejection]:
    """Rows of a CSV (or TSV with delimiter '\\t'); a row with the wrong field count or a CSV
    syntax error is a rejection at its line."""
    bad_lines: list[int] = []
    numbered = iter_lines(path, bad_lines)
    line_of_row = [0]

    def lines() -> Iterator[str]:
        for number, line in numbered:
            line_of_row.append(number)
            yield line

    if delimiter is None:
        delimiter = _guess_delimiter(path)
    reader = csv.reader(lines(), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise Unsupported("empty file") from None
    except csv.Error as exc:
        raise Unsupported(f"unreadable CSV header: {exc}") from None
    header = [h.strip() for h in header]
    colmap = resolve_columns(header, _mapping(ctx) if mapping is None else mapping, required)
    yield from _decode_warnings(ctx, bad_lines)
    start = line_of_row[-1] + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield Rejection(
                ctx.source_file, f"line {start}", f"malformed CSV row: {exc}", "rejected", ""
            )
            start = line_of_row[-1] + 1
            continue
        location = f"line {start}"
        start = line_of_row[-1] + 1
        yield from _decode_warnings(ctx, bad_lines)
        if not any(cell.strip() for cell in row):
            continue  # blank line between rows: nothing was lost
        if len(row) != len(header):
            yield Rejection(
                ctx.source_file,
                location,
                f"malformed CSV row: {len(row)} fields, the header has {len(header)}",
                "rejected",
                excerpt(delimiter.join(row)),
            )
            continue
        yield row_to_raw(dict(zip(header, row, strict=True)), colmap, location)


def _guess_delimiter(path: Path) -> str:
    """Comma, unless the header line has more semicolons (European spreadsheet exports)."""
    with open(path, "rb") as handle:
        first = handle.readline(65536).decode("utf-8", errors="replace")
    return ";" if first.count(";") > first.count(",") else ","


def _decode_warnings(ctx, bad_lines: list[int]) -> Iterator[Rejection]:
    while bad_lines:
        number = bad_lines.pop(0)
        yield Rejection(
            ctx.source_file,
            f"line {number}",
            "invalid UTF-8; bad bytes replaced with U+FFFD",
            "warning",
            "",
        )


# ---------------------------------------------------------------------------------------------
# JSON array / JSON Lines

_WRAPPERS = ("data", "papers", "records", "items", "entries", "results", "rows")


def read_json(path: Path, ctx) -> Iterator[RawRecord | Rejection]:
    """A JSON array of objects (or an object wrapping one under data/papers/records/...)."""
    text, issue = read_text(path)
    if issue:
        yield Rejection(ctx.source_file, f"line {issue.first_line}", issue.reason(), "warning", "")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Unsupported(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    records = unwrap_records(document)
    columns: list[str] = []
    for item in records:
        if isinstance(item, dict):
            columns.extend(k for k in item if k not in columns)
    colmap = resolve_columns(columns, _mapping(ctx))
    for number, item in enumerate(records, start=1):
        location = f"record {number}"
        if not isinstance(item, dict):
            yield Rejection(
                ctx.source_file,
                location,
                f"malformed JSON record: expected an object, got {type(item).__name__}",
                "rejected",
                excerpt(item),
            )
            continue
        yield row_to_raw(item, colmap, location)


def unwrap_records(document: Any) -> list:
    """The list of records in a JSON document: the array itself or a wrapper's list."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in _WRAPPERS:
            if isinstance(document.get(key), list):
                return document[key]
        lists = [v for v in document.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
        if any(k in document for k in ("title", "abstract")):
            return [document]
    raise Unsupported("JSON document holds no list of records")


def read_jsonl(path: Path, ctx) -> Iterator[RawRecord | Rejection]:
    """JSON Lines, streamed: a line that is not a JSON object is a rejection at that line.
    Columns are detected from the keys seen so far (objects need not all have the same keys)."""
    bad_lines: list[int] = []
    colmap: dict[str, str] | None = None
    seen: dict[str, None] = {}
    for number, line in iter_lines(path, bad_lines):
        yield from _decode_warnings(ctx, bad_lines)
        if not line.strip():
            continue
        location = f"line {number}"
        item = parse_json_line(line, ctx.source_file, location)
        if isinstance(item, Rejection):
            yield item
            continue
        if not isinstance(item, dict):
            yield Rejection(
                ctx.source_file,
                location,
                f"malformed JSON line: expected an object, got {type(item).__name__}",
                "rejected",
                excerpt(line),
            )
            continue
        if colmap is None or any(key not in seen for key in item):
            seen.update(dict.fromkeys(item))
            colmap = resolve_columns(list(seen), _mapping(ctx))
        yield row_to_raw(item, colmap, location)


# ---------------------------------------------------------------------------------------------
# Parquet


def read_parquet(path: Path, ctx) -> Iterator[RawRecord | Rejection]:
    """Parquet rows, read in batches (never the whole file as one pandas frame)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise Unsupported(f"unreadable Parquet file: {exc}") from None
    columns = parquet.schema_arrow.names
    colmap = resolve_columns(columns, _mapping(ctx))
    number = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield row_to_raw(row, colmap, f"record {number}")
