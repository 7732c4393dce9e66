"""Readers for tables: CSV/TSV, JSON array, JSON Lines and Parquet. Columns are matched to
fields by `columns`; produces `RawRecord`s, and a rejection for each row that cannot be read."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.ingest.columns import missing_columns, resolve_columns, row_to_raw
from pipeline.ingest.normalise import RawRecord
from pipeline.ingest.rawtext import (
    JsonError,
    Unsupported,
    decode_warnings,
    excerpt,
    first_line,
    iter_lines,
    json_object_lines,
    load_json,
    read_text,
    salvage_records,
    unwrap_records,
)
from pipeline.records import Rejection

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


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
    report_missing: bool = True,
) -> Iterator[RawRecord | Rejection]:
    """Rows of a CSV (or TSV with delimiter '\\t'); a row with the wrong field count or a CSV
    syntax error is a rejection at its line. Lines may end in \\n, \\r\\n or a bare \\r.
    `report_missing`: warn when the table has no date or id column (off for a sidecar)."""
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
    header = [h.replace("\x00", "").strip() for h in header]
    mapping = _mapping(ctx) if mapping is None else mapping
    colmap = resolve_columns(header, mapping, required)
    if report_missing:
        yield from missing_columns(colmap, ctx.source_file)
    yield from decode_warnings(ctx.source_file, bad_lines)
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
        yield from decode_warnings(ctx.source_file, bad_lines)
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
        yield row_to_raw(dict(zip(header, row, strict=True)), colmap, location, mapping)


def _guess_delimiter(path: Path) -> str:
    """Comma, unless the header line has more semicolons (European spreadsheet exports)."""
    first = first_line(path)
    return ";" if first.count(";") > first.count(",") else ","


# ---------------------------------------------------------------------------------------------
# JSON array / JSON Lines


def read_json(path: Path, ctx) -> Iterator[RawRecord | Rejection]:
    """A JSON array of objects (or an object wrapping one under data/papers/records/...)."""
    text, issue = read_text(path)
    if issue:
        yield Rejection(ctx.source_file, f"line {issue.first_line}", issue.reason(), "warning", "")
    records = yield from json_records(text, ctx.source_file)
    seen: dict[str, None] = {}
    for item in records:
        if isinstance(item, dict):
            seen.update(dict.fromkeys(map(str, item)))
    mapping = _mapping(ctx)
    colmap = resolve_columns(list(seen), mapping)
    yield from missing_columns(colmap, ctx.source_file)
    for number, item in enumerate(records, start=1):
        location = f"record {number}"
        if isinstance(item, JsonError):
            yield Rejection(
                ctx.source_file, location, f"malformed JSON record: {item}", "rejected", item.raw
            )
            continue
        if not isinstance(item, dict):
            yield Rejection(
                ctx.source_file,
                location,
                f"malformed JSON record: expected an object, got {type(item).__name__}",
                "rejected",
                excerpt(item),
            )
            continue
        yield row_to_raw(item, colmap, location, mapping)


def json_records(text: str, source_file: str):
    """The records of a JSON document (a generator's return value; yields a warning when the
    document is not valid JSON as a whole and its records are read one by one, each a value or
    a JsonError). Raises Unsupported when no array of records can be found at all."""
    try:
        return unwrap_records(load_json(text))
    except JsonError as exc:
        records = salvage_records(text)
        if records is None:
            raise Unsupported(f"invalid JSON: {exc}") from None
        yield Rejection(
            source_file, "file", f"invalid JSON ({exc}); records read one by one", "warning", ""
        )
        return records


def read_jsonl(path: Path, ctx) -> Iterator[RawRecord | Rejection]:
    """JSON Lines, streamed: a line that is not a JSON object is a rejection at that line.
    Columns are detected from the keys seen so far (objects need not all have the same keys)."""
    colmap: dict[str, str] | None = None
    seen: dict[str, None] = {}
    mapping = _mapping(ctx)
    for found in json_object_lines(path, ctx.source_file):
        if isinstance(found, Rejection):
            yield found
            continue
        location, item = found
        if colmap is None or any(key not in seen for key in item):
            seen.update(dict.fromkeys(map(str, item)))
            colmap = resolve_columns(list(seen), mapping)
        yield row_to_raw(item, colmap, location, mapping)
    if colmap is not None:  # known only at the end: a later line may add a column
        yield from missing_columns(colmap, ctx.source_file)


# ---------------------------------------------------------------------------------------------
# Parquet


def read_parquet(path: Path, ctx) -> Iterator[RawRecord | Rejection]:
    """Parquet rows, read in batches (never the whole file as one pandas frame). A column whose
    values Python cannot hold (dates past year 9999) is read as text, so the date is reported
    as unparsable instead of failing the file; data that cannot be decoded part-way rejects the
    rest of the file, keeping the rows before it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise Unsupported(f"unreadable Parquet file: {exc}") from None
    columns = parquet.schema_arrow.names
    mapping = _mapping(ctx)
    colmap = resolve_columns(columns, mapping)
    yield from missing_columns(colmap, ctx.source_file)
    number = 0
    batches = parquet.iter_batches(batch_size=4096)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            raise Unsupported(f"unreadable Parquet data after record {number}: {exc}") from None
        values = {
            name: _column_values(batch.column(i)) for i, name in enumerate(batch.schema.names)
        }
        for index in range(batch.num_rows):
            number += 1
            row = {name: column[index] for name, column in values.items()}
            yield row_to_raw(row, colmap, f"record {number}", mapping)


def _column_values(array) -> list[Any]:
    """Python values of one Arrow column; text when Python has no type for them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return array.to_pylist()
    except (OverflowError, ValueError, pa.ArrowException):
        pass
    try:
        return pc.cast(array, pa.string()).to_pylist()
    except (ValueError, pa.ArrowException):
        return [None] * len(array)
