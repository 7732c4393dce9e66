"""Finds input files (folders are walked recursively) and picks a reader for each from its
extension and a sniff of its first bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.ingest.arxiv import is_oai_record
from pipeline.ingest.rawtext import SNIFF_BYTES, JsonError, Unsupported, load_json
from pipeline.ingest.schema import FORMATS

__all__ = ["EXTENSIONS", "FORMATS", "Found", "Unsupported", "discover", "listing_sidecar", "sniff"]

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
# Share of control bytes (NUL included) above which a file is binary, not text with a few
# stray bytes: a NUL or two in a CSV costs only the rows they break. Past 8 such bytes 2% is
# enough; a tiny file needs 10%.
BINARY_SHARE, SMALL_FILE_BINARY_SHARE = 0.02, 0.10


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
    # Text has few control bytes other than tab, newline, carriage return and form feed.
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    share = controls / max(len(head), 1)
    return (controls > 8 and share > BINARY_SHARE) or share > SMALL_FILE_BINARY_SHARE


_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"


def _looks_like_header(cells: list[str]) -> bool:
    names = {c.strip().strip('"').strip().lower() for c in cells}
    return bool(names & {"title", "abstract", "summary"})


def _has_paragraphs(text: str) -> bool:
    return len(re.split(r"\n\s*\n", text.strip())) >= 2


def _object_or_none(line: str) -> dict | None:
    try:
        value = load_json(line)
    except JsonError:
        return None
    return value if isinstance(value, dict) else None


def _sniff_json(text: str, by_ext: str | None) -> str:
    # The first line that is a whole object decides. A broken or too-deep first line must not
    # turn JSON Lines into one unreadable JSON document: when it is a whole line (or the file
    # says .jsonl), the next object line decides instead.
    lines = [line for line in text.split("\n")[:20] if line.strip()]
    first = _object_or_none(lines[0])
    if first is None and (by_ext == "jsonl" or lines[0].rstrip().endswith("}")):
        rest = (line for line in lines[1:] if line.startswith("{"))
        first = next(filter(None, map(_object_or_none, rest)), None)
    if first is not None:
        if "paper" in first and isinstance(first["paper"], dict):
            return "hf-daily"
        if is_oai_record(first):
            return "arxiv-oai"
        # One object on a line: JSON Lines, unless the file is a single object.
        if by_ext == "jsonl" or (text.startswith("{") and len(lines) > 1):
            return "jsonl"
    elif by_ext == "jsonl":
        return "jsonl"
    if text.startswith("{"):
        # A single (possibly pretty-printed) object: a wrapper around a list of records.
        if re.search(r'"paper"\s*:\s*\{', text):
            return "hf-daily"
        return "json"
    if re.match(r'\[\s*\{\s*"paper"\s*:', text) or re.search(r'"paper"\s*:\s*\{', text[:20000]):
        return "hf-daily"
    if re.match(r"\[\s*\"\{'paper'", text):
        return "hf-daily"  # entries stored as Python-repr strings
    return "json"
