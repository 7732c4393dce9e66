"""Finds input files (folders are walked recursively) and picks a reader for each from its
extension and a sniff of its first bytes. Also the shared byte-to-text helpers that turn invalid
UTF-8 into replacement characters plus a warning."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FORMATS = (
    "listing",
    "csv",
    "tsv",
    "json",
    "jsonl",
    "parquet",
    "arxiv-atom",
    "arxiv-oai",
    "bibtex",
    "hf-daily",
)

# Extension -> the format it suggests. Content sniffing refines it (e.g. a .json file may be a
# table or a Hugging Face daily-papers dump, a .jsonl file a table or the arXiv OAI snapshot).
EXTENSIONS = {
    ".txt": "listing",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xml": "arxiv-atom",
    ".atom": "arxiv-atom",
    ".bib": "bibtex",
    ".bibtex": "bibtex",
}

SIDECAR_SUFFIX = ".meta.csv"
SNIFF_BYTES = 64 * 1024


class Unsupported(Exception):
    """A whole file that no reader can take: empty, binary, or in no supported format."""


@dataclass(frozen=True)
class Found:
    """One input file, with the name used for it in reports."""

    path: Path
    # True when it came from walking a folder: an unknown extension there is skipped, not read.
    from_folder: bool


def listing_sidecar(listing: Path) -> Path:
    """The metadata sidecar a listing dump may have: `<stem>.meta.csv` beside it."""
    return listing.with_name(listing.stem + SIDECAR_SUFFIX)


def discover(inputs: list[Path], forced: bool) -> tuple[list[Found], list[Path]]:
    """Files to read (in a stable order, each once) and the inputs that do not exist.

    Folders are walked recursively, hidden entries skipped. Sidecar files (`X.meta.csv` beside a
    listing `X.txt`) are not inputs of their own: the listing reader joins them.
    """
    found: list[Found] = []
    missing: list[Path] = []
    seen: set[Path] = set()
    for item in inputs:
        if item.is_dir():
            for path in sorted(item.rglob("*")):
                rel = path.relative_to(item)
                if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                    continue
                _add(found, seen, Found(path, True))
        elif item.is_file():
            _add(found, seen, Found(item, False))
        else:
            missing.append(item)
    listings = {f.path.resolve() for f in found if f.path.suffix.lower() == ".txt"}
    kept = [
        f
        for f in found
        if not (
            f.path.name.lower().endswith(SIDECAR_SUFFIX)
            and f.path.with_name(f.path.name[: -len(SIDECAR_SUFFIX)] + ".txt").resolve() in listings
        )
    ]
    return kept, missing


def _add(found: list[Found], seen: set[Path], item: Found) -> None:
    key = item.path.resolve()
    if key not in seen:
        seen.add(key)
        found.append(item)


def sniff(path: Path, forced: str = "auto") -> str:
    """The reader format for one file; raises Unsupported with the reason."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise Unsupported("empty file")
    if head.startswith(b"PAR1"):
        if forced not in ("auto", "parquet"):
            raise Unsupported(f"file is Parquet, not {forced}")
        return "parquet"
    if _is_binary(head):
        raise Unsupported("binary file (not text, not Parquet)")
    if forced != "auto":
        return forced
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = text.lstrip()
    suffix = path.suffix.lower()
    by_ext = EXTENSIONS.get(suffix)
    if stripped.startswith("<"):
        is_feed = re.search(r"<feed[\s>]", stripped) and "<entry" in stripped
        if is_feed or "w3.org/2005/Atom" in stripped:
            return "arxiv-atom"
        raise Unsupported("XML that is not an Atom feed")
    if stripped.startswith("[") or stripped.startswith("{"):
        return _sniff_json(stripped, by_ext)
    if re.search(r"(?m)^\s*@[A-Za-z]+\s*[{(]", text) and (
        by_ext == "bibtex" or stripped.startswith("@") or stripped.startswith("%")
    ):
        return "bibtex"
    if by_ext in ("csv", "tsv"):
        return by_ext
    if by_ext in ("json", "jsonl", "parquet", "arxiv-atom", "bibtex"):
        raise Unsupported(f"extension {suffix} but the content is not {by_ext}")
    first = stripped.splitlines()[0] if stripped else ""
    if "\t" in first and first.count("\t") >= 1 and _looks_like_header(first.split("\t")):
        return "tsv"
    if _looks_like_header(re.split(r"[,;]", first)):
        return "csv"
    if by_ext == "listing" or _has_paragraphs(text):
        return "listing"
    raise Unsupported(f"no supported format recognised (extension {suffix or 'none'})")


def _is_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    # Text files have few control characters other than tab, newline, carriage return, form feed.
    controls = sum(1 for b in head[:4096] if b < 32 and b not in (9, 10, 12, 13))
    return controls > max(8, len(head[:4096]) // 50)


def _looks_like_header(cells: list[str]) -> bool:
    names = {c.strip().strip('"').strip().lower() for c in cells}
    return bool(names & {"title", "abstract", "summary"})


def _has_paragraphs(text: str) -> bool:
    return len(re.split(r"\n\s*\n", text.strip())) >= 2


def _sniff_json(text: str, by_ext: str | None) -> str:
    if text.startswith("{"):
        first_line = text.split("\n", 1)[0]
        try:
            first = json.loads(first_line)
        except json.JSONDecodeError:
            first = None
        if isinstance(first, dict):
            if "paper" in first and isinstance(first["paper"], dict):
                return "hf-daily"
            if _is_oai(first):
                return "arxiv-oai"
            # One object on the first line: JSON Lines, unless the file is a single object.
            rest = text.split("\n", 1)[1].strip() if "\n" in text else ""
            if rest or by_ext == "jsonl":
                return "jsonl"
        # A single (possibly pretty-printed) object: a wrapper around a list of records.
        if re.search(r'"paper"\s*:\s*\{', text):
            return "hf-daily"
        return "json"
    if re.match(r'\[\s*\{\s*"paper"\s*:', text) or re.search(r'"paper"\s*:\s*\{', text[:20000]):
        return "hf-daily"
    if re.match(r"\[\s*\"\{'paper'", text):
        return "hf-daily"  # entries stored as Python-repr strings
    return "json"


def _is_oai(record: dict) -> bool:
    return "abstract" in record and (
        "versions" in record or "authors_parsed" in record or "update_date" in record
    )


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


def read_text(path: Path) -> tuple[str, DecodeIssue | None]:
    """The whole file as text (BOM dropped); invalid UTF-8 is replaced and reported."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
        issue = None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        first = data.count(b"\n", 0, exc.start) + 1
        n_lines = sum(1 for line in data.split(b"\n") if not _valid_utf8(line))
        issue = DecodeIssue(first, max(n_lines, 1))
    return text.lstrip("\ufeff"), issue


def _valid_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def iter_lines(path: Path, issues: list[int]) -> Iterator[tuple[int, str]]:
    """Stream (line number, text) without loading the file; the numbers of lines with invalid
    UTF-8 are appended to `issues` (their bad bytes become U+FFFD)."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = raw.decode("utf-8", errors="replace")
                issues.append(number)
            if number == 1:
                line = line.lstrip("\ufeff")
            yield number, line
