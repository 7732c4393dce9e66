"""Bytes to text and text to JSON for every reader, so that no input can raise past a reader:
invalid UTF-8 becomes U+FFFD plus a warning, CR-only line ends are line ends, and JSON nested
too deep or holding a too-long number is malformed JSON like any other."""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.records import Rejection

SNIFF_BYTES = 64 * 1024
# Deeper values are refused: nothing in a paper record nests this far, and deeper values make
# recursive code (repr, json.dumps, the Parquet writer) fail far from the input.
MAX_DEPTH = 64
RAW_EXCERPT_CHARS = 200


class Unsupported(Exception):
    """A whole file that no reader can take: empty, binary, or in no supported format."""


class JsonError(ValueError):
    """Text that is not JSON, or JSON this stage refuses (too deep, a too-long number).
    `raw` is an excerpt of the text, when known."""

    raw = ""


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type name when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def load_json(text: str) -> Any:
    """The decoded JSON value; raises JsonError with a one-line reason for anything else.

    `json.loads` raises RecursionError past ~1,000 nested levels and a plain ValueError for
    integers over 4,300 digits; both become JsonError like a syntax error. (Values nested
    deeper than MAX_DEPTH but still decodable are refused or dropped later, per field.)
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise JsonError("nested deeper than the JSON decoder allows") from None
    except ValueError as exc:  # e.g. "Exceeds the limit (4300 digits) for integer string ..."
        raise JsonError(one_line(exc)) from None
    return value


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when lists, tuples or dicts nest more than `limit` levels (checked without
    recursion, so any depth is safe to ask about)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend(
            (child, depth + 1) for child in children if isinstance(child, (dict, list, tuple))
        )
    return False


def parse_json_line(line: str, source_file: str, location: str) -> Any | Rejection:
    """One line of a JSON Lines file: the decoded value, or a Rejection when it is not JSON."""
    try:
        return load_json(line)
    except JsonError as exc:
        return Rejection(
            source_file, location, f"malformed JSON line: {exc}", "rejected", excerpt(line)
        )


def json_object_lines(path: Path, source_file: str) -> Iterator[tuple[str, dict] | Rejection]:
    """A JSON Lines file, streamed: (location, object) per line; a Rejection at its line for
    one that is not JSON or not an object, and a warning for undecodable bytes. Blank lines
    are skipped."""
    bad_lines: list[int] = []
    for number, line in iter_lines(path, bad_lines):
        yield from decode_warnings(source_file, bad_lines)
        if not line.strip():
            continue
        location = f"line {number}"
        item = parse_json_line(line, source_file, location)
        if isinstance(item, Rejection):
            yield item
        elif not isinstance(item, dict):
            reason = f"malformed JSON line: expected an object, got {type(item).__name__}"
            yield Rejection(source_file, location, reason, "rejected", excerpt(line))
        else:
            yield location, item


_WRAPPERS = ("data", "papers", "records", "items", "entries", "results", "rows")


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


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')
_ARRAY_START = re.compile(r'^\s*\[|"(?:' + "|".join(_WRAPPERS) + r')"\s*:\s*\[')


def salvage_records(text: str) -> list[Any] | None:
    """The records of a JSON array (top level, or under a wrapper key such as `data`) that
    `json.loads` cannot take whole, each decoded on its own: a value, or the JsonError that
    rejects just that record. None when no array of records can be found.

    Elements are found by counting brackets outside strings, never by recursion, so a record
    nested thousands of levels deep, or a file cut off mid-record, costs only that record.
    """
    start = _ARRAY_START.search(text)
    if start is None:
        return None
    records: list[Any] = []
    depth, begin = 0, start.end()
    for match in _TOKEN.finditer(text, start.end()):
        token = match.group()
        if token in "[{":
            depth += 1
        elif token in "]}":
            if depth == 0:  # the array's own closing bracket
                _add_element(records, text[begin : match.start()])
                return records
            depth -= 1
        elif token == "," and depth == 0:
            _add_element(records, text[begin : match.start()])
            begin = match.end()
    _add_element(records, text[begin:], truncated=True)
    return records


def _add_element(records: list[Any], chunk: str, truncated: bool = False) -> None:
    if not chunk.strip():
        if truncated:
            records.append(JsonError("the file ends inside the array"))
        return
    try:
        records.append(load_json(chunk))
    except JsonError as exc:
        error = JsonError(f"{exc}{' (the file ends inside it)' if truncated else ''}")
        error.raw = excerpt(chunk)
        records.append(error)


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 4
_SHORT_REPR.maxstring = RAW_EXCERPT_CHARS
_SHORT_REPR.maxother = RAW_EXCERPT_CHARS


def excerpt(value: Any, limit: int = RAW_EXCERPT_CHARS) -> str:
    """A short one-line excerpt of an offending input, for `Rejection.raw`."""
    if value is None:
        return ""
    if not isinstance(value, str):
        if too_deep(value, 8):
            value = _SHORT_REPR.repr(value)
        else:
            try:
                value = json.dumps(value, ensure_ascii=False, default=str)
            except (TypeError, ValueError):
                value = _SHORT_REPR.repr(value)
    value = " ".join(value[: limit * 4].split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Bytes -> text, with a warning for invalid UTF-8


@dataclass(frozen=True)
class DecodeIssue:
    """Where invalid UTF-8 was first met (1-based line) and how many lines had it."""

    first_line: int
    n_lines: int

    def reason(self) -> str:
        where = f"line {self.first_line}"
        more = f" and {self.n_lines - 1} more line(s)" if self.n_lines > 1 else ""
        return f"invalid UTF-8 at {where}{more}; bad bytes replaced with U+FFFD"


def line_separator(head: bytes) -> bytes:
    """b"\\r" for a file whose lines end in a bare CR (old Mac exports), else b"\\n"."""
    return b"\r" if b"\r" in head and b"\n" not in head else b"\n"


def read_text(path: Path) -> tuple[str, DecodeIssue | None]:
    """The whole file as text (BOM dropped, any line ending turned into \\n); invalid UTF-8 is
    replaced and reported."""
    data = path.read_bytes()
    sep = line_separator(data[:SNIFF_BYTES])
    try:
        text = data.decode("utf-8")
        issue = None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        first = data.count(sep, 0, exc.start) + 1
        n_lines = sum(1 for line in data.split(sep) if not _valid_utf8(line))
        issue = DecodeIssue(first, max(n_lines, 1))
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return text, issue


def _valid_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _raw_lines(handle, sep: bytes) -> Iterator[bytes]:
    if sep == b"\n":
        yield from handle
        return
    pending: list[bytes] = []
    while chunk := handle.read(1 << 16):
        *complete, rest = chunk.split(sep)
        for piece in complete:
            pending.append(piece)
            yield b"".join(pending) + sep
            pending = []
        pending.append(rest)
    if any(pending):
        yield b"".join(pending)


def iter_lines(path: Path, issues: list[int]) -> Iterator[tuple[int, str]]:
    """Stream (line number, text) without loading the file; the numbers of lines with invalid
    UTF-8 are appended to `issues` (their bad bytes become U+FFFD). Lines end at \\n, or at a
    bare \\r in a file that has no \\n at all."""
    with open(path, "rb") as handle:
        sep = line_separator(handle.read(SNIFF_BYTES))
        handle.seek(0)
        for number, raw in enumerate(_raw_lines(handle, sep), start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = raw.decode("utf-8", errors="replace")
                issues.append(number)
            if number == 1:
                line = line.lstrip("\ufeff")
            yield number, line


def first_line(path: Path) -> str:
    """The file's first line (at most 64 KiB), whatever its line ending."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    return head.split(line_separator(head), 1)[0].decode("utf-8", errors="replace")


def decode_warnings(source_file: str, bad_lines: list[int]) -> Iterator[Rejection]:
    """One warning per line number in `bad_lines` (emptied as it goes), from `iter_lines`."""
    while bad_lines:
        number = bad_lines.pop(0)
        yield Rejection(
            source_file,
            f"line {number}",
            "invalid UTF-8; bad bytes replaced with U+FFFD",
            "warning",
            "",
        )
